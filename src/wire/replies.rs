//! The bodies of successful answers: HTTP responses and Socket.IO acks,
//! one `Serialize` struct per shape of `docs/API.md`.
//!
//! Owns: the envelope around each view (`{"message": …}`, `{"messages": …,
//! "hasMore": …}`). May not touch: anything but views.

use super::views::{
    ConversationView, ErrorBody, MediaView, MemberView, MessageView, MuteView, SubscriptionView, UserView,
};
use serde::Serialize;

/// `{"ok": true}`: an event done that returns nothing else.
#[derive(Serialize)]
pub struct Done {
    pub ok: bool,
}

/// The acknowledgement of an event that returns nothing else.
pub const DONE: Done = Done { ok: true };

/// `{"error": {code, message}}`: a failed request or event.
#[derive(Debug, Serialize)]
pub struct ErrorReply {
    pub error: ErrorBody,
}

/// `{"message": Message}`: a sent message.
#[derive(Serialize)]
pub struct MessageReply {
    pub message: MessageView,
}

/// `{"messages": [Message], "hasMore"}`: history pages and unread fetches.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagesReply {
    pub messages: Vec<MessageView>,
    pub has_more: bool,
}

/// `{"conversation": Conversation}`.
#[derive(Serialize)]
pub struct ConversationReply {
    pub conversation: ConversationView,
}

/// `{"conversations": [Conversation]}`.
#[derive(Serialize)]
pub struct ConversationsReply {
    pub conversations: Vec<ConversationView>,
}

/// `{"members": [Member]}`.
#[derive(Serialize)]
pub struct MembersReply {
    pub members: Vec<MemberView>,
}

/// `{"user": User}`.
#[derive(Serialize)]
pub struct UserReply {
    pub user: UserView,
}

/// `{"users": [User]}`.
#[derive(Serialize)]
pub struct UsersReply {
    pub users: Vec<UserView>,
}

/// `{"user": User, "token"}`: after registration or login.
#[derive(Serialize)]
pub struct SessionReply {
    pub user: UserView,
    pub token: String,
}

/// `{"sessions": n}`: how many sessions `logout-all` ended.
#[derive(Serialize)]
pub struct SessionsEnded {
    pub sessions: usize,
}

/// `{"publicKey"}`: the VAPID key browsers subscribe with.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VapidKeyReply {
    pub public_key: String,
}

/// `{"subscription": Subscription}`.
#[derive(Serialize)]
pub struct SubscriptionReply {
    pub subscription: SubscriptionView,
}

/// `{"subscriptions": [Subscription]}`.
#[derive(Serialize)]
pub struct SubscriptionsReply {
    pub subscriptions: Vec<SubscriptionView>,
}

/// `{"mute": Mute}`.
#[derive(Serialize)]
pub struct MuteReply {
    pub mute: MuteView,
}

/// `{"mutes": [Mute]}`.
#[derive(Serialize)]
pub struct MutesReply {
    pub mutes: Vec<MuteView>,
}

/// `{"media": Media}`: an upload.
#[derive(Serialize)]
pub struct MediaReply {
    pub media: MediaView,
}

/// `{"url", "thumbnailUrl", "expiresAt"}`: signed links to a media item.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinksReply {
    pub url: String,
    pub thumbnail_url: Option<String>,
    pub expires_at: String,
}
