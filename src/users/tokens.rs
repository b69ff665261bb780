//! Opaque bearer tokens and the cache of live ones.
//!
//! Owns: token generation, hashing and the cache. May not touch: storage —
//! the user service stores tokens.

use super::Session;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

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

/// Most sessions a node keeps cached. Past it the least recently used go
/// (a later check of theirs reads the database again), so memory stays
/// bounded however many tokens are in use.
const CAPACITY: usize = 100_000;

/// A cached session and when it was last read from the database.
#[derive(Clone)]
struct Cached {
    session: Session,
    read_at: Instant,
}

/// Live sessions by token hash: a bounded concurrent cache
/// (`quick_cache`), filled on login and on first use, invalidated on logout.
///
/// A fill must never bring back a token revoked meanwhile: a request that
/// read the token's row just before a logout committed would otherwise cache
/// it again, live forever. Every invalidation bumps a generation; a fill
/// carries the generation read before its database read and is dropped if
/// an invalidation came in between. Fills and invalidations take one small
/// lock so that check-and-insert cannot interleave with bump-and-remove;
/// lookups never take it.
pub struct TokenCache {
    map: quick_cache::sync::Cache<TokenHash, Cached>,
    generation: AtomicU64,
    writes: Mutex<()>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl TokenCache {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            map: quick_cache::sync::Cache::new(capacity),
            generation: AtomicU64::new(0),
            writes: Mutex::new(()),
        }
    }

    /// The session and when it was read from the database.
    pub fn get(&self, hash: &TokenHash) -> Option<(Session, Instant)> {
        self.map.get(hash).map(|c| (c.session, c.read_at))
    }

    /// To be read before the database read that a [`TokenCache::fill`] caches.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a session read from the database (or just issued) at
    /// generation `seen`, unless a token was invalidated since. Returns
    /// whether it was cached.
    pub fn fill(&self, session: Session, seen: u64, read_at: Instant) -> bool {
        let _w = self.lock();
        if self.generation.load(Ordering::SeqCst) != seen {
            return false;
        }
        self.map.insert(session.token_hash, Cached { session, read_at });
        true
    }

    /// Drops a revoked (or expired) token; fills in flight are not cached.
    pub fn invalidate(&self, hash: &TokenHash) {
        let _w = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.map.remove(hash);
    }

    /// Drops an entry found revoked in the database (a missed revocation
    /// message); like [`TokenCache::invalidate`] if it was cached, and
    /// nothing at all otherwise, so a flood of dead tokens costs no fills.
    pub fn drop_revoked(&self, hash: &TokenHash) {
        let _w = self.lock();
        if self.map.remove(hash).is_some() {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Drops an expired entry (expiry is checked on every read, so no fill can revive it).
    pub fn drop_expired(&self, hash: &TokenHash) {
        self.map.remove(hash);
    }

    /// Removes every session of these users; returns them.
    pub fn remove_users(&self, users: &std::collections::HashSet<crate::domain::UserId>) -> Vec<Session> {
        let _w = self.lock();
        self.generation.fetch_add(1, Ordering::SeqCst);
        let gone: Vec<Session> =
            self.map.iter().map(|(_, c)| c.session).filter(|s| users.contains(&s.user_id)).collect();
        for s in &gone {
            self.map.remove(&s.token_hash);
        }
        gone
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // Guards no data of its own, so a poisoned lock is safe to use.
        self.writes.lock().unwrap_or_else(|e| e.into_inner())
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

    fn session(n: u8) -> Session {
        Session {
            user_id: crate::domain::UserId(i64::from(n)),
            token_id: crate::domain::TokenId(i64::from(n)),
            token_hash: TokenHash([n; 32]),
            expires_at: i64::MAX,
        }
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_not_cached() {
        let cache = TokenCache::default();
        let seen = cache.generation();
        cache.invalidate(&TokenHash([1; 32])); // a logout commits while the fill reads
        assert!(!cache.fill(session(1), seen, Instant::now()));
        assert!(cache.get(&TokenHash([1; 32])).is_none());
        assert!(cache.fill(session(1), cache.generation(), Instant::now()));
        assert!(cache.get(&TokenHash([1; 32])).is_some());
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = TokenCache::with_capacity(100);
        for n in 0..=255u8 {
            cache.fill(session(n), cache.generation(), Instant::now());
        }
        assert!(cache.map.len() <= 100, "{} entries", cache.map.len());
    }
}
