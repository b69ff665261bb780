//! The domain's way out to live connections.
//!
//! Domain services describe *what* a user should be told ([`Event`]); the
//! realtime layer implements [`Fanout`] and decides *how* (Socket.IO rooms,
//! and later the Redis adapter). Nothing in the domain touches a socket.

use crate::chat::Message;
use crate::domain::{ConnectionId, ConversationId, MessageId, Millis, Seq, TokenId, UserId};
use crate::store::ConversationRow;
use async_trait::async_trait;
use tokio::sync::oneshot;

/// Something a user's connected devices should learn.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new message (`receive_message`), sent without asking for a receipt:
    /// used for the sender's own other devices.
    Message(Message),
    /// A message the user sent changed state for `reader` (`message_status`).
    Status {
        conversation_id: ConversationId,
        message_id: MessageId,
        seq: Seq,
        status: Receipt,
        reader: UserId,
    },
    /// Someone in a shared conversation started or stopped typing (`typing`).
    Typing { conversation_id: ConversationId, user: UserId, display_name: String, is_typing: bool },
    /// A contact came online or went offline (`presence`).
    Presence { user: UserId, online: bool, last_seen: Option<Millis> },
    /// A group's profile or member list changed (`conversation_updated`).
    ConversationUpdated(Box<ConversationRow>),
    /// The user is no longer in the conversation (`conversation_removed`).
    ConversationRemoved { conversation_id: ConversationId, reason: Removal },
}

/// Why a user is no longer in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Left,
    Removed,
    Deleted,
}

impl Removal {
    pub fn as_str(self) -> &'static str {
        match self {
            Removal::Left => "left",
            Removal::Removed => "removed",
            Removal::Deleted => "deleted",
        }
    }
}

/// The receipts a recipient produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    Delivered,
    Read,
}

impl Receipt {
    pub fn as_str(self) -> &'static str {
        match self {
            Receipt::Delivered => "delivered",
            Receipt::Read => "read",
        }
    }
}

/// Delivery to live connections. Implementations must not block on slow
/// clients: every method returns once the event is queued.
#[async_trait]
pub trait Fanout: Send + Sync + 'static {
    /// Sends `event` to every live connection of `user`, except `except`.
    async fn send(&self, user: UserId, event: Event, except: Option<&ConnectionId>);

    /// Sends a new message to every live connection of `recipient`, asking
    /// each for an acknowledgement. The receiver resolves when the first
    /// device acknowledges; it is dropped unresolved if none does in time.
    async fn deliver(&self, recipient: UserId, message: &Message) -> oneshot::Receiver<()>;

    /// Closes every connection that was opened with this token.
    async fn disconnect_token(&self, token: TokenId);
}
