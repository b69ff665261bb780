//! Cluster mode: what lets several Confab nodes behind a load balancer act
//! as one, on Redis (7+) — no home-made cluster protocol.
//!
//! - [`driver`]: the pub/sub driver under socketioxide's Redis adapter, so an
//!   emit to a user's room reaches their sockets on every node. It rides on a
//!   reconnecting connection that re-subscribes by itself after a Redis restart.
//! - [`presence`]: who is online, on which node, on how many devices, with a
//!   per-node heartbeat so a dead node's users go offline within a bound.
//! - [`revocations`]: a logout on one node evicts the token from every node's cache.
//!
//! Messages never depend on Redis: they are stored and acknowledged in
//! PostgreSQL first. During a Redis outage presence reads as offline, so
//! delivery falls back to the offline path and `fetch_unread_messages`.
//!
//! Owns: the Redis adapters of the presence and revocation ports, and the
//! adapter driver. May not touch: storage or any service's rules — `app`
//! plugs these into the services' ports.

pub mod driver;
pub mod presence;
pub mod revocations;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// Opens a reconnecting connection (RESP3, for pub/sub push messages).
/// `push` receives pub/sub messages, if this connection subscribes.
pub async fn connect(
    url: &str,
    push: Option<ConnectionManagerConfig>,
) -> redis::RedisResult<ConnectionManager> {
    let url = if url.contains("protocol=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    };
    let client = redis::Client::open(url)?;
    // Fail fast while Redis is away: a request waits at most about a second
    // (the connection keeps reconnecting in the background), so a send is
    // never held up for long by an outage — it is stored and acknowledged,
    // and delivery falls back to the offline path.
    let config = push
        .unwrap_or_default()
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_with_config(client, config).await
}

/// A random id for this node's life, e.g. `n-3f9c2a…`.
pub fn node_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("n-{hex}")
}

/// Readiness: Redis answers `PING` (see [`crate::telemetry::Readiness`]).
pub struct RedisProbe(pub ConnectionManager);

#[async_trait::async_trait]
impl crate::telemetry::Probe for RedisProbe {
    fn dependency(&self) -> crate::telemetry::Dependency {
        crate::telemetry::Dependency::Redis
    }

    async fn check(&self) -> Result<(), String> {
        let mut conn = self.0.clone();
        redis::cmd("PING").query_async::<()>(&mut conn).await.map_err(|e| e.to_string())
    }
}
