//! Password hashing with Argon2id (the crate's recommended parameters), and
//! the bound on how many hashes run at once.
//!
//! Hashing is deliberately slow, so it runs on the blocking thread pool and
//! never stalls the async workers that carry messages. Each hash also holds
//! about 19 MiB (m = 19456 KiB) while it runs: unbounded, a flood of logins
//! or registrations would allocate that many times over (and the allocator
//! keeps the arenas afterwards). [`Hasher`] admits a fixed number at once;
//! the rest wait asynchronously for a permit, which costs nothing but time.

use crate::domain::{Error, Password};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// A valid hash of a random password, verified against when the username does
/// not exist so that a login takes the same time either way.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$B0lP4ZrqNq1kFSB6K1pAyyv7v2Tu6D3rYiC0a7M0qQs";

/// Runs hashes and verifications, at most `permits` at once.
pub struct Hasher {
    permits: Arc<Semaphore>,
    limit: usize,
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Hasher {
    /// `at_once` hashes in flight; 0: one per available core (more would
    /// only queue for the CPU while holding their memory).
    pub fn new(at_once: usize) -> Self {
        let limit = if at_once == 0 {
            std::thread::available_parallelism().map(usize::from).unwrap_or(1)
        } else {
            at_once
        };
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            in_flight: Arc::default(),
            peak: Arc::default(),
        }
    }

    /// How many hashes may run at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The most hashes that were ever running at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Runs `work` on the blocking pool once a permit is free. The permit
    /// moves into the blocking task, so it is held for exactly as long as the
    /// memory is, even if the caller (a dropped request) stops waiting.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| Error::Internal)?;
        let (in_flight, peak) = (self.in_flight.clone(), self.peak.clone());
        tokio::task::spawn_blocking(move || {
            let now = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
            peak.fetch_max(now, Ordering::Relaxed);
            let out = work();
            in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            out
        })
        .await
        .map_err(|_| Error::Internal)
    }

    pub async fn hash(&self, password: Password) -> Result<String, Error> {
        self.run(move || hash(&password)).await?
    }

    /// True if `password` matches `stored`; with no stored hash, does the same
    /// work and answers false.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Error> {
        self.run(move || verify(&password, stored)).await
    }
}

fn hash(password: &Password) -> Result<String, Error> {
    Argon2::default().hash_password(password.expose().as_bytes()).map(|h| h.to_string()).map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        Error::Internal
    })
}

fn verify(password: &str, stored: Option<String>) -> bool {
    let known = stored.is_some();
    let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
    let Ok(parsed) = PasswordHash::new(&phc) else {
        tracing::error!("stored password hash is malformed");
        return false;
    };
    let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
    known && matches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = Hasher::new(0);
        let Ok(p) = Password::parse("correct horse") else { panic!("valid password") };
        let h = hasher.hash(p).await.ok();
        assert!(h.as_deref().is_some_and(|h| h.starts_with("$argon2id$")));
        assert_eq!(hasher.verify("correct horse".into(), h.clone()).await.ok(), Some(true));
        assert_eq!(hasher.verify("wrong horse".into(), h).await.ok(), Some(false));
        assert_eq!(hasher.verify("correct horse".into(), None).await.ok(), Some(false));
    }

    /// 64 logins at once: all answered correctly, never more than the
    /// limit hashing (and holding their ~19 MiB) at the same time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_hashes_are_bounded() {
        let hasher = Arc::new(Hasher::new(2));
        let Ok(p) = Password::parse("correct horse") else { panic!("valid password") };
        let Ok(stored) = hasher.hash(p).await else { panic!("hashes") };
        let mut set = tokio::task::JoinSet::new();
        for i in 0..64 {
            let (hasher, stored) = (hasher.clone(), stored.clone());
            let guess = if i % 2 == 0 { "correct horse" } else { "wrong horse" };
            set.spawn(async move { (i % 2 == 0, hasher.verify(guess.into(), Some(stored)).await.ok()) });
        }
        while let Some(done) = set.join_next().await {
            let Ok((right, answer)) = done else { panic!("task ran") };
            assert_eq!(answer, Some(right));
        }
        // The blocking pool has far more than 2 threads: only the permits held it back.
        assert_eq!(hasher.peak(), 2, "at most the limit in flight, and the limit was reached");
        assert_eq!(hasher.limit(), 2);
    }

    /// A caller that stops waiting (a dropped request) does not free its
    /// permit before its hash has finished.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn abandoned_callers_keep_their_permit_until_done() {
        let hasher = Arc::new(Hasher::new(1));
        for _ in 0..8 {
            let h = hasher.clone();
            let call = tokio::spawn(async move { h.verify("x".into(), None).await });
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            call.abort();
        }
        assert_eq!(hasher.verify("x".into(), None).await.ok(), Some(false));
        assert_eq!(hasher.peak(), 1);
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn zero_means_one_per_core() {
        assert!(Hasher::new(0).limit() >= 1);
        assert_eq!(Hasher::new(3).limit(), 3);
    }
}
