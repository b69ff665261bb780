//! A [`Driver`] for socketioxide's Redis adapter on a reconnecting
//! connection: after Redis restarts, the connection comes back and
//! re-subscribes to the adapter's channels by itself.
//!
//! Owns: the adapter's Redis subscription and its reconnection. May not
//! touch: what is emitted — socketioxide decides that.

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, PushInfo, PushKind};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

#[derive(Clone)]
/// The pub/sub driver of socketioxide's Redis adapter, on a reconnecting connection.
pub struct ReconnectingDriver {
    conn: ConnectionManager,
    handlers: Handlers,
}

#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
/// A Redis failure, as the adapter reports it.
pub struct DriverError(#[from] redis::RedisError);

impl ReconnectingDriver {
    /// Connects to Redis and starts receiving the adapter's channels.
    pub async fn connect(url: &str) -> redis::RedisResult<Self> {
        let handlers: Handlers = Arc::default();
        let routes = handlers.clone();
        let conn = super::subscriber(url, move |msg| route(msg, &routes)).await?;
        Ok(Self { conn, handlers })
    }
}

/// Hands a pub/sub message to the stream subscribed to its channel.
fn route(msg: PushInfo, handlers: &Handlers) {
    if !matches!(msg.kind, PushKind::Message) || msg.data.len() < 2 {
        return;
    }
    let mut data = msg.data.into_iter();
    let (Some(chan), Some(payload)) = (data.next(), data.next()) else { return };
    let (Ok(chan), Ok(payload)) =
        (redis::from_redis_value::<String>(chan), redis::from_redis_value::<Vec<u8>>(payload))
    else {
        return;
    };
    let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = handlers.get(&chan) {
        if tx.try_send((chan, payload)).is_err() {
            tracing::warn!("redis adapter channel full; a cross-node message was dropped");
        }
    }
}

impl Driver for ReconnectingDriver {
    type Error = DriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        self.conn.clone().publish::<_, _, redis::Value>(chan, val).await?;
        Ok(())
    }

    async fn subscribe(&self, chan: String, size: usize) -> Result<MessageStream<ChanItem>, Self::Error> {
        let (tx, rx) = mpsc::channel(size);
        self.handlers.write().unwrap_or_else(|e| e.into_inner()).insert(chan.clone(), tx);
        self.conn.clone().subscribe(chan).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.handlers.write().unwrap_or_else(|e| e.into_inner()).remove(&chan);
        self.conn.clone().unsubscribe(chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let (_, count): (String, u16) =
            redis::cmd("PUBSUB").arg("NUMSUB").arg(chan).query_async(&mut self.conn.clone()).await?;
        Ok(count)
    }
}
