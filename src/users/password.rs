//! Password hashing with Argon2id (the crate's recommended parameters).
//!
//! Hashing is deliberately slow, so it runs on the blocking thread pool and
//! never stalls the async workers that carry messages.

use crate::domain::{Error, Password};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// A valid hash of a random password, verified against when the username does
/// not exist so that a login takes the same time either way.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$B0lP4ZrqNq1kFSB6K1pAyyv7v2Tu6D3rYiC0a7M0qQs";

pub async fn hash(password: Password) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        Argon2::default().hash_password(password.expose().as_bytes()).map(|h| h.to_string()).map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            Error::Internal
        })
    })
    .await
    .map_err(|_| Error::Internal)?
}

/// True if `password` matches `stored`; with no stored hash, does the same
/// work and answers false.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            tracing::error!("stored password hash is malformed");
            return false;
        };
        let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        known && matches
    })
    .await
    .map_err(|_| Error::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let Ok(p) = Password::parse("correct horse") else { panic!("valid password") };
        let h = hash(p).await.ok();
        assert!(h.as_deref().is_some_and(|h| h.starts_with("$argon2id$")));
        assert_eq!(verify("correct horse".into(), h.clone()).await.ok(), Some(true));
        assert_eq!(verify("wrong horse".into(), h).await.ok(), Some(false));
        assert_eq!(verify("correct horse".into(), None).await.ok(), Some(false));
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
