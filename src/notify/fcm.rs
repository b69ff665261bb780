//! Firebase Cloud Messaging, HTTP v1: a service account's key signs a JWT
//! that is exchanged for an OAuth2 access token (cached until shortly
//! before it expires), which authorizes `projects/{id}/messages:send`.
//!
//! Owns: the FCM client and its OAuth token. May not touch: the outbox — the
//! worker decides what an outcome means.

use super::fcm_payload::FcmRequest;
use super::jwt::{GrantClaims, JwtHeader};
use super::{Notification, Outcome, SetupError, classify_status};
use crate::domain::Subscription;
use rsa::pkcs8::DecodePrivateKey;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// The fields of a Google service-account JSON file that FCM needs.
#[derive(Deserialize)]
struct ServiceAccount {
    project_id: String,
    client_email: String,
    private_key: String,
    token_uri: String,
}

pub struct Fcm {
    client: reqwest::Client,
    project_id: String,
    client_email: String,
    key: rsa::pkcs1v15::SigningKey<sha2::Sha256>,
    token_url: String,
    /// `https://fcm.googleapis.com` unless pointed elsewhere (tests).
    endpoint: String,
    ttl: Duration,
    token: Mutex<Option<(String, Instant)>>,
}

impl Fcm {
    /// Reads the service-account file. `token_url` overrides its `token_uri`.
    pub fn new(
        client: reqwest::Client,
        account_file: &Path,
        endpoint: &str,
        token_url: Option<&str>,
        ttl: Duration,
    ) -> Result<Self, SetupError> {
        let text = std::fs::read_to_string(account_file).map_err(|e| SetupError::file(account_file, e))?;
        let account: ServiceAccount = serde_json::from_str(&text).map_err(|e| {
            SetupError::Invalid(format!("{} is not a service-account JSON file: {e}", account_file.display()))
        })?;
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&account.private_key).map_err(|_| {
            SetupError::Invalid(format!("{}: private_key is not a PKCS#8 RSA key", account_file.display()))
        })?;
        Ok(Self {
            client,
            project_id: account.project_id,
            client_email: account.client_email,
            key: rsa::pkcs1v15::SigningKey::new(key),
            token_url: token_url.map_or(account.token_uri, str::to_string),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            ttl,
            token: Mutex::new(None),
        })
    }

    /// A valid access token, from the cache or a new JWT-bearer grant.
    async fn access_token(&self) -> Result<String, Outcome> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let now = super::jwt::now_secs();
        let claims = GrantClaims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_url,
            iat: now,
            exp: now + 3600,
        };
        let header = JwtHeader { alg: "RS256", typ: Some("JWT"), kid: None };
        let assertion = super::jwt::rs256(&self.key, &header, &claims);
        let form = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &assertion)];
        let response =
            self.client.post(&self.token_url).form(&form).send().await.map_err(|e| Outcome::Retry {
                after: None,
                reason: format!("FCM token request failed: {e}"),
            })?;
        if !response.status().is_success() {
            return Err(classify_status(&response));
        }
        #[derive(Deserialize)]
        struct Grant {
            access_token: String,
            expires_in: u64,
        }
        let grant: Grant = response
            .json()
            .await
            .map_err(|e| Outcome::Retry { after: None, reason: format!("bad FCM token answer: {e}") })?;
        // Renew a minute early so a token never expires in flight.
        let until = Instant::now() + Duration::from_secs(grant.expires_in.saturating_sub(60));
        *cached = Some((grant.access_token.clone(), until));
        Ok(grant.access_token)
    }

    pub async fn send(&self, sub: &Subscription, note: &Notification) -> Outcome {
        let token = match self.access_token().await {
            Ok(t) => t,
            Err(outcome) => return outcome,
        };
        let url = format!("{}/v1/projects/{}/messages:send", self.endpoint, self.project_id);
        let body = FcmRequest::new(&sub.address, note, self.ttl);
        let response = match self.client.post(url).bearer_auth(token).json(&body).send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Retry { after: None, reason: format!("FCM request failed: {e}") },
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Outcome::Sent;
        }
        if status == 401 {
            // The cached token was refused: get a new one on the retry.
            *self.token.lock().await = None;
            return Outcome::Retry { after: None, reason: "FCM refused the access token".into() };
        }
        let fallback = classify_status(&response);
        let error: Value = response.json().await.unwrap_or(Value::Null);
        if dead_token(&error) {
            return Outcome::Gone(format!(
                "FCM: {}",
                error["error"]["status"].as_str().unwrap_or("dead token")
            ));
        }
        fallback
    }
}

/// FCM says the registration token will never work again.
fn dead_token(error: &Value) -> bool {
    let e = &error["error"];
    let codes = e["details"].as_array().into_iter().flatten().filter_map(|d| d["errorCode"].as_str());
    let unregistered = codes.clone().any(|c| c == "UNREGISTERED");
    let about_token = e["details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["fieldViolations"].as_array().into_iter().flatten())
        .any(|v| v["field"].as_str() == Some("message.token"))
        || e["message"].as_str().is_some_and(|m| m.to_ascii_lowercase().contains("registration token"));
    unregistered || (e["status"].as_str() == Some("INVALID_ARGUMENT") && about_token)
}

#[cfg(test)]
mod tests {
    use super::dead_token;
    use serde_json::json;

    #[test]
    fn dead_tokens() {
        let unregistered = json!({"error": {"code": 404, "status": "NOT_FOUND", "details": [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}});
        assert!(dead_token(&unregistered));
        let bad_token = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "The registration token is not a valid FCM registration token"}});
        assert!(dead_token(&bad_token));
        let bad_payload = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "Invalid value at 'message.data'"}});
        assert!(!dead_token(&bad_payload));
        assert!(!dead_token(&json!({"error": {"code": 503, "status": "UNAVAILABLE"}})));
    }
}
