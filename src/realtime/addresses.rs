//! Open Socket.IO connections per client address on this node
//! (`limits.connections_per_address`).
//!
//! A slot is taken at the start of the handshake and held by a [`Slot`]
//! value: dropped — when the handshake is refused, or when the socket is
//! dropped after it disconnects — it gives the slot back, so the count cannot
//! leak. Behind a reverse proxy every client has the proxy's address; see
//! `docs/DEPLOY.md`.
//!
//! Owns: the per-address counts. May not touch: anything but the counts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counts of open connections by address. Cheap to clone.
#[derive(Clone)]
pub struct AddressLimit {
    inner: Arc<Inner>,
}

struct Inner {
    /// 0: unlimited.
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in the count of its address.
pub struct Slot {
    inner: Arc<Inner>,
    ip: IpAddr,
}

impl AddressLimit {
    pub fn new(max: usize) -> Self {
        Self { inner: Arc::new(Inner { max, open: Mutex::new(HashMap::new()) }) }
    }

    /// A slot for one more connection from `ip`, or `None` if it has `max` already.
    pub fn take(&self, ip: IpAddr) -> Option<Slot> {
        let mut open = self.inner.lock();
        let n = open.entry(ip).or_insert(0);
        if self.inner.max != 0 && *n >= self.inner.max {
            return None;
        }
        *n += 1;
        Some(Slot { inner: self.inner.clone(), ip })
    }

    #[cfg(test)]
    fn open(&self, ip: IpAddr) -> usize {
        self.inner.lock().get(&ip).copied().unwrap_or(0)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Every update is a single step, so a poisoned map is still consistent.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.inner.lock();
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_and_given_back() {
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let limit = AddressLimit::new(2);
        let (s1, s2) = (limit.take(a), limit.take(a));
        assert!(s1.is_some() && s2.is_some());
        assert!(limit.take(a).is_none(), "a third from the same address");
        assert!(limit.take(b).is_some(), "another address has its own count");
        drop(s1);
        assert_eq!(limit.open(a), 1);
        assert!(limit.take(a).is_some());
        let unlimited = AddressLimit::new(0);
        let many: Vec<_> = (0..1000).filter_map(|_| unlimited.take(a)).collect();
        assert_eq!(many.len(), 1000);
        drop(many);
        assert_eq!(unlimited.open(a), 0, "nothing left behind");
    }
}
