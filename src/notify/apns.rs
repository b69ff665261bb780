//! Apple Push Notification service: token-based auth (an ES256 provider
//! JWT from a `.p8` key, renewed well within Apple's one-hour limit) over
//! HTTP/2, one request per device token.
//!
//! Owns: the APNs client and its provider token. May not touch: the outbox —
//! the worker decides what an outcome means.

use super::jwt::{ApnsClaims, JwtHeader};
use super::payloads::ApnsPayload;
use super::{Notification, Outcome, SetupError, classify_status};
use crate::domain::Subscription;
use p256::pkcs8::DecodePrivateKey;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Apple rejects provider tokens older than an hour and throttles renewing
/// more often than every 20 minutes.
const TOKEN_LIFETIME: Duration = Duration::from_secs(40 * 60);

pub struct Apns {
    client: reqwest::Client,
    key: p256::ecdsa::SigningKey,
    key_id: String,
    team_id: String,
    topic: String,
    production_url: String,
    sandbox_url: String,
    ttl: Duration,
    token: Mutex<Option<(String, Instant)>>,
}

/// What [`Apns::new`] needs besides the key file.
pub struct ApnsSettings<'a> {
    pub key_id: &'a str,
    pub team_id: &'a str,
    pub topic: &'a str,
    pub production_url: &'a str,
    pub sandbox_url: &'a str,
    pub ttl: Duration,
}

impl Apns {
    /// `client` must speak HTTP/2 (APNs has no HTTP/1.1).
    pub fn new(client: reqwest::Client, key_file: &Path, s: ApnsSettings<'_>) -> Result<Self, SetupError> {
        let pem = std::fs::read_to_string(key_file).map_err(|e| SetupError::file(key_file, e))?;
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
            SetupError::Invalid(format!("{} is not an APNs .p8 (PKCS#8 P-256) key", key_file.display()))
        })?;
        if s.key_id.is_empty() || s.team_id.is_empty() || s.topic.is_empty() {
            return Err(SetupError::Invalid("push.apns needs key_id, team_id and topic".into()));
        }
        Ok(Self {
            client,
            key,
            key_id: s.key_id.into(),
            team_id: s.team_id.into(),
            topic: s.topic.into(),
            production_url: s.production_url.trim_end_matches('/').into(),
            sandbox_url: s.sandbox_url.trim_end_matches('/').into(),
            ttl: s.ttl,
            token: Mutex::new(None),
        })
    }

    async fn provider_token(&self) -> String {
        let mut cached = self.token.lock().await;
        if let Some((token, at)) = cached.as_ref() {
            if at.elapsed() < TOKEN_LIFETIME {
                return token.clone();
            }
        }
        let header = JwtHeader { alg: "ES256", typ: None, kid: Some(&self.key_id) };
        let claims = ApnsClaims { iss: &self.team_id, iat: super::jwt::now_secs() };
        let token = super::jwt::es256(&self.key, &header, &claims);
        *cached = Some((token.clone(), Instant::now()));
        token
    }

    pub async fn send(&self, sub: &Subscription, note: &Notification) -> Outcome {
        let base = match sub.environment.as_deref() {
            Some("sandbox") => &self.sandbox_url,
            _ => &self.production_url,
        };
        let url = format!("{base}/3/device/{}", sub.address);
        let expiration = super::jwt::now_secs() + self.ttl.as_secs() as i64;
        let response = self
            .client
            .post(url)
            .header("authorization", format!("bearer {}", self.provider_token().await))
            .header("apns-topic", &self.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-collapse-id", note.collapse_key.as_str())
            .header("apns-expiration", expiration.to_string())
            .json(&ApnsPayload::new(note))
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return Outcome::Retry { after: None, reason: format!("APNs request failed: {e}") },
        };
        let status = response.status().as_u16();
        if status == 200 {
            return Outcome::Sent;
        }
        let fallback = classify_status(&response);
        let reason = response.json::<Value>().await.ok().and_then(|v| v["reason"].as_str().map(String::from));
        let reason = reason.unwrap_or_default();
        match (status, reason.as_str()) {
            (410, _) | (400, "BadDeviceToken" | "DeviceTokenNotForTopic") | (_, "Unregistered") => {
                Outcome::Gone(format!("APNs: {status} {reason}"))
            }
            (403, "ExpiredProviderToken" | "InvalidProviderToken") => {
                *self.token.lock().await = None;
                Outcome::Retry { after: None, reason: format!("APNs: {reason}") }
            }
            _ => match fallback {
                Outcome::Failed(_) => Outcome::Failed(format!("APNs: {status} {reason}")),
                other => other,
            },
        }
    }
}
