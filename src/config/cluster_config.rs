//! `[cluster]` and `[storage]`: how a node finds its peers' shared state
//! (Redis key prefix, node heartbeat, PostgreSQL pool) and how durable the
//! embedded SQLite database is. Read by `app` and `store`; nothing here
//! opens a connection.
//!
//! Owns: these two sections, their defaults and checks. May not touch:
//! anything outside `config`.

use super::ConfigError;
use serde::{Deserialize, Serialize};

/// Cluster mode (PostgreSQL + Redis) settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Prefix of every Redis key and channel, so several clusters (or
    /// tests) can share one Redis.
    pub redis_prefix: String,
    /// A node that stops heart-beating is considered dead after this many
    /// seconds: its users stop counting as online.
    pub node_ttl_secs: u64,
    /// Connections in this node's PostgreSQL pool.
    pub postgres_max_connections: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self { redis_prefix: "confab".into(), node_ttl_secs: 20, postgres_max_connections: 16 }
    }
}

impl ClusterConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.redis_prefix.is_empty() || self.redis_prefix.contains(char::is_whitespace) {
            return Err(ConfigError::new("`cluster.redis_prefix` must be non-empty and without spaces"));
        }
        super::positive(&[
            ("cluster.node_ttl_secs", self.node_ttl_secs),
            ("cluster.postgres_max_connections", u64::from(self.postgres_max_connections)),
        ])
    }
}

/// `[storage]`: the embedded database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// When a SQLite commit is durable.
    pub sqlite_synchronous: SqliteSynchronous,
}

/// SQLite's `synchronous` pragma, as far as Confab offers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Every commit is fsynced: an acknowledged message survives power loss.
    #[default]
    Full,
    /// Survives a crash of the process; the last commits may be lost on power loss.
    Normal,
}

impl SqliteSynchronous {
    /// The pragma's value.
    pub fn as_str(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "full",
            SqliteSynchronous::Normal => "normal",
        }
    }
}
