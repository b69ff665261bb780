//! Domain vocabulary shared by every layer: validated values and the one
//! domain error.
//!
//! Values are parsed once at the edge (HTTP body, Socket.IO payload) into
//! these types; everything behind the edge can rely on them being valid.

mod error;
mod ids;
mod text;

pub use error::{Error, ErrorCode};
pub use ids::{ClientMsgId, ConnectionId, ConversationId, MessageId, Seq, SubscriptionId, TokenId, UserId};
pub use text::{DisplayName, MessageText, Password, Username};

/// Milliseconds since the Unix epoch; the one time representation inside Confab.
pub type Millis = i64;

/// The current time in [`Millis`].
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}
