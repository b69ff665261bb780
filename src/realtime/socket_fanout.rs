//! [`Fanout`] over Socket.IO rooms: an event for a user is an emit to the
//! user's room, which reaches every device of theirs.
//!
//! Owns: the emits of every server event, and serializing each message once.
//! May not touch: who gets what — the services decide and call the [`Fanout`]
//! port.

use super::{socket_room, token_room, user_room};
use crate::domain::{ConnectionId, Envelope, TokenId, UserId};
use crate::fanout::{Event, Fanout};
use crate::wire::MessageView;
use crate::wire::events::{self, RECEIVE_MESSAGE};
use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::future::join_all;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide::{AckError, SocketIo};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a device has to acknowledge a `receive_message`.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait to hand one event to the adapter (in cluster mode, Redis):
/// a send must not hang on an outage; the event is then only lost live —
/// the message itself is stored and will be fetched.
const EMIT_TIMEOUT: Duration = Duration::from_secs(1);

/// Fanout through socketioxide. The [`SocketIo`] handle is attached after
/// the layer is built (the layer needs the app state, which needs this).
pub struct SocketFanout<A: Adapter> {
    io: OnceLock<SocketIo<A>>,
}

impl<A: Adapter> Default for SocketFanout<A> {
    fn default() -> Self {
        Self { io: OnceLock::new() }
    }
}

impl<A: Adapter> SocketFanout<A> {
    /// Attaches the Socket.IO handle once the layer is built.
    pub fn attach(&self, io: SocketIo<A>) {
        let _ = self.io.set(io);
    }

    /// Broadcast operators for `room`; `None` before the layer is attached
    /// and once shutdown has closed the namespace (`SocketIo::to` would
    /// panic then, and disconnect handlers still running at shutdown emit).
    fn to(&self, room: String) -> Option<BroadcastOperators<A>> {
        Some(self.io.get()?.of("/")?.to(room))
    }

    /// Sends `payload` to every connection of `recipient`, asking each for an
    /// acknowledgement; the receiver resolves at the first.
    async fn deliver(&self, recipient: UserId, payload: &RawValue) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let Some(op) = self.to(user_room(recipient)) else { return rx };
        let acks = op.timeout(RECEIPT_TIMEOUT).emit_with_ack::<_, Value>(RECEIVE_MESSAGE, payload);
        let Ok(acks) = tokio::time::timeout(EMIT_TIMEOUT, acks).await else {
            tracing::warn!("receive_message emit timed out");
            return rx;
        };
        match acks {
            Ok(stream) => {
                tokio::spawn(async move {
                    let mut stream = std::pin::pin!(stream);
                    while let Some((_, res)) = stream.next().await {
                        // An ack with no argument fails to decode but is still an ack.
                        if matches!(res, Ok(_) | Err(AckError::Decode(_))) {
                            let _ = tx.send(());
                            return;
                        }
                    }
                });
            }
            Err(e) => tracing::debug!(error = %e, "receive_message emit failed"),
        }
        rx
    }
}

/// Emits without asking for acknowledgements, giving up after [`EMIT_TIMEOUT`].
async fn emit<A: Adapter, T: Serialize + ?Sized>(op: BroadcastOperators<A>, name: &'static str, payload: &T) {
    match tokio::time::timeout(EMIT_TIMEOUT, op.emit(name, payload)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, event = name, "emit failed"),
        Err(_) => tracing::warn!(event = name, "emit timed out"),
    }
}

#[async_trait]
impl<A: Adapter> Fanout for SocketFanout<A> {
    async fn send(&self, user: UserId, event: Event, except: Option<&ConnectionId>) {
        let Some(mut op) = self.to(user_room(user)) else { return };
        let (name, payload) = events::event(&event);
        if let Some(c) = except {
            op = op.except(socket_room(c));
        }
        emit(op, name, &payload).await;
    }

    async fn publish(
        &self,
        message: &Envelope,
        origin: Option<&ConnectionId>,
        recipients: &[UserId],
    ) -> Vec<(UserId, oneshot::Receiver<()>)> {
        // Serialized once; each emit below copies these bytes into its packet.
        let payload = match serde_json::value::to_raw_value(&MessageView::live(message)) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a message");
                return Vec::new();
            }
        };
        if let Some(mut op) = self.to(user_room(message.message.sender_id)) {
            if let Some(c) = origin {
                op = op.except(socket_room(c));
            }
            emit(op, RECEIVE_MESSAGE, &*payload).await;
        }
        // All recipients at once: in cluster mode each hand-over is a Redis
        // round trip, and one after the other they add up for a group.
        join_all(recipients.iter().map(|&user| {
            let payload = &*payload;
            async move { (user, self.deliver(user, payload).await) }
        }))
        .await
    }

    async fn disconnect_token(&self, token: TokenId) {
        let Some(op) = self.to(token_room(token)) else { return };
        if let Err(e) = op.disconnect().await {
            tracing::warn!(error = %e, "could not disconnect the sockets of a revoked token");
        }
    }
}
