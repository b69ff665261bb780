//! Fake push providers for the tests: one local HTTP server (HTTP/1.1 and
//! HTTP/2 cleartext) that plays the Web Push service, FCM (OAuth token
//! endpoint and `messages:send`) and APNs, and *verifies* what it gets:
//! VAPID and provider JWT signatures and claims, the headers each protocol
//! requires, and — for Web Push — decrypts the payload with the
//! subscription's private key. Anything wrong is recorded in `errors`
//! (tests assert it stays empty) and answered with 400.

use aes_gcm::aead::{Aead, KeyInit};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A push the fake accepted.
#[derive(Debug, Clone)]
pub struct Push {
    /// `webpush`, `fcm` or `apns`: the endpoint that took it.
    pub provider: &'static str,
    /// Web Push subscription id, or the FCM/APNs device token.
    pub device: String,
    /// Web Push: the decrypted payload. FCM: the `message` object. APNs: the body.
    pub payload: Value,
    pub headers: HashMap<String, String>,
}

pub const FCM_EMAIL: &str = "confab-push@confab-test.iam.gserviceaccount.com";
pub const APNS_KEY_ID: &str = "KEYID12345";
pub const APNS_TEAM: &str = "TEAM123456";
pub const APNS_TOPIC: &str = "chat.confab.test";

/// A scripted answer: status and `Retry-After` seconds.
type Answer = (u16, Option<u64>);

#[derive(Default)]
pub struct FakeState {
    addr: Mutex<Option<SocketAddr>>,
    pub pushes: Mutex<Vec<Push>>,
    pub errors: Mutex<Vec<String>>,
    /// Every request to a device (accepted, scripted failure or not), with its time.
    pub attempts: Mutex<Vec<(String, Instant)>>,
    /// Answers to give a device before the normal success: (status, Retry-After).
    script: Mutex<HashMap<String, VecDeque<Answer>>>,
    /// Devices that are gone for good.
    dead: Mutex<Vec<String>>,
    webpush_keys: Mutex<HashMap<String, (p256::SecretKey, Vec<u8>)>>,
    pub fcm_grants: Mutex<Vec<String>>,
    fcm_public: Mutex<Option<rsa::RsaPublicKey>>,
    apns_public: Mutex<Option<p256::ecdsa::VerifyingKey>>,
}

pub struct Fake {
    pub addr: SocketAddr,
    pub state: Arc<FakeState>,
}

impl Fake {
    pub async fn start() -> Fake {
        let state = Arc::new(FakeState::default());
        let app = axum::Router::new()
            .route("/wp/{id}", post(webpush))
            .route("/token", post(fcm_token))
            .route("/v1/projects/{project}/messages:send", post(fcm_send))
            .route("/3/device/{token}", post(apns))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake");
        let addr = listener.local_addr().expect("addr");
        *state.addr.lock().unwrap() = Some(addr);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fake { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A new browser subscription (a fresh P-256 key pair and auth secret),
    /// as the JSON body Confab's `POST /api/push/subscriptions` takes.
    pub fn webpush_subscription(&self, id: &str) -> Value {
        let secret = loop {
            if let Ok(k) = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
                break k;
            }
        };
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let public = secret.public_key().to_encoded_point(false).as_bytes().to_vec();
        let auth: [u8; 16] = rand::random();
        self.state.webpush_keys.lock().unwrap().insert(id.into(), (secret, auth.to_vec()));
        json!({
            "type": "webpush",
            "endpoint": self.url(&format!("/wp/{id}")),
            "keys": { "p256dh": URL_SAFE_NO_PAD.encode(public), "auth": URL_SAFE_NO_PAD.encode(auth) },
        })
    }

    pub fn expect_fcm_key(&self, key: rsa::RsaPublicKey) {
        *self.state.fcm_public.lock().unwrap() = Some(key);
    }

    pub fn expect_apns_key(&self, key: p256::ecdsa::VerifyingKey) {
        *self.state.apns_public.lock().unwrap() = Some(key);
    }

    pub fn script(&self, device: &str, answers: &[(u16, Option<u64>)]) {
        self.state.script.lock().unwrap().insert(device.into(), answers.iter().copied().collect());
    }

    pub fn kill(&self, device: &str) {
        self.state.dead.lock().unwrap().push(device.into());
    }

    pub fn pushes(&self) -> Vec<Push> {
        self.state.pushes.lock().unwrap().clone()
    }

    pub fn pushes_to(&self, device: &str) -> Vec<Push> {
        self.pushes().into_iter().filter(|p| p.device == device).collect()
    }

    pub fn attempts_to(&self, device: &str) -> Vec<Instant> {
        self.state.attempts.lock().unwrap().iter().filter(|(d, _)| d == device).map(|(_, t)| *t).collect()
    }

    pub fn errors(&self) -> Vec<String> {
        self.state.errors.lock().unwrap().clone()
    }

    /// Waits until `device` got `n` pushes (or `within` passes); returns them.
    pub async fn wait_for(&self, device: &str, n: usize, within: Duration) -> Vec<Push> {
        let start = Instant::now();
        loop {
            let got = self.pushes_to(device);
            if got.len() >= n || start.elapsed() > within {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until `device` got `n` requests of any outcome.
    pub async fn wait_attempts(&self, device: &str, n: usize, within: Duration) -> Vec<Instant> {
        let start = Instant::now();
        loop {
            let got = self.attempts_to(device);
            if got.len() >= n || start.elapsed() > within {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl FakeState {
    fn fail(&self, what: String) -> Response {
        self.errors.lock().unwrap().push(what.clone());
        (StatusCode::BAD_REQUEST, what).into_response()
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr.lock().unwrap().expect("addr"))
    }

    /// Records the attempt; a scripted or dead answer if there is one.
    fn scripted(&self, device: &str) -> Option<(u16, Option<u64>)> {
        self.attempts.lock().unwrap().push((device.to_string(), Instant::now()));
        if self.dead.lock().unwrap().iter().any(|d| d == device) {
            return Some((410, None));
        }
        self.script.lock().unwrap().get_mut(device).and_then(VecDeque::pop_front)
    }

    fn accept(&self, provider: &'static str, device: &str, payload: Value, headers: &HeaderMap) {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        self.pushes.lock().unwrap().push(Push { provider, device: device.to_string(), payload, headers });
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn scripted_response(status: u16, retry_after: Option<u64>, body: Value) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body))
        .into_response();
    if let Some(s) = retry_after {
        r.headers_mut().insert("retry-after", s.to_string().parse().unwrap());
    }
    r
}

/// Splits and checks a compact JWT; returns (header, claims, signing input, signature).
fn parse_jwt(token: &str) -> Result<(Value, Value, String, Vec<u8>), String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!("not a compact JWT: {token}"));
    }
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|e| format!("JWT part not base64url: {e}"));
    let header: Value = serde_json::from_slice(&decode(parts[0])?).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&decode(parts[1])?).map_err(|e| e.to_string())?;
    Ok((header, claims, format!("{}.{}", parts[0], parts[1]), decode(parts[2])?))
}

fn verify_es256(key: &p256::ecdsa::VerifyingKey, input: &str, sig: &[u8]) -> Result<(), String> {
    let sig = p256::ecdsa::Signature::from_slice(sig).map_err(|_| "ES256 signature is not 64 bytes r||s")?;
    key.verify(input.as_bytes(), &sig).map_err(|_| "ES256 signature does not verify".to_string())
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// RFC 8291 decryption, the user agent's side, written independently of
/// Confab's encryptor.
fn decrypt(body: &[u8], ua_secret: &p256::SecretKey, auth: &[u8]) -> Result<Vec<u8>, String> {
    use hkdf::Hkdf;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use sha2::Sha256;
    if body.len() < 21 {
        return Err("body shorter than the aes128gcm header".into());
    }
    let salt = &body[..16];
    let rs = u32::from_be_bytes([body[16], body[17], body[18], body[19]]);
    let idlen = body[20] as usize;
    if idlen != 65 || body.len() < 21 + idlen + 17 {
        return Err(format!("keyid must be the 65-byte sender key, got {idlen}"));
    }
    let as_public_bytes = &body[21..21 + idlen];
    let ciphertext = &body[21 + idlen..];
    if ciphertext.len() > rs as usize {
        return Err("more than one record".into());
    }
    let as_public = p256::PublicKey::from_sec1_bytes(as_public_bytes).map_err(|_| "bad sender key")?;
    let ua_public = ua_secret.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(ua_secret.to_nonzero_scalar(), as_public.as_affine());
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(ua_public.as_bytes());
    info.extend_from_slice(as_public_bytes);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&info, &mut ikm)
        .map_err(|e| e.to_string())?;
    let hk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    hk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).map_err(|e| e.to_string())?;
    hk.expand(b"Content-Encoding: nonce\0", &mut nonce).map_err(|e| e.to_string())?;
    let cipher = aes_gcm::Aes128Gcm::new_from_slice(&cek).map_err(|e| e.to_string())?;
    let mut plain = cipher
        .decrypt(&aes_gcm::Nonce::from(nonce), ciphertext)
        .map_err(|_| "AES-GCM authentication failed".to_string())?;
    // Strip padding, then the last-record delimiter 0x02.
    while plain.last() == Some(&0) {
        plain.pop();
    }
    if plain.pop() != Some(2) {
        return Err("missing the last-record delimiter".into());
    }
    Ok(plain)
}

async fn webpush(
    State(s): State<Arc<FakeState>>,
    Path(id): Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some((status, after)) = s.scripted(&id) {
        return scripted_response(status, after, json!({}));
    }
    if header(&h, "content-encoding") != "aes128gcm" {
        return s.fail(format!("webpush: Content-Encoding is {:?}", header(&h, "content-encoding")));
    }
    if header(&h, "ttl").parse::<u64>().is_err() {
        return s.fail("webpush: TTL header missing or not a number".into());
    }
    if !["very-low", "low", "normal", "high"].contains(&header(&h, "urgency")) {
        return s.fail("webpush: bad Urgency header".into());
    }
    // Authorization: vapid t=<jwt>, k=<public key>
    let auth = header(&h, "authorization");
    let Some(rest) = auth.strip_prefix("vapid ") else {
        return s.fail(format!("webpush: Authorization is not vapid: {auth}"));
    };
    let fields: HashMap<&str, &str> = rest.split(',').filter_map(|kv| kv.trim().split_once('=')).collect();
    let (Some(t), Some(k)) = (fields.get("t"), fields.get("k")) else {
        return s.fail("webpush: vapid needs t= and k=".into());
    };
    let Ok(key) = URL_SAFE_NO_PAD
        .decode(k)
        .map_err(|_| ())
        .and_then(|k| p256::ecdsa::VerifyingKey::from_sec1_bytes(&k).map_err(|_| ()))
    else {
        return s.fail("webpush: k is not a P-256 public key".into());
    };
    let checked = parse_jwt(t).and_then(|(header, claims, input, sig)| {
        verify_es256(&key, &input, &sig)?;
        if header["alg"] != "ES256" {
            return Err("VAPID alg is not ES256".into());
        }
        if claims["aud"] != s.origin() {
            return Err(format!("VAPID aud {} is not the push service origin", claims["aud"]));
        }
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if exp <= now_secs() || exp > now_secs() + 24 * 3600 {
            return Err("VAPID exp must be in the next 24 hours".into());
        }
        let sub = claims["sub"].as_str().unwrap_or("");
        if !(sub.starts_with("mailto:") || sub.starts_with("https://")) {
            return Err("VAPID sub must be mailto: or https:".into());
        }
        Ok(())
    });
    if let Err(e) = checked {
        return s.fail(format!("webpush: {e}"));
    }
    let keys = s.webpush_keys.lock().unwrap().get(&id).cloned();
    let Some((secret, auth_secret)) = keys else {
        return s.fail(format!("webpush: unknown subscription {id}"));
    };
    let payload = match decrypt(&body, &secret, &auth_secret) {
        Ok(p) => p,
        Err(e) => return s.fail(format!("webpush: cannot decrypt: {e}")),
    };
    let Ok(payload) = serde_json::from_slice::<Value>(&payload) else {
        return s.fail("webpush: payload is not JSON".into());
    };
    s.accept("webpush", &id, payload, &h);
    StatusCode::CREATED.into_response()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn fcm_token(State(s): State<Arc<FakeState>>, h: HeaderMap, body: Bytes) -> Response {
    if !header(&h, "content-type").starts_with("application/x-www-form-urlencoded") {
        return s.fail("fcm token: not a form post".into());
    }
    let form: HashMap<String, String> = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    if form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return s.fail(format!("fcm token: grant_type {:?}", form.get("grant_type")));
    }
    let Some(key) = s.fcm_public.lock().unwrap().clone() else {
        return s.fail("fcm token: no service account key expected".into());
    };
    let checked = parse_jwt(form.get("assertion").map(String::as_str).unwrap_or("")).and_then(
        |(header, claims, input, sig)| {
            use rsa::signature::Verifier as _;
            let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key);
            let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).map_err(|e| e.to_string())?;
            verifier.verify(input.as_bytes(), &sig).map_err(|_| "RS256 signature does not verify")?;
            if header["alg"] != "RS256" {
                return Err("alg is not RS256".into());
            }
            if claims["iss"] != FCM_EMAIL {
                return Err(format!("iss {}", claims["iss"]));
            }
            if claims["aud"] != format!("{}/token", s.origin()) {
                return Err(format!("aud {}", claims["aud"]));
            }
            if claims["scope"] != "https://www.googleapis.com/auth/firebase.messaging" {
                return Err(format!("scope {}", claims["scope"]));
            }
            let (iat, exp) = (claims["iat"].as_i64().unwrap_or(0), claims["exp"].as_i64().unwrap_or(0));
            if (iat - now_secs()).abs() > 60 || exp - iat > 3600 || exp <= iat {
                return Err("iat/exp out of range".into());
            }
            Ok(())
        },
    );
    if let Err(e) = checked {
        return s.fail(format!("fcm token: {e}"));
    }
    let token = format!("ya29.fake-{}", rand::random::<u32>());
    s.fcm_grants.lock().unwrap().push(token.clone());
    axum::Json(json!({ "access_token": token, "expires_in": 3599, "token_type": "Bearer" })).into_response()
}

async fn fcm_send(
    State(s): State<Arc<FakeState>>,
    Path(project): Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = header(&h, "authorization").strip_prefix("Bearer ").unwrap_or("").to_string();
    if !s.fcm_grants.lock().unwrap().contains(&bearer) {
        return s.fail("fcm send: access token was not issued by the token endpoint".into());
    }
    if project != "confab-test" {
        return s.fail(format!("fcm send: project {project}"));
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return s.fail("fcm send: body is not JSON".into());
    };
    let m = &body["message"];
    let token = m["token"].as_str().unwrap_or("").to_string();
    if let Some((status, after)) = s.scripted(&token) {
        let reason = if status == 404 || status == 410 { "UNREGISTERED" } else { "UNAVAILABLE" };
        let body = json!({"error": {"code": status, "status": if status == 404 || status == 410 { "NOT_FOUND" } else { "UNAVAILABLE" },
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": reason}]}});
        return scripted_response(if status == 410 { 404 } else { status }, after, body);
    }
    let data_ok = m["data"].as_object().is_some_and(|d| d.values().all(Value::is_string))
        && m["data"]["conversationId"].is_string()
        && m["data"]["messageId"].is_string();
    if token.is_empty()
        || !m["notification"]["title"].is_string()
        || !m["notification"]["body"].is_string()
        || !data_ok
        || !m["android"]["collapse_key"].is_string()
        || !m["apns"]["headers"]["apns-collapse-id"].is_string()
    {
        return s.fail(format!("fcm send: message does not have the expected shape: {m}"));
    }
    s.accept("fcm", &token, m.clone(), &h);
    axum::Json(json!({ "name": format!("projects/{project}/messages/{}", rand::random::<u32>()) }))
        .into_response()
}

async fn apns(
    State(s): State<Arc<FakeState>>,
    Path(token): Path<String>,
    version: Version,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if version != Version::HTTP_2 {
        return s.fail(format!("apns: request over {version:?}, APNs only speaks HTTP/2"));
    }
    let Some(key) = *s.apns_public.lock().unwrap() else {
        return s.fail("apns: no key expected".into());
    };
    let bearer = header(&h, "authorization").strip_prefix("bearer ").unwrap_or("");
    let checked = parse_jwt(bearer).and_then(|(header, claims, input, sig)| {
        verify_es256(&key, &input, &sig)?;
        if header["alg"] != "ES256" || header["kid"] != APNS_KEY_ID {
            return Err(format!("header {header}"));
        }
        if claims["iss"] != APNS_TEAM || (claims["iat"].as_i64().unwrap_or(0) - now_secs()).abs() > 3600 {
            return Err(format!("claims {claims}"));
        }
        Ok(())
    });
    if let Err(e) = checked {
        return s.fail(format!("apns: provider token: {e}"));
    }
    let expected = [("apns-topic", APNS_TOPIC), ("apns-push-type", "alert"), ("apns-priority", "10")];
    for (name, value) in expected {
        if header(&h, name) != value {
            return s.fail(format!("apns: {name} is {:?}", header(&h, name)));
        }
    }
    if header(&h, "apns-collapse-id").is_empty() || header(&h, "apns-collapse-id").len() > 64 {
        return s.fail("apns: apns-collapse-id missing or longer than 64 bytes".into());
    }
    if let Some((status, after)) = s.scripted(&token) {
        let reason = match status {
            410 => "Unregistered",
            400 => "BadDeviceToken",
            429 => "TooManyRequests",
            _ => "InternalServerError",
        };
        return scripted_response(status, after, json!({ "reason": reason }));
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return s.fail("apns: body is not JSON".into());
    };
    if !body["aps"]["alert"]["title"].is_string() || !body["aps"]["badge"].is_i64() {
        return s.fail(format!("apns: payload {body}"));
    }
    s.accept("apns", &token, body, &h);
    let mut r = StatusCode::OK.into_response();
    r.headers_mut().insert("apns-id", "00000000-0000-0000-0000-000000000001".parse().unwrap());
    r
}

/// Give up waiting after this long in negative checks ("no push arrives").
pub const QUIET: Duration = Duration::from_millis(1500);
