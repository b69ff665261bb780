//! The JSON the outside world sees (`docs/API.md`), kept apart from the
//! domain types so either side can change without breaking the other. Both
//! transports (HTTP and Socket.IO) use it, so they cannot drift apart.
//!
//! Owns: requests in ([`input`]: `Deserialize` structs turned into commands),
//! objects out ([`views`], [`conversation_views`], [`account_views`]), the
//! envelopes of answers ([`replies`]) and the events the server emits
//! ([`events`]). May not touch: sockets, HTTP, storage, or any decision — it
//! converts, the services decide.

mod account_replies;
pub mod account_views;
pub mod conversation_views;
pub mod events;
pub mod input;
pub mod replies;
pub mod views;

pub use account_views::{ErrorBody, MediaView, MuteView, SubscriptionView, UploadSignatureView};
pub use conversation_views::{ConversationView, MemberView, ReceiptView, ReceiptsView};
pub use views::{AttachmentView, MessageView, ReactionView, ReplyView, UserView};

use crate::domain::Millis;

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-24T05:43:57.123Z`.
pub fn timestamp(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
