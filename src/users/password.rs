//! Password hashing with Argon2id (the crate's recommended parameters), and
//! the bound on the memory it takes.
//!
//! Hashing is deliberately slow, so it runs on the blocking thread pool and
//! never stalls the async workers that carry messages. Each hash also needs
//! about 19 MiB of state (m = 19456 KiB). Unbounded, a flood of logins or
//! registrations allocated that many times over: 100 registrations at once
//! peaked at 1.9 GB. [`Hasher`] admits a fixed number at once (the rest wait
//! asynchronously for a permit) and gives each permit its own state buffer,
//! allocated on first use and reused: letting Argon2 allocate per hash, even
//! two at a time, left glibc holding 0.6–1.5 GB after the same burst
//! (freed 19 MiB blocks stay in per-thread arenas once its mmap threshold
//! has adapted). So the memory of hashing is `permits × 19 MiB`, at most.
//!
//! Owns: hashing and its permits. May not touch: accounts.

use crate::domain::{Error, Password};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// A valid hash of a random password, verified against when the username does
/// not exist so that a login takes the same time either way.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$B0lP4ZrqNq1kFSB6K1pAyyv7v2Tu6D3rYiC0a7M0qQs";

/// Argon2 state buffers, one per permit.
type Memory = Arc<Mutex<Vec<Vec<Block>>>>;

/// Runs hashes and verifications, at most `limit` at once, each in a
/// reused state buffer.
pub struct Hasher {
    permits: Arc<Semaphore>,
    memory: Memory,
    limit: usize,
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    buffers_allocated: Arc<AtomicUsize>,
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
            memory: Arc::default(),
            limit,
            in_flight: Arc::default(),
            peak: Arc::default(),
            buffers_allocated: Arc::default(),
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

    /// State buffers allocated so far (never more than [`Hasher::limit`]).
    pub fn buffers(&self) -> usize {
        self.buffers_allocated.load(Ordering::Relaxed)
    }

    /// Runs `work` on the blocking pool once a permit is free, with a state
    /// buffer of its own. The permit moves into the blocking task, so it is
    /// held for exactly as long as the buffer is, even if the caller (a
    /// dropped request) stops waiting.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| Error::Internal)?;
        let (memory, in_flight, peak) = (self.memory.clone(), self.in_flight.clone(), self.peak.clone());
        let allocated = self.buffers_allocated.clone();
        tokio::task::spawn_blocking(move || {
            let now = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
            peak.fetch_max(now, Ordering::Relaxed);
            // A permit holder always finds a buffer unless fewer than `limit` exist yet.
            let mut blocks = lock(&memory).pop().unwrap_or_else(|| {
                allocated.fetch_add(1, Ordering::Relaxed);
                Vec::new()
            });
            let out = work(&mut blocks);
            lock(&memory).push(blocks);
            in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            out
        })
        .await
        .map_err(|_| Error::Internal)
    }

    /// Hashes a new password (Argon2id), waiting for a permit.
    pub async fn hash(&self, password: Password) -> Result<String, Error> {
        self.run(move |blocks| hash(&password, blocks)).await?
    }

    /// True if `password` matches `stored`; with no stored hash, does the same
    /// work and answers false.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Error> {
        self.run(move |blocks| verify(&password, stored, blocks)).await
    }
}

fn lock(memory: &Mutex<Vec<Vec<Block>>>) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
    memory.lock().unwrap_or_else(|e| e.into_inner())
}

/// Argon2 of `password` into `out`, in `blocks` (grown if these parameters
/// need more than it has).
fn compute(
    (algorithm, version, params): (Algorithm, Version, Params),
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    blocks: &mut Vec<Block>,
) -> Result<(), argon2::Error> {
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::new());
    }
    Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt,
        out,
        blocks.as_mut_slice(),
    )
}

/// A PHC string (`$argon2id$v=19$m=…`) for `password` with a random salt.
fn hash(password: &Password, blocks: &mut Vec<Block>) -> Result<String, Error> {
    let params = Params::default();
    let internal = |what: &str| {
        tracing::error!(step = what, "password hashing failed");
        Error::Internal
    };
    let salt = argon2::password_hash::try_generate_salt().map_err(|_| internal("salt"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let kind = (Algorithm::Argon2id, Version::V0x13, params.clone());
    compute(kind, password.expose().as_bytes(), &salt, &mut out, blocks).map_err(|_| internal("argon2"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|_| internal("params"))?,
        salt: Some(Salt::new(&salt).map_err(|_| internal("salt"))?),
        hash: Some(Output::new(&out).map_err(|_| internal("output"))?),
    };
    Ok(phc.to_string())
}

fn verify(password: &str, stored: Option<String>, blocks: &mut Vec<Block>) -> bool {
    let known = stored.is_some();
    let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
    let Some(matches) = matches(password, &phc, blocks) else {
        tracing::error!("stored password hash is malformed");
        return false;
    };
    known && matches
}

/// Recomputes the hash with the stored algorithm, parameters and salt; `None`
/// if `phc` is not a usable Argon2 hash.
fn matches(password: &str, phc: &str, blocks: &mut Vec<Block>) -> Option<bool> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    let (salt, expected) = (parsed.salt?, parsed.hash?);
    let mut out = vec![0u8; expected.len()];
    compute((algorithm, version, params), password.as_bytes(), &salt, &mut out, blocks).ok()?;
    // `Output` compares in constant time.
    Some(Output::new(&out).ok()? == expected)
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
        assert_eq!(hasher.buffers(), 2, "one state buffer per permit, reused");
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
        assert_eq!(matches("x", DUMMY_HASH, &mut Vec::new()), Some(false));
    }

    /// Hashes made by the crate's own API (as before the reused buffers)
    /// still verify, and ours verify with the crate's.
    #[test]
    fn compatible_with_the_crate_api() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let mut blocks = Vec::new();
        let Ok(theirs) = Argon2::default().hash_password(b"correct horse") else { panic!("hashes") };
        let theirs = theirs.to_string();
        assert_eq!(matches("correct horse", &theirs, &mut blocks), Some(true));
        assert_eq!(matches("wrong horse", &theirs, &mut blocks), Some(false));
        let Ok(p) = Password::parse("correct horse") else { panic!("valid password") };
        let Ok(ours) = hash(&p, &mut blocks) else { panic!("hashes") };
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        let Ok(parsed) = PasswordHash::new(&ours) else { panic!("parses") };
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong horse", &parsed).is_err());
        assert_eq!(matches("", "not a hash", &mut blocks), None);
    }

    #[test]
    fn zero_means_one_per_core() {
        assert!(Hasher::new(0).limit() >= 1);
        assert_eq!(Hasher::new(3).limit(), 3);
    }
}
