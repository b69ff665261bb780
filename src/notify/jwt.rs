//! Compact JWTs signed with ES256 (VAPID, APNs provider tokens) or RS256
//! (the FCM service-account grant). Only signing: Confab never verifies JWTs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use serde::Serialize;

/// `base64url(header).base64url(claims)`, the signing input.
fn signing_input(header: &impl Serialize, claims: &impl Serialize) -> String {
    let header = serde_json::to_string(header).unwrap_or_default();
    let claims = serde_json::to_string(claims).unwrap_or_default();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims))
}

/// ES256: ECDSA P-256 over SHA-256, the signature as the raw 64-byte `r‖s`.
pub fn es256(key: &p256::ecdsa::SigningKey, header: &impl Serialize, claims: &impl Serialize) -> String {
    let input = signing_input(header, claims);
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// RS256: RSASSA-PKCS1-v1_5 over SHA-256.
pub fn rs256(
    key: &rsa::pkcs1v15::SigningKey<sha2::Sha256>,
    header: &impl Serialize,
    claims: &impl Serialize,
) -> String {
    use rsa::signature::SignatureEncoding;
    let input = signing_input(header, claims);
    let signature = rsa::signature::Signer::sign(key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// Seconds since the Unix epoch, for `iat`/`exp` claims.
pub fn now_secs() -> i64 {
    crate::domain::now_millis() / 1000
}
