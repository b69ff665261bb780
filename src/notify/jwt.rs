//! Compact JWTs signed with ES256 (VAPID, APNs provider tokens) or RS256
//! (the FCM service-account grant), and the headers and claims each
//! provider expects. Only signing: Confab never verifies JWTs.
//!
//! Owns: JWT signing and claims. May not touch: HTTP.

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

/// A JWT header.
#[derive(Serialize)]
pub(super) struct JwtHeader<'a> {
    pub alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<&'a str>,
}

/// The claims of a VAPID JWT (RFC 8292).
#[derive(Serialize)]
pub(super) struct VapidClaims<'a> {
    pub aud: &'a str,
    pub exp: i64,
    pub sub: &'a str,
}

/// The claims of an APNs provider token.
#[derive(Serialize)]
pub(super) struct ApnsClaims<'a> {
    pub iss: &'a str,
    pub iat: i64,
}

/// The claims of the FCM service-account grant.
#[derive(Serialize)]
pub(super) struct GrantClaims<'a> {
    pub iss: &'a str,
    pub scope: &'a str,
    pub aud: &'a str,
    pub iat: i64,
    pub exp: i64,
}

/// Seconds since the Unix epoch, for `iat`/`exp` claims.
pub fn now_secs() -> i64 {
    crate::domain::now_millis() / 1000
}
