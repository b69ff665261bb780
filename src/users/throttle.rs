//! Login throttling: failed logins slow down the account they were for and
//! the address they came from, exponentially after a few free attempts, so
//! passwords cannot be guessed at speed. A throttled attempt is refused
//! before the password is checked, with the same answer whether or not the
//! account exists. The counters live in this node's memory (a cluster
//! multiplies the allowance by its node count) and are forgotten an hour
//! after the last failure.
//!
//! Owns: the failure counts. May not touch: accounts or passwords.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the first delay: per account, per address (an
/// address may be a whole office behind one NAT).
const FREE_PER_ACCOUNT: u32 = 5;
const FREE_PER_ADDRESS: u32 = 20;
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Above this many entries, stale ones are swept on the next failure.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

struct Entry {
    failures: u32,
    blocked_until: Instant,
    last_failure: Instant,
}

#[derive(Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl LoginThrottle {
    fn keys(account: &str, addr: Option<IpAddr>) -> impl Iterator<Item = Key> {
        std::iter::once(Key::Account(account.to_string())).chain(addr.map(Key::Address))
    }

    /// `Err(wait)` if a login for `account` from `addr` must wait.
    pub fn check(&self, account: &str, addr: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let wait = Self::keys(account, addr)
            .filter_map(|k| entries.get(&k))
            .map(|e| e.blocked_until.saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    pub fn failed(&self, account: &str, addr: Option<IpAddr>) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > SWEEP_ABOVE {
            entries.retain(|_, e| now.duration_since(e.last_failure) < FORGET_AFTER);
        }
        for key in Self::keys(account, addr) {
            let free = if matches!(key, Key::Account(_)) { FREE_PER_ACCOUNT } else { FREE_PER_ADDRESS };
            let e =
                entries.entry(key).or_insert(Entry { failures: 0, blocked_until: now, last_failure: now });
            if now.duration_since(e.last_failure) >= FORGET_AFTER {
                e.failures = 0;
            }
            e.failures += 1;
            e.last_failure = now;
            if e.failures >= free {
                let doublings = (e.failures - free).min(20);
                e.blocked_until = now + FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY);
            }
        }
    }

    /// A correct password clears the account's record (not the address's:
    /// one good login must not reset a guesser's count from that address).
    pub fn succeeded(&self, account: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&Key::Account(account.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_slow_down_the_account_then_success_clears_it() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..FREE_PER_ACCOUNT - 1 {
            t.failed("ana", Some(ip));
            assert!(t.check("ana", Some(ip)).is_ok());
        }
        t.failed("ana", Some(ip));
        let wait = t.check("ana", None).expect_err("throttled");
        assert!(wait <= FIRST_DELAY && wait > Duration::from_millis(900));
        t.failed("ana", Some(ip));
        assert!(t.check("ana", None).expect_err("throttled") > FIRST_DELAY, "doubles");
        assert!(t.check("bob", Some([10, 0, 0, 2].into())).is_ok(), "other accounts and addresses are free");
        t.succeeded("ana");
        assert!(t.check("ana", None).is_ok());
    }

    #[test]
    fn one_address_guessing_many_accounts_is_slowed_too() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 9].into();
        for i in 0..FREE_PER_ADDRESS {
            t.failed(&format!("user{i}"), Some(ip));
        }
        assert!(t.check("someone-new", Some(ip)).is_err());
        assert!(t.check("someone-new", Some([10, 0, 0, 10].into())).is_ok());
    }
}
