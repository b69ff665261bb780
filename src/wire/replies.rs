//! The bodies of successful answers: HTTP responses and Socket.IO acks,
//! one `Serialize` struct per shape of `docs/API.md`.
//!
//! Owns: the envelope around each view (`{"message": …}`, `{"messages": …,
//! "hasMore": …}`); those of account routes are in `account_replies` and
//! re-exported here. May not touch: anything but views.

pub use super::account_replies::{
    LinksReply, MediaReply, MuteReply, MutesReply, SessionReply, SessionsEnded, SubscriptionReply,
    SubscriptionsReply, UserReply, UsersReply, VapidKeyReply,
};
use super::{ConversationView, ErrorBody, MemberView, MessageView, ReactionView};
use serde::Serialize;

/// `{"ok": true}`: an event done that returns nothing else.
#[derive(Serialize)]
pub struct Done {
    /// Always true.
    pub ok: bool,
}

/// The acknowledgement of an event that returns nothing else.
pub const DONE: Done = Done { ok: true };

/// `GET /readyz`: `{"status":"ready"}`, or `{"status":"unavailable","reason":…}`.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: &'static str,
    /// Why the node is not ready; absent when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// `{"error": {code, message}}`: a failed request or event.
#[derive(Debug, Serialize)]
pub struct ErrorReply {
    /// What went wrong.
    pub error: ErrorBody,
}

/// `{"message": Message}`: a sent message.
#[derive(Serialize)]
pub struct MessageReply {
    /// The message, with its status.
    pub message: MessageView,
}

/// `{"messages": [Message], "hasMore"}`: history pages and unread fetches.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagesReply {
    /// Newest first (history) or oldest first (unread).
    pub messages: Vec<MessageView>,
    /// Whether there are more to page or fetch.
    pub has_more: bool,
}

/// `{"conversation": Conversation}`.
#[derive(Serialize)]
pub struct ConversationReply {
    /// The conversation.
    pub conversation: ConversationView,
}

/// `{"conversations": [Conversation], "hasMore", "nextBefore"}`: a page of the list.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationsReply {
    /// Most recent activity first.
    pub conversations: Vec<ConversationView>,
    /// Whether more conversations follow this page.
    pub has_more: bool,
    /// The `before` of the next page (`null` on the last page).
    pub next_before: Option<String>,
}

/// `{"members": [Member]}`.
#[derive(Serialize)]
pub struct MembersReply {
    /// Everyone in the conversation.
    pub members: Vec<MemberView>,
}

/// `{"reactions": [...]}`: the answer of `react` and `unreact`.
#[derive(Serialize)]
pub struct ReactionsReply {
    /// All the message's reactions now, ordered by first use.
    pub reactions: Vec<ReactionView>,
}

/// `{"messages": [Message]}`: message search results, newest first.
#[derive(Serialize)]
pub struct SearchReply {
    /// The matches.
    pub messages: Vec<MessageView>,
}
