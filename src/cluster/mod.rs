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
use redis::{PushInfo, PushKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

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

/// Opens a reconnecting subscriber connection: `on_push` receives every
/// pub/sub message, and the subscriptions come back after a Redis restart
/// without waiting for this node to send anything.
///
/// Why the extra task: the connection manager reconnects once when it sees
/// the connection drop, and otherwise only when a command fails. A node that
/// only listens (it has nobody to publish to) would stay deaf after an outage
/// longer than that one attempt, so a task pings until the connection (and
/// with it every subscription) is back.
pub async fn subscriber(
    url: &str,
    on_push: impl Fn(PushInfo) + Send + Sync + 'static,
) -> redis::RedisResult<ConnectionManager> {
    let dropped = Arc::new(Notify::new());
    let notify = dropped.clone();
    let config = ConnectionManagerConfig::new()
        .set_push_sender(move |msg: PushInfo| {
            if matches!(msg.kind, PushKind::Disconnection) {
                notify.notify_one();
            }
            on_push(msg);
            Ok::<(), std::convert::Infallible>(())
        })
        .set_automatic_resubscription();
    let conn = connect(url, Some(config)).await?;
    tokio::spawn(revive(conn.clone(), dropped));
    Ok(conn)
}

/// After each disconnection, pings (every 250 ms) until Redis answers: each
/// failed ping makes the manager try a new connection, which re-subscribes.
async fn revive(conn: ConnectionManager, dropped: Arc<Notify>) {
    loop {
        dropped.notified().await;
        loop {
            let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn.clone()).await;
            if pong.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
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
