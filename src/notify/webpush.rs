//! Web Push: payload encryption (`aes128gcm`, RFC 8291 over RFC 8188) and
//! VAPID (RFC 8292), sent to the browser's push service.
//!
//! Owns: the VAPID key, encryption and the Web Push client. May not touch:
//! the outbox — the worker decides what an outcome means.

use super::jwt::{JwtHeader, VapidClaims};
use super::{Notification, Outcome, SetupError, classify_status};
use crate::domain::Subscription;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use p256::{PublicKey, SecretKey};
use sha2::Sha256;
use std::path::Path;
use std::time::Duration;

/// The record size written in the header; one record holds any push payload.
const RECORD_SIZE: u32 = 4096;
/// Push services accept at least 4096 bytes of encrypted body.
pub const MAX_PLAINTEXT: usize = 3993;

/// Why a payload could not be encrypted for a subscription.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("p256dh is not an uncompressed P-256 public key")]
    /// The browser's public key is not a P-256 point.
    BadPublicKey,
    #[error("auth must be 16 bytes")]
    /// The auth secret is not 16 bytes.
    BadAuth,
    #[error("payload too large for one record")]
    /// The payload does not fit one record.
    TooLarge,
    #[error("encryption failed")]
    /// Encryption failed.
    Cipher,
}

/// Encrypts `plaintext` for a browser (RFC 8291 §3–4): an ECDH secret between
/// the ephemeral application-server key `as_secret` and the browser's key,
/// mixed with the browser's auth secret, keys one AES-128-GCM record. The
/// result is the whole request body: `salt ‖ rs ‖ idlen ‖ as_public ‖ record`.
pub fn encrypt(
    plaintext: &[u8],
    ua_public: &[u8],
    auth: &[u8],
    as_secret: &SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, CryptoError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(CryptoError::TooLarge);
    }
    if auth.len() != 16 {
        return Err(CryptoError::BadAuth);
    }
    let ua_key = PublicKey::from_sec1_bytes(ua_public).map_err(|_| CryptoError::BadPublicKey)?;
    if ua_public.len() != 65 {
        return Err(CryptoError::BadPublicKey);
    }
    let as_public = uncompressed(&as_secret.public_key());
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_key.as_affine());

    // IKM = HKDF(auth, ecdh_secret, "WebPush: info" ‖ 0 ‖ ua_public ‖ as_public, 32)
    let mut key_info = Vec::with_capacity(14 + 65 + 65);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(&as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| CryptoError::Cipher)?;

    // RFC 8188: content-encryption key and nonce from the salt.
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).map_err(|_| CryptoError::Cipher)?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).map_err(|_| CryptoError::Cipher)?;

    // One record, the last: the plaintext then the 0x02 delimiter, no padding.
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| CryptoError::Cipher)?;
    let sealed = cipher.encrypt(&Nonce::from(nonce), record.as_slice()).map_err(|_| CryptoError::Cipher)?;

    let mut body = Vec::with_capacity(16 + 4 + 1 + as_public.len() + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// The 65-byte uncompressed SEC1 form (`0x04 ‖ x ‖ y`) Web Push uses.
pub fn uncompressed(key: &PublicKey) -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    key.to_encoded_point(false).as_bytes().to_vec()
}

/// A fresh random P-256 secret key.
pub fn random_secret() -> SecretKey {
    loop {
        // Nearly every 32-byte string is a valid scalar; retry the rare one that is not.
        if let Ok(k) = SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
            return k;
        }
    }
}

/// The server's VAPID identity: a P-256 key pair whose public half browsers
/// subscribe with (`applicationServerKey`).
pub struct Vapid {
    key: p256::ecdsa::SigningKey,
    public: String,
    subject: String,
}

impl Vapid {
    /// Loads the PKCS#8 PEM key at `path`, or creates one there (mode 0600)
    /// so subscriptions keep working across restarts.
    pub fn load_or_create(path: &Path, subject: &str) -> Result<Self, SetupError> {
        let secret = if path.exists() {
            let pem = std::fs::read_to_string(path).map_err(|e| SetupError::file(path, e))?;
            SecretKey::from_pkcs8_pem(&pem)
                .map_err(|_| SetupError::Invalid(format!("{} is not a PKCS#8 P-256 key", path.display())))?
        } else {
            let secret = random_secret();
            let pem = secret
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|_| SetupError::Invalid("cannot encode the VAPID key".into()))?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| SetupError::file(dir, e))?;
            }
            write_private(path, pem.as_bytes()).map_err(|e| SetupError::file(path, e))?;
            tracing::info!(path = %path.display(), "generated a VAPID key pair for Web Push");
            secret
        };
        Ok(Self::from_secret(secret, subject))
    }

    /// A key from its secret half (tests make their own).
    pub fn from_secret(secret: SecretKey, subject: &str) -> Self {
        let public = URL_SAFE_NO_PAD.encode(uncompressed(&secret.public_key()));
        Self { key: p256::ecdsa::SigningKey::from(secret), public, subject: subject.to_string() }
    }

    /// The uncompressed public key, base64url: the browser's `applicationServerKey`.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// `Authorization: vapid t=<JWT>, k=<public key>` for a push service origin.
    fn authorization(&self, audience: &str) -> String {
        let claims =
            VapidClaims { aud: audience, exp: super::jwt::now_secs() + 12 * 3600, sub: &self.subject };
        let header = JwtHeader { alg: "ES256", typ: Some("JWT"), kid: None };
        let token = super::jwt::es256(&self.key, &header, &claims);
        format!("vapid t={token}, k={}", self.public)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Sends Web Push messages.
pub struct WebPush {
    pub(super) client: reqwest::Client,
    pub(super) vapid: std::sync::Arc<Vapid>,
    pub(super) ttl: Duration,
    /// `push.allow_private_endpoints`: else the client resolves names to
    /// public addresses only, and IP literals are checked here.
    pub(super) private_ok: bool,
}

impl WebPush {
    /// Encrypts and sends one notification to one browser.
    pub async fn send(&self, sub: &Subscription, note: &Notification) -> Outcome {
        let (Some(p256dh), Some(auth)) = (&sub.p256dh, &sub.auth) else {
            return Outcome::Gone("subscription has no keys".into());
        };
        let (Ok(ua_public), Ok(auth)) = (URL_SAFE_NO_PAD.decode(p256dh), URL_SAFE_NO_PAD.decode(auth)) else {
            return Outcome::Gone("subscription keys are not base64url".into());
        };
        let Ok(url) = reqwest::Url::parse(&sub.address) else {
            return Outcome::Gone("endpoint is not a URL".into());
        };
        // An IP literal is connected to without resolving, so the client's
        // resolver cannot filter it: check it here.
        let literal = url.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']'));
        if let Some(ip) = literal.and_then(|h| h.parse::<std::net::IpAddr>().ok()) {
            if !self.private_ok && !super::endpoint::is_public(ip) {
                return Outcome::Gone("endpoint is not a public address".into());
            }
        }
        let audience = url.origin().ascii_serialization();
        let payload = note.web_payload();
        let body = match encrypt(payload.as_bytes(), &ua_public, &auth, &random_secret(), &rand::random()) {
            Ok(b) => b,
            Err(e @ (CryptoError::BadPublicKey | CryptoError::BadAuth)) => {
                return Outcome::Gone(e.to_string());
            }
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let response = self
            .client
            .post(url)
            .header("Authorization", self.vapid.authorization(&audience))
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("TTL", self.ttl.as_secs().to_string())
            .header("Urgency", "high")
            // Replaces an undelivered push of the same conversation at the push service.
            .header("Topic", note.collapse_key.as_str())
            .body(body)
            .send()
            .await;
        match response {
            Err(e) => Outcome::Retry { after: None, reason: format!("web push request failed: {e}") },
            Ok(r) => match r.status().as_u16() {
                200..=299 => Outcome::Sent,
                404 | 410 => Outcome::Gone(format!("push service answered {}", r.status())),
                _ => classify_status(&r),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap_or_default()
    }

    /// RFC 8291 Appendix A: the same keys and salt give the same bytes.
    #[test]
    fn rfc8291_example_byte_for_byte() {
        let as_secret =
            SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).expect("as key");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(uncompressed(&as_secret.public_key())),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().expect("salt");
        let body = encrypt(
            b"When I grow up, I want to be a watermelon",
            &b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"),
            &b64("BTBZMqHH6r4Tts7J_aSIgg"),
            &as_secret,
            &salt,
        )
        .expect("encrypts");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(body),
            concat!(
                "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml",
                "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT",
                "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
            )
        );
    }

    #[test]
    fn bad_keys_are_refused() {
        let k = random_secret();
        assert!(matches!(encrypt(b"x", &[4; 65], &[0; 16], &k, &[0; 16]), Err(CryptoError::BadPublicKey)));
        let ua = uncompressed(&random_secret().public_key());
        assert!(matches!(encrypt(b"x", &ua, &[0; 8], &k, &[0; 16]), Err(CryptoError::BadAuth)));
        assert!(matches!(
            encrypt(&[0; MAX_PLAINTEXT + 1], &ua, &[0; 16], &k, &[0; 16]),
            Err(CryptoError::TooLarge)
        ));
    }
}
