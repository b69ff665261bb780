//! In-process presence for a single node: a map from user to their live
//! connection ids.
//!
//! Owns: this node's map. May not touch: anything but the map.

use super::PresenceStore;
use crate::domain::{ConnectionId, UserId};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
/// Presence in this process's memory (one node).
pub struct LocalPresence {
    users: Mutex<HashMap<UserId, HashSet<String>>>,
}

impl LocalPresence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, HashSet<String>>> {
        // Each operation is a single map update, so a poisoned lock holds consistent data.
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl PresenceStore for LocalPresence {
    async fn connected(&self, user: UserId, conn: &ConnectionId) -> bool {
        let mut users = self.lock();
        let conns = users.entry(user).or_default();
        conns.insert(conn.0.clone());
        conns.len() == 1
    }

    async fn disconnected(&self, user: UserId, conn: &ConnectionId) -> bool {
        let mut users = self.lock();
        let Some(conns) = users.get_mut(&user) else {
            return false;
        };
        let removed = conns.remove(&conn.0);
        if conns.is_empty() {
            users.remove(&user);
            return removed;
        }
        false
    }

    async fn devices(&self, user: UserId) -> usize {
        self.lock().get(&user).map_or(0, HashSet::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_and_last_device() {
        let p = LocalPresence::default();
        let (u, a, b) = (UserId(1), ConnectionId("a".into()), ConnectionId("b".into()));
        assert!(p.connected(u, &a).await);
        assert!(!p.connected(u, &b).await);
        assert_eq!(p.devices(u).await, 2);
        assert!(!p.disconnected(u, &a).await);
        assert!(p.disconnected(u, &b).await);
        assert_eq!(p.devices(u).await, 0);
        assert!(!p.disconnected(u, &b).await, "double disconnect is not a second 'last'");
    }
}
