//! Presence in Redis, shared by every node.
//!
//! Keys (under the configured prefix `P`):
//! - `P:conns:{user}`: set of `node|socket` — the user's live connections;
//! - `P:node:{node}`: exists while the node is alive (TTL, refreshed by
//!   [`heartbeat`](PresenceStore::heartbeat) every quarter of the TTL);
//! - `P:nodeconns:{node}`: set of `user|socket` — what to clean up if it dies;
//! - `P:nodes`: set of node ids, so nodes can find dead peers.
//!
//! When a node's key expires, the first surviving node to notice
//! ([`sweep`](PresenceStore::sweep)) removes its connections and reports the
//! users left with none, so their contacts are told they went offline: a
//! dead node's users stop counting as online within TTL + TTL/4.
//!
//! Each node also keeps its own connections in memory: if Redis loses its
//! data (a restart without persistence), the next heartbeat puts them back.
//!
//! Owns: the Redis keys of presence and their scripts. May not touch: who is
//! told — `presence::PresenceService` decides.

use crate::domain::now_millis;
use crate::domain::{ConnectionId, UserId};
use crate::presence::PresenceStore;
use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Presence shared by every node through Redis (see the module docs).
pub struct RedisPresence {
    conn: ConnectionManager,
    /// Until when (ms) Redis is presumed down after a failure: lookups answer
    /// "offline" at once instead of each waiting for a timeout. Heartbeats
    /// keep trying and clear it.
    down_until: AtomicI64,
    prefix: String,
    node: String,
    ttl: Duration,
    /// This node's connections, to re-register after Redis lost them.
    local: Mutex<HashMap<UserId, HashSet<String>>>,
    connect: Script,
    disconnect: Script,
}

impl RedisPresence {
    /// Presence under `prefix` for node `node`, which counts as dead after `ttl` without a heartbeat.
    pub fn new(conn: ConnectionManager, prefix: &str, node: String, ttl: Duration) -> Self {
        Self {
            conn,
            prefix: prefix.to_string(),
            node,
            ttl,
            local: Mutex::default(),
            down_until: AtomicI64::new(0),
            // Add the connection to both sets; answer how many the user has now.
            connect: Script::new(
                "redis.call('SADD', KEYS[1], ARGV[1]) redis.call('SADD', KEYS[2], ARGV[2])
                 return redis.call('SCARD', KEYS[1])",
            ),
            // Remove it; answer how many are left, or -1 if it was not there.
            disconnect: Script::new(
                "local removed = redis.call('SREM', KEYS[1], ARGV[1]) redis.call('SREM', KEYS[2], ARGV[2])
                 if removed == 1 then return redis.call('SCARD', KEYS[1]) end return -1",
            ),
        }
    }

    /// How often [`heartbeat`](PresenceStore::heartbeat) should run.
    pub fn heartbeat_every(&self) -> Duration {
        self.ttl / 4
    }

    fn conns_key(&self, user: UserId) -> String {
        format!("{}:conns:{user}", self.prefix)
    }

    fn node_key(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }

    fn node_conns_key(&self, node: &str) -> String {
        format!("{}:nodeconns:{node}", self.prefix)
    }

    fn is_down(&self) -> bool {
        now_millis() < self.down_until.load(Ordering::Relaxed)
    }

    fn mark_down(&self, e: &redis::RedisError) {
        if !self.is_down() {
            tracing::warn!(error = %e, "presence: Redis unavailable; users count as offline until it is back");
        }
        self.down_until.store(now_millis() + 2_000, Ordering::Relaxed);
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, HashSet<String>>> {
        // Single-call updates: a poisoned lock still holds consistent data.
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn add(&self, user: UserId, sid: &str) -> redis::RedisResult<i64> {
        self.connect
            .key(self.conns_key(user))
            .key(self.node_conns_key(&self.node))
            .arg(format!("{}|{sid}", self.node))
            .arg(format!("{user}|{sid}"))
            .invoke_async(&mut self.conn.clone())
            .await
    }

    /// Removes a dead node's connections; returns the users left with none.
    async fn bury(&self, node: &str) -> redis::RedisResult<Vec<UserId>> {
        let mut conn = self.conn.clone();
        let entries: Vec<String> =
            redis::cmd("SMEMBERS").arg(self.node_conns_key(node)).query_async(&mut conn).await?;
        let mut offline = Vec::new();
        for entry in entries {
            let Some((user, sid)) = entry.split_once('|') else { continue };
            let Ok(user) = user.parse::<i64>().map(UserId) else { continue };
            let left: i64 = self
                .disconnect
                .key(self.conns_key(user))
                .key(self.node_conns_key(node))
                .arg(format!("{node}|{sid}"))
                .arg(&entry)
                .invoke_async(&mut conn)
                .await?;
            if left == 0 && !offline.contains(&user) {
                offline.push(user);
            }
        }
        redis::cmd("DEL").arg(self.node_conns_key(node)).query_async::<()>(&mut conn).await?;
        Ok(offline)
    }
}

#[async_trait]
impl PresenceStore for RedisPresence {
    async fn connected(&self, user: UserId, conn: &ConnectionId) -> bool {
        self.local().entry(user).or_default().insert(conn.0.clone());
        if self.is_down() {
            return false; // re-registered by the heartbeat once Redis is back
        }
        match self.add(user, &conn.0).await {
            Ok(n) => n == 1,
            Err(e) => {
                self.mark_down(&e);
                false
            }
        }
    }

    async fn disconnected(&self, user: UserId, conn: &ConnectionId) -> bool {
        {
            let mut local = self.local();
            if let Some(set) = local.get_mut(&user) {
                set.remove(&conn.0);
                if set.is_empty() {
                    local.remove(&user);
                }
            }
        }
        if self.is_down() {
            return false;
        }
        let left: redis::RedisResult<i64> = self
            .disconnect
            .key(self.conns_key(user))
            .key(self.node_conns_key(&self.node))
            .arg(format!("{}|{}", self.node, conn.0))
            .arg(format!("{user}|{}", conn.0))
            .invoke_async(&mut self.conn.clone())
            .await;
        match left {
            Ok(n) => n == 0,
            Err(e) => {
                self.mark_down(&e);
                false
            }
        }
    }

    async fn devices(&self, user: UserId) -> usize {
        if self.is_down() {
            return 0;
        }
        let n: redis::RedisResult<usize> =
            redis::cmd("SCARD").arg(self.conns_key(user)).query_async(&mut self.conn.clone()).await;
        n.unwrap_or_else(|e| {
            self.mark_down(&e);
            0
        })
    }

    async fn online_among(&self, users: &[UserId]) -> Vec<bool> {
        if self.is_down() || users.is_empty() {
            return vec![false; users.len()];
        }
        let mut pipe = redis::pipe();
        for &u in users {
            pipe.cmd("SCARD").arg(self.conns_key(u));
        }
        let counts: redis::RedisResult<Vec<usize>> = pipe.query_async(&mut self.conn.clone()).await;
        match counts {
            Ok(c) => c.into_iter().map(|n| n > 0).collect(),
            Err(e) => {
                self.mark_down(&e);
                vec![false; users.len()]
            }
        }
    }

    async fn heartbeat(&self) {
        let mut conn = self.conn.clone();
        let ttl = self.ttl.as_secs().max(1);
        // `GET` answers the previous value: none means Redis forgot us (restart,
        // or we were presumed dead), so our connections are put back.
        let was: redis::RedisResult<Option<String>> = redis::cmd("SET")
            .arg(self.node_key(&self.node))
            .arg("1")
            .arg("EX")
            .arg(ttl)
            .arg("GET")
            .query_async(&mut conn)
            .await;
        let lost = match was {
            Ok(prev) => prev.is_none(),
            Err(e) => {
                self.mark_down(&e);
                return;
            }
        };
        self.down_until.store(0, Ordering::Relaxed);
        let _: redis::RedisResult<()> = redis::cmd("SADD")
            .arg(format!("{}:nodes", self.prefix))
            .arg(&self.node)
            .query_async(&mut conn)
            .await;
        if lost {
            let snapshot: Vec<(UserId, String)> =
                self.local().iter().flat_map(|(u, sids)| sids.iter().map(move |s| (*u, s.clone()))).collect();
            for (user, sid) in snapshot {
                if let Err(e) = self.add(user, &sid).await {
                    tracing::warn!(error = %e, "presence: could not re-register a connection");
                }
            }
        }
    }

    async fn sweep(&self) -> Vec<UserId> {
        let mut conn = self.conn.clone();
        let nodes_key = format!("{}:nodes", self.prefix);
        let nodes: Vec<String> = match redis::cmd("SMEMBERS").arg(&nodes_key).query_async(&mut conn).await {
            Ok(n) => n,
            Err(_) => return Vec::new(),
        };
        let mut offline = Vec::new();
        for node in nodes.into_iter().filter(|n| *n != self.node) {
            let alive: bool =
                redis::cmd("EXISTS").arg(self.node_key(&node)).query_async(&mut conn).await.unwrap_or(true);
            if alive {
                continue;
            }
            // Only the node whose SREM succeeds cleans up, so users are reported once.
            let claimed: i64 =
                redis::cmd("SREM").arg(&nodes_key).arg(&node).query_async(&mut conn).await.unwrap_or(0);
            if claimed == 1 {
                tracing::info!(node, "a node stopped heart-beating; its users are offline");
                match self.bury(&node).await {
                    Ok(users) => offline.extend(users),
                    Err(e) => tracing::warn!(error = %e, node, "could not clean up a dead node"),
                }
            }
        }
        offline
    }
}
