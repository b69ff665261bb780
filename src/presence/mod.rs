//! Presence: who is online, on how many devices, and telling their contacts.
//!
//! [`PresenceStore`] is the small storage trait (in-process here; Redis in
//! cluster mode). [`PresenceService`] is the domain logic on top: a user is
//! online from their first connection to their last disconnection, and the
//! users who share a conversation with them are told at those two moments.
//!
//! Owns: the presence rules and the [`PresenceStore`] port. May not touch:
//! sockets or Redis — backends implement the port (`LocalPresence`,
//! `cluster::presence`).

mod local_presence;

pub use local_presence::LocalPresence;

use crate::domain::{ConnectionId, Error, Millis, UserId, now_millis};
use crate::fanout::{Event, Fanout};
use crate::store::Store;
use async_trait::async_trait;
use std::sync::Arc;

/// Where presence lives.
#[async_trait]
pub trait PresenceStore: Send + Sync + 'static {
    /// Records a connection; true if it is the user's first.
    async fn connected(&self, user: UserId, conn: &ConnectionId) -> bool;
    /// Forgets a connection; true if it was the user's last.
    async fn disconnected(&self, user: UserId, conn: &ConnectionId) -> bool;
    /// How many live connections the user has.
    async fn devices(&self, user: UserId) -> usize;
    /// Which of `users` have at least one live connection, in one round trip.
    async fn online_among(&self, users: &[UserId]) -> Vec<bool> {
        let mut out = Vec::with_capacity(users.len());
        for &u in users {
            out.push(self.devices(u).await > 0);
        }
        out
    }
    /// Keeps this node counted as alive (shared backends only).
    async fn heartbeat(&self) {}
    /// Cleans up after nodes that died; returns the users left with no
    /// connection anywhere (shared backends only).
    async fn sweep(&self) -> Vec<UserId> {
        Vec::new()
    }
}

/// A user's presence as shown to others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    /// At least one live connection.
    pub online: bool,
    /// How many.
    pub devices: usize,
    /// When the last one closed, if offline.
    pub last_seen: Option<Millis>,
}

/// See the module docs.
pub struct PresenceService {
    backend: Arc<dyn PresenceStore>,
    store: Arc<dyn Store>,
    fanout: Arc<dyn Fanout>,
}

impl PresenceService {
    /// The service over a presence backend; `store` keeps last-seen times, `fanout` tells contacts.
    pub fn new(backend: Arc<dyn PresenceStore>, store: Arc<dyn Store>, fanout: Arc<dyn Fanout>) -> Self {
        Self { backend, store, fanout }
    }

    /// How many live connections `user` has (on every node).
    pub async fn devices(&self, user: UserId) -> usize {
        self.backend.devices(user).await
    }

    /// Whether each of `users` is online (one Redis round trip in a cluster).
    pub async fn online_among(&self, users: &[UserId]) -> Vec<bool> {
        self.backend.online_among(users).await
    }

    /// The presence of `user`, with their last-seen time when offline.
    pub async fn status(&self, user: UserId, last_seen: Option<Millis>) -> Presence {
        let devices = self.backend.devices(user).await;
        Presence { online: devices > 0, devices, last_seen }
    }

    /// Records a new connection; true if it is the user's first (then call
    /// [`announce`](Self::announce) once the connection is usable).
    pub async fn register(&self, user: UserId, conn: &ConnectionId) -> bool {
        self.backend.connected(user, conn).await
    }

    #[tracing::instrument(skip_all, fields(user = %user))]
    /// Forgets a connection; if it was the user's last, records when they were last seen and tells their
    /// contacts.
    pub async fn disconnected(&self, user: UserId, conn: &ConnectionId) -> Result<(), Error> {
        if self.backend.disconnected(user, conn).await {
            let now = now_millis();
            self.store.set_last_seen(user, now).await?;
            self.broadcast(user, false, Some(now)).await?;
        }
        Ok(())
    }

    /// One maintenance step: heartbeat, then announce the users of dead nodes
    /// as offline.
    pub async fn maintain(&self) {
        self.backend.heartbeat().await;
        for user in self.backend.sweep().await {
            let now = now_millis();
            if let Err(e) = self.store.set_last_seen(user, now).await {
                tracing::debug!(error = %e, "could not record last seen");
            }
            if let Err(e) = self.broadcast(user, false, Some(now)).await {
                tracing::warn!(error = %e, "could not announce a user of a dead node as offline");
            }
        }
    }

    /// Runs [`maintain`](Self::maintain) every `every` until the handle is aborted.
    pub fn spawn_maintenance(self: Arc<Self>, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                self.maintain().await;
            }
        })
    }

    /// Tells everyone who shares a conversation with `user` that they came online.
    pub async fn announce(&self, user: UserId, online: bool) -> Result<(), Error> {
        self.broadcast(user, online, None).await
    }

    async fn broadcast(&self, user: UserId, online: bool, last_seen: Option<Millis>) -> Result<(), Error> {
        for peer in self.store.peers_of(user).await? {
            self.fanout.send(peer, Event::Presence { user, online, last_seen }, None).await;
        }
        Ok(())
    }
}
