//! Token revocations across nodes: every node caches live tokens, so a
//! logout is published on Redis and each node evicts the token from its cache.
//!
//! Owns: the revocation channel. May not touch: tokens beyond evicting them
//! from the user service's cache.

use crate::users::{Revocations, TokenHash, Users};
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, PushInfo, PushKind};
use std::sync::Weak;
use tokio::sync::mpsc;

/// Publishes revoked tokens to the other nodes and evicts theirs from this node's cache.
pub struct RedisRevocations {
    conn: ConnectionManager,
    channel: String,
}

impl RedisRevocations {
    /// Revocations on the channel under `prefix`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self { conn, channel: format!("{prefix}:revoked") }
    }

    /// Subscribes this node to revocations and evicts each from `users`'
    /// cache. The task ends when `users` is dropped.
    pub async fn listen(&self, url: &str, users: Weak<Users>) -> redis::RedisResult<()> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let mut sub = super::subscriber(url, move |msg: PushInfo| {
            if matches!(msg.kind, PushKind::Message) {
                if let Some(payload) = msg.data.into_iter().nth(1) {
                    if let Ok(bytes) = redis::from_redis_value::<Vec<u8>>(payload) {
                        let _ = tx.send(bytes);
                    }
                }
            }
        })
        .await?;
        sub.subscribe(&self.channel).await?;
        tokio::spawn(async move {
            let _sub = sub; // keeps the subscription open for the task's life
            while let Some(bytes) = rx.recv().await {
                let Some(users) = users.upgrade() else { break };
                if let Ok(hash) = <[u8; 32]>::try_from(bytes.as_slice()) {
                    users.forget(&TokenHash::from_bytes(hash));
                }
            }
        });
        Ok(())
    }
}

#[async_trait]
impl Revocations for RedisRevocations {
    async fn revoked(&self, hash: &TokenHash) {
        let sent: redis::RedisResult<()> = self.conn.clone().publish(&self.channel, hash.as_bytes()).await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not tell other nodes about a logout");
        }
    }
}
