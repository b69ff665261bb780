//! Login throttling: failed logins slow down whoever made them, exponentially
//! after a few free attempts, so passwords cannot be guessed at speed — and
//! without letting anyone lock someone else out.
//!
//! Three counters, each with its own allowance of failures:
//! - per account *and* address: one client guessing one account;
//! - per address: one client guessing many accounts;
//! - per account, from everywhere, with a larger allowance: guessing spread
//!   over many addresses. It only holds back clients that have themselves
//!   failed on that account, so a correct password from a client with a
//!   clean record is never blocked by someone else's failures.
//!
//! An attempt is *reserved* before its password is hashed: it counts as a
//! failure until proven right, so a burst of simultaneous attempts cannot all
//! be evaluated before the first failure is recorded. Once the reservations
//! in flight could use up what is left of an allowance, further attempts wait
//! for them to resolve (a success gives its reservation back) and are then
//! admitted or refused: a burst evaluates at most the free allowance, while
//! many correct logins at once from one address all go through.
//!
//! A throttled attempt is refused before the password is checked, with the
//! same answer whether or not the account exists. The counters live in this
//! node's memory (a cluster multiplies the allowance by its node count) and
//! are forgotten an hour after the last failure.
//!
//! Owns: the failure counts. May not touch: accounts or passwords.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Failures allowed before the first delay.
const FREE_PER_PAIR: u32 = 5;
/// An address may be a whole office behind one NAT.
const FREE_PER_ADDRESS: u32 = 20;
const FREE_PER_ACCOUNT: u32 = 50;
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Above this many entries, stale ones are swept on the next failure.
const SWEEP_ABOVE: usize = 10_000;
/// Longest wait for earlier attempts to resolve before giving up with `rate_limited`.
const MAX_QUEUE_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, Option<IpAddr>),
    Address(IpAddr),
    Account(String),
}

impl Key {
    fn free(&self) -> u32 {
        match self {
            Key::Pair(..) => FREE_PER_PAIR,
            Key::Address(_) => FREE_PER_ADDRESS,
            Key::Account(_) => FREE_PER_ACCOUNT,
        }
    }
}

struct Entry {
    failures: u32,
    /// Reserved attempts whose password is being checked.
    pending: u32,
    blocked_until: Instant,
    last_failure: Instant,
}

impl Entry {
    fn new(now: Instant) -> Self {
        Entry { failures: 0, pending: 0, blocked_until: now, last_failure: now }
    }

    fn failures(&self, now: Instant) -> u32 {
        if now.duration_since(self.last_failure) >= FORGET_AFTER { 0 } else { self.failures }
    }
}

/// What a new attempt must do.
enum Verdict {
    Go,
    Wait,
    Refuse(Duration),
}

#[derive(Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<Key, Entry>>,
    /// Notified whenever a reservation resolves.
    resolved: Notify,
}

/// A reserved attempt; counts as a failure unless [`Reservation::succeeded`]
/// is called (so a request dropped mid-check counts too).
pub struct Reservation<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<Key>,
    done: bool,
}

impl LoginThrottle {
    fn keys(account: &str, addr: Option<IpAddr>) -> Vec<Key> {
        let mut keys = vec![Key::Pair(account.to_string(), addr), Key::Account(account.to_string())];
        keys.extend(addr.map(Key::Address));
        keys
    }

    /// Reserves an attempt for `account` from `addr`, waiting while
    /// attempts in flight could use up the allowance; `Err(wait)` if the
    /// attempt must not be made now.
    pub async fn begin(&self, account: &str, addr: Option<IpAddr>) -> Result<Reservation<'_>, Duration> {
        let keys = Self::keys(account, addr);
        let deadline = tokio::time::Instant::now() + MAX_QUEUE_WAIT;
        loop {
            let notified = self.resolved.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_begin(&keys) {
                Verdict::Go => return Ok(Reservation { throttle: self, keys, done: false }),
                Verdict::Refuse(wait) => return Err(wait),
                Verdict::Wait => {}
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(FIRST_DELAY);
            }
        }
    }

    fn try_begin(&self, keys: &[Key]) -> Verdict {
        let now = Instant::now();
        let mut entries = self.lock();
        // The account-wide counter holds back only clients that failed on it themselves.
        let failed_here = entries.get(&keys[0]).is_some_and(|e| e.failures(now) > 0);
        let applicable = |k: &Key| failed_here || !matches!(k, Key::Account(_));
        let mut verdict = Verdict::Go;
        for key in keys.iter().filter(|k| applicable(k)) {
            let Some(e) = entries.get(key) else { continue };
            if e.blocked_until > now && e.failures(now) > 0 {
                let wait = e.blocked_until - now;
                verdict = match verdict {
                    Verdict::Refuse(w) => Verdict::Refuse(w.max(wait)),
                    _ => Verdict::Refuse(wait),
                };
            } else if e.pending >= key.free().saturating_sub(e.failures(now)).max(1)
                && !matches!(verdict, Verdict::Refuse(_))
            {
                verdict = Verdict::Wait;
            }
        }
        if matches!(verdict, Verdict::Go) {
            for key in keys {
                entries.entry(key.clone()).or_insert_with(|| Entry::new(now)).pending += 1;
            }
        }
        verdict
    }

    fn resolve(&self, keys: &[Key], ok: bool) {
        let now = Instant::now();
        {
            let mut entries = self.lock();
            if !ok && entries.len() > SWEEP_ABOVE {
                entries.retain(|_, e| e.pending > 0 || now.duration_since(e.last_failure) < FORGET_AFTER);
            }
            for key in keys {
                let e = entries.entry(key.clone()).or_insert_with(|| Entry::new(now));
                e.pending = e.pending.saturating_sub(1);
                if ok {
                    // A correct password clears this client's record for the
                    // account (not the address's, nor the account-wide one: one
                    // good login must not reset a guesser's count).
                    if matches!(key, Key::Pair(..)) {
                        e.failures = 0;
                    }
                    continue;
                }
                e.failures = e.failures(now) + 1;
                e.last_failure = now;
                let free = key.free();
                if e.failures >= free {
                    let doublings = (e.failures - free).min(20);
                    e.blocked_until = now + FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY);
                }
            }
            for key in keys {
                if entries.get(key).is_some_and(|e| e.pending == 0 && e.failures == 0) {
                    entries.remove(key);
                }
            }
        }
        self.resolved.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // Every update is a short sequence of plain field writes; a poisoned map is still usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reservation<'_> {
    /// The password was right: the attempt is given back.
    pub fn succeeded(mut self) {
        self.done = true;
        self.throttle.resolve(&self.keys, true);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.throttle.resolve(&self.keys, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fail(t: &LoginThrottle, account: &str, ip: Option<IpAddr>) {
        drop(t.begin(account, ip).await.expect("admitted"));
    }

    #[tokio::test]
    async fn failures_slow_down_the_client_then_success_clears_it() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..FREE_PER_PAIR {
            fail(&t, "ana", Some(ip)).await;
        }
        let wait = t.begin("ana", Some(ip)).await.err().expect("throttled");
        assert!(wait <= FIRST_DELAY && wait > Duration::from_millis(900));
        assert!(t.begin("ana", Some([10, 0, 0, 2].into())).await.is_ok(), "another client of ana is free");
        assert!(t.begin("bob", Some(ip)).await.is_ok(), "another account from this address is free");
        tokio::time::sleep(FIRST_DELAY).await;
        t.begin("ana", Some(ip)).await.expect("after the delay").succeeded();
        assert!(t.begin("ana", Some(ip)).await.is_ok(), "a success clears the client's record");
    }

    #[tokio::test]
    async fn one_address_guessing_many_accounts_is_slowed_too() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 9].into();
        for i in 0..FREE_PER_ADDRESS {
            fail(&t, &format!("user{i}"), Some(ip)).await;
        }
        assert!(t.begin("someone-new", Some(ip)).await.is_err());
        assert!(t.begin("someone-new", Some([10, 0, 0, 10].into())).await.is_ok());
    }

    #[tokio::test]
    async fn guessing_from_many_addresses_never_blocks_a_clean_client() {
        let t = LoginThrottle::default();
        for i in 0..(FREE_PER_ACCOUNT * 2) {
            fail(&t, "ana", Some(IpAddr::from([10, 1, (i / 256) as u8, (i % 256) as u8]))).await;
        }
        // The account's own counter is over its allowance: a client that
        // failed on it before is held back ...
        assert!(t.begin("ana", Some([10, 1, 0, 1].into())).await.is_err());
        // ... a clean client is not.
        t.begin("ana", Some([192, 0, 2, 1].into())).await.expect("clean client").succeeded();
    }

    #[tokio::test]
    async fn a_burst_evaluates_at_most_the_allowance() {
        let t = std::sync::Arc::new(LoginThrottle::default());
        let ip: IpAddr = [10, 0, 0, 3].into();
        let mut held = Vec::new();
        for _ in 0..FREE_PER_PAIR {
            held.push(t.begin("ana", Some(ip)).await.expect("within the allowance"));
        }
        // The next one waits for those in flight ...
        let t2 = t.clone();
        let next = tokio::spawn(async move { t2.begin("ana", Some(ip)).await.map(drop) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!next.is_finished(), "waits while five are being checked");
        // ... and is refused once they turn out wrong.
        drop(held);
        assert!(next.await.expect("joined").is_err());
    }
}
