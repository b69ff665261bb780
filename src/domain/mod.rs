//! The domain vocabulary every layer shares: validated values, the model
//! (users, conversations and their members, messages, receipts, push
//! devices, media items) and the one domain error.
//!
//! Owns: these types and the rules that follow from them alone (a message's
//! status, a group's heir, who is new to a group). May not touch: anything
//! else of the crate — it imports no other module, performs no I/O, and knows
//! nothing of sockets, HTTP, SQL or configuration. Values are parsed once at
//! the edge (HTTP body, Socket.IO payload) into these types; everything
//! behind the edge can rely on them being valid, and storage maps its rows to
//! them.

mod conversation;
mod conversation_page;
mod envelope;
mod error;
mod ids;
mod media_item;
mod member;
mod message;
mod push_device;
mod reaction;
mod receipt;
mod text;
mod user;

pub use conversation::{Conversation, ConversationKind, ConversationSummary, GroupPatch};
pub use conversation_page::{CONVERSATIONS_PER_PAGE, ConversationCursor, ConversationPage};
pub use envelope::{Envelope, MessageStatus};
pub use error::{Error, ErrorCode};
pub use ids::{ClientMsgId, ConnectionId, ConversationId, MessageId, Seq, SubscriptionId, TokenId, UserId};
pub use media_item::MediaItem;
pub use member::{Member, Role};
pub use message::{Attachment, Message, MessageKind};
pub use push_device::{Mute, PushKind, Subscription};
pub use reaction::{Emoji, QUOTE_MAX_CHARS, Quote, ReactionGroup, SearchQuery, reaction_groups};
pub use receipt::{Advanced, DeliveryMark, Receipt};
pub use text::{DisplayName, MessageText, Password, Username};
pub use user::User;

/// Milliseconds since the Unix epoch; the one time representation inside Confab.
pub type Millis = i64;

/// The current time in [`Millis`].
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}
