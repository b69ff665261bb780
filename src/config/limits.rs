//! `[limits]` and `[auth]`: how much one client, socket or user may do, and
//! how long a login lasts. Read by the transports (`http`, `realtime`) and
//! by `app` when it builds the user service; nothing here touches a socket.
//!
//! Owns: these two sections, their defaults and checks. May not touch:
//! anything outside `config`.

use super::ConfigError;
use serde::{Deserialize, Serialize};

/// Sizes, rates and counts that bound what one client may cost the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest message text, in characters.
    pub message_max_chars: usize,
    /// Largest Socket.IO packet, in bytes; a bigger one closes that connection.
    pub socket_max_payload: u64,
    /// Largest HTTP request body, in bytes.
    pub http_body_max: usize,
    /// Sustained Socket.IO events per second per socket.
    pub events_per_second: u32,
    /// Events a socket may send in a burst above the sustained rate.
    pub events_burst: u32,
    /// The same for all of one user's sockets on a node together.
    pub events_per_second_per_user: u32,
    /// Burst allowance for all of one user's sockets on a node together.
    pub events_burst_per_user: u32,
    /// Most messages in one history page or unread fetch.
    pub page_max: i64,
    /// Most members in one group, owner included.
    pub group_max_members: usize,
    /// Packets (replies and events) queued for one socket before further
    /// ones are dropped: bounds the memory a client that stops reading costs.
    /// Such a client is then dropped after `write_timeout_ms`.
    pub socket_buffer: usize,
    /// Initial read buffer of one WebSocket connection, in bytes (it grows
    /// for a bigger frame). Every open socket holds one, so it is most of
    /// what an idle connection costs (engineioxide's default is 4 KiB).
    pub socket_read_buffer: usize,
    /// Engine.IO heartbeat: a ping every `heartbeat_interval_ms`; a socket
    /// that does not answer within `heartbeat_timeout_ms`, or whose queue is
    /// too full to take the ping, is closed.
    pub heartbeat_interval_ms: u64,
    /// How long a socket has to answer a ping.
    pub heartbeat_timeout_ms: u64,
    /// A connection whose sent data stays unacknowledged this long is
    /// dropped by the kernel (TCP_USER_TIMEOUT): a client that stopped
    /// reading, once its buffers are full.
    pub write_timeout_ms: u64,
    /// Open Socket.IO connections one user may have across the cluster
    /// (devices and tabs); one more is refused at the handshake.
    pub connections_per_user: usize,
    /// Open Socket.IO connections from one client IP address on this node;
    /// one more is refused at the handshake. 0: unlimited. Behind a reverse
    /// proxy every client has the proxy's address: raise it or set 0.
    pub connections_per_address: usize,
    /// Socket.IO handshakes (token check, presence registration) in
    /// progress at once on this node. One more is refused at once with
    /// `unavailable` and a retry hint, instead of queueing until clients
    /// time out: bounds what a reconnect storm costs.
    pub handshakes_at_once: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            message_max_chars: 4000,
            socket_max_payload: 1_000_000,
            http_body_max: 256 * 1024,
            events_per_second: 20,
            events_burst: 40,
            events_per_second_per_user: 100,
            events_burst_per_user: 200,
            page_max: 500,
            group_max_members: 1000,
            socket_buffer: 1024,
            socket_read_buffer: 1024,
            heartbeat_interval_ms: 25_000,
            heartbeat_timeout_ms: 20_000,
            write_timeout_ms: 30_000,
            connections_per_user: 50,
            connections_per_address: 200,
            handshakes_at_once: 256,
        }
    }
}

impl Limits {
    /// Every limit but `connections_per_address` must be positive.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        super::positive(&[
            ("limits.message_max_chars", self.message_max_chars as u64),
            ("limits.socket_max_payload", self.socket_max_payload),
            ("limits.http_body_max", self.http_body_max as u64),
            ("limits.events_per_second", u64::from(self.events_per_second)),
            ("limits.events_burst", u64::from(self.events_burst)),
            ("limits.events_per_second_per_user", u64::from(self.events_per_second_per_user)),
            ("limits.events_burst_per_user", u64::from(self.events_burst_per_user)),
            ("limits.page_max", self.page_max.max(0) as u64),
            ("limits.group_max_members", self.group_max_members as u64),
            ("limits.socket_buffer", self.socket_buffer as u64),
            ("limits.socket_read_buffer", self.socket_read_buffer as u64),
            ("limits.heartbeat_interval_ms", self.heartbeat_interval_ms),
            ("limits.heartbeat_timeout_ms", self.heartbeat_timeout_ms),
            ("limits.write_timeout_ms", self.write_timeout_ms),
            ("limits.connections_per_user", self.connections_per_user as u64),
            ("limits.handshakes_at_once", self.handshakes_at_once as u64),
        ])
    }
}

/// Login tokens and password hashing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// How long a login token stays valid, in hours.
    pub token_ttl_hours: u64,
    /// Password hashes (logins, registrations) computed at once on this
    /// node; each holds ~19 MiB while it runs, the rest wait. 0: one per core.
    pub password_hashes_at_once: usize,
    /// Cluster mode: how long a node trusts its cached view of a token
    /// before it reads the token again from the database — the backstop for
    /// a logout whose Redis message this node missed. 0: never re-read.
    pub token_recheck_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { token_ttl_hours: 24 * 30, password_hashes_at_once: 0, token_recheck_secs: 30 }
    }
}
