//! The services' way out to live connections (a port).
//!
//! Owns: what a user may be told ([`Event`]) and the [`Fanout`] trait. May
//! not touch: sockets, storage or any service — it depends on the domain
//! only. Services describe *what* a user should be told; the realtime layer
//! implements [`Fanout`] and decides *how* (`realtime::SocketFanout`:
//! Socket.IO rooms, across nodes through the Redis adapter in cluster mode).

use crate::domain::{
    ConnectionId, Conversation, ConversationId, Envelope, MessageId, Millis, ReactionGroup, Receipt, Seq,
    TokenId, UserId,
};
use async_trait::async_trait;
use tokio::sync::oneshot;

/// Something a user's connected devices should learn.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message the user sent was delivered to or read by `reader` (`message_status`).
    Receipt {
        /// Where.
        conversation_id: ConversationId,
        /// Which message.
        message_id: MessageId,
        /// Its seq.
        seq: Seq,
        /// Delivered or read.
        receipt: Receipt,
        /// By whom.
        reader: UserId,
    },
    /// Someone in a shared conversation started or stopped typing (`typing`).
    Typing {
        /// Where.
        conversation_id: ConversationId,
        /// Who.
        user: UserId,
        /// Their display name.
        display_name: String,
        /// Started (true) or stopped.
        is_typing: bool,
    },
    /// A contact came online or went offline (`presence`).
    Presence {
        /// Who.
        user: UserId,
        /// Online now.
        online: bool,
        /// When they went offline.
        last_seen: Option<Millis>,
    },
    /// A group's profile or member list changed (`conversation_updated`).
    ConversationUpdated(Box<Conversation>),
    /// A message was edited (`message_updated`).
    MessageUpdated(Box<Envelope>),
    /// A message was deleted (`message_deleted`).
    MessageDeleted {
        /// Where.
        conversation_id: ConversationId,
        /// Which.
        message_id: MessageId,
    },
    /// A message's reactions changed (`reaction_updated`).
    ReactionUpdated {
        /// Where.
        conversation_id: ConversationId,
        /// Which message.
        message_id: MessageId,
        /// All its reactions now, ordered by first use.
        reactions: Vec<ReactionGroup>,
    },
    /// The user is no longer in the conversation (`conversation_removed`).
    ConversationRemoved {
        /// Which.
        conversation_id: ConversationId,
        /// Why.
        reason: Removal,
    },
}

/// Why a user is no longer in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// They left.
    Left,
    /// An owner or admin removed them.
    Removed,
    /// The owner deleted the group.
    Deleted,
}

impl Removal {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Removal::Left => "left",
            Removal::Removed => "removed",
            Removal::Deleted => "deleted",
        }
    }
}

/// Delivery to live connections. Implementations must not block on slow
/// clients: every method returns once the event is queued.
#[async_trait]
pub trait Fanout: Send + Sync + 'static {
    /// Sends `event` to every live connection of `user`, except `except`.
    async fn send(&self, user: UserId, event: Event, except: Option<&ConnectionId>);

    /// Hands a new message (`receive_message`) to live connections: to the
    /// sender's other devices (all but `origin`) as it is, and to every
    /// device of each of `recipients` asking for an acknowledgement. One
    /// receiver per recipient resolves when their first device acknowledges;
    /// it is dropped unresolved if none does in time. The message is
    /// serialized once, whoever gets it.
    async fn publish(
        &self,
        message: &Envelope,
        origin: Option<&ConnectionId>,
        recipients: &[UserId],
    ) -> Vec<(UserId, oneshot::Receiver<()>)>;

    /// Closes every connection that was opened with this token.
    async fn disconnect_token(&self, token: TokenId);
}
