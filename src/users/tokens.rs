//! Opaque bearer tokens and the cache of live ones.
//!
//! Owns: token generation, hashing and the cache. May not touch: storage —
//! the user service stores tokens.

use super::Session;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// SHA-256 of a token: what is stored and what the cache is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of a token as the client sends it.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// The 32 bytes, as stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A hash read back from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

/// A new random token (URL-safe base64 of 32 bytes) and its hash.
pub fn generate() -> (String, TokenHash) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = TokenHash::of(&token);
    (token, hash)
}

/// Live sessions by token hash. Entries are added on login or on first use
/// and removed on logout; expired ones are dropped when the map grows.
#[derive(Default)]
pub struct TokenCache {
    map: Mutex<HashMap<TokenHash, Session>>,
}

/// Past this many entries, expired sessions are swept on insert.
const SWEEP_ABOVE: usize = 100_000;

impl TokenCache {
    pub fn get(&self, hash: &TokenHash) -> Option<Session> {
        self.lock().get(hash).cloned()
    }

    pub fn insert(&self, session: Session) {
        let mut map = self.lock();
        if map.len() >= SWEEP_ABOVE {
            let now = crate::domain::now_millis();
            map.retain(|_, s| s.expires_at > now);
        }
        map.insert(session.token_hash, session);
    }

    pub fn remove(&self, hash: &TokenHash) {
        self.lock().remove(hash);
    }

    /// Removes every session of these users; returns them.
    pub fn remove_users(&self, users: &std::collections::HashSet<crate::domain::UserId>) -> Vec<Session> {
        let mut removed = Vec::new();
        self.lock().retain(|_, s| {
            let gone = users.contains(&s.user_id);
            if gone {
                removed.push(s.clone());
            }
            !gone
        });
        removed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Session>> {
        // A panic while holding this lock cannot leave the map half-updated
        // (every operation is a single call), so a poisoned lock is safe to use.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = generate();
        let (b, hb) = generate();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert_eq!(TokenHash::of(&a), ha);
        assert_eq!(a.len(), 43);
    }
}
