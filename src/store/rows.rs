//! The rows the storage traits take and return. They are storage's view of
//! the data; the JSON clients see is built from them in `wire`.

use crate::domain::{ClientMsgId, ConversationId, MessageId, Millis, Seq, SubscriptionId, TokenId, UserId};

/// A registered user as stored (without the password hash).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub created_at: Millis,
    pub last_seen_at: Option<Millis>,
}

/// What login needs to know about an account.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub user: UserRow,
    pub password_hash: String,
    /// An administrator disabled the account (`confab admin disable-user`).
    pub disabled: bool,
}

/// Input of `create_user`.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub created_at: Millis,
}

/// A login token's row, looked up by the token's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    pub id: TokenId,
    pub user_id: UserId,
    pub expires_at: Millis,
    /// Revoked, or its user is disabled: either way it no longer authenticates.
    pub revoked: bool,
}

/// Direct (two people) or group conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    Direct,
    Group,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
        }
    }

    pub(crate) fn from_db(s: &str) -> Self {
        if s == "group" { ConversationKind::Group } else { ConversationKind::Direct }
    }
}

/// A member's role in a group (direct conversations only have members).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// One member of a conversation with their delivery and read watermarks:
/// every message with `seq <= delivered_seq` reached one of their devices,
/// every message with `seq <= read_seq` was read.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub user_id: UserId,
    pub role: Role,
    pub joined_at: Millis,
    /// The conversation's last seq when they joined; unless the group shares
    /// its full history, they see only messages after it.
    pub joined_seq: Seq,
    pub delivered_seq: Seq,
    pub read_seq: Seq,
    /// The member's profile, so a conversation list needs no extra look-ups.
    pub username: String,
    pub display_name: String,
}

/// A conversation with its members.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub name: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    /// Groups: new members may read messages from before they joined.
    pub full_history: bool,
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    pub last_seq: Seq,
    pub last_message_at: Option<Millis>,
    pub members: Vec<MemberRow>,
}

impl ConversationRow {
    pub fn member(&self, user: UserId) -> Option<&MemberRow> {
        self.members.iter().find(|m| m.user_id == user)
    }
}

/// A conversation as listed for one user.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    pub conversation: ConversationRow,
    /// Text messages from others above the user's read watermark.
    pub unread: i64,
    pub last_message: Option<MessageRow>,
}

/// A user's words, or a record of something that happened to the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    System,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::System => "system",
        }
    }

    pub(crate) fn from_db(s: &str) -> Self {
        if s == "system" { MessageKind::System } else { MessageKind::Text }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub sender_id: UserId,
    pub client_msg_id: Option<ClientMsgId>,
    pub kind: MessageKind,
    pub body: String,
    /// System messages: the event as JSON (see `chat::groups`).
    pub meta: Option<String>,
    pub created_at: Millis,
    pub attachments: Vec<Attachment>,
}

/// Input of `append_message`.
pub struct NewMessage<'a> {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub client_msg_id: Option<&'a ClientMsgId>,
    pub body: &'a str,
    pub created_at: Millis,
    /// Media sent with the message (already checked to be the sender's).
    pub attachments: &'a [Attachment],
    /// Members with no live connection: each of their push devices gets a
    /// push job in the message's transaction (the outbox), due at `push_at`.
    pub push_to: &'a [UserId],
    pub push_at: Millis,
}

/// A [`NewMessage`] that owns its parts, to wait in a committer's queue.
pub(crate) struct QueuedMessage {
    pub(crate) conversation_id: ConversationId,
    pub(crate) sender_id: UserId,
    pub(crate) client_msg_id: Option<ClientMsgId>,
    pub(crate) body: String,
    pub(crate) created_at: Millis,
    pub(crate) attachments: Vec<Attachment>,
    pub(crate) push_to: Vec<UserId>,
    pub(crate) push_at: Millis,
}

impl QueuedMessage {
    pub(crate) fn of(m: &NewMessage<'_>) -> Self {
        Self {
            conversation_id: m.conversation_id,
            sender_id: m.sender_id,
            client_msg_id: m.client_msg_id.cloned(),
            body: m.body.to_string(),
            created_at: m.created_at,
            attachments: m.attachments.to_vec(),
            push_to: m.push_to.to_vec(),
            push_at: m.push_at,
        }
    }

    pub(crate) fn as_new(&self) -> NewMessage<'_> {
        NewMessage {
            conversation_id: self.conversation_id,
            sender_id: self.sender_id,
            client_msg_id: self.client_msg_id.as_ref(),
            body: &self.body,
            created_at: self.created_at,
            attachments: &self.attachments,
            push_to: &self.push_to,
            push_at: self.push_at,
        }
    }
}

/// A system message to record along with a membership or profile change.
#[derive(Debug, Clone, Copy)]
pub struct SystemNote<'a> {
    /// Who caused it.
    pub actor: UserId,
    /// Human-readable text, e.g. "ana added bob".
    pub body: &'a str,
    /// The event as JSON.
    pub meta: &'a str,
    pub at: Millis,
}

/// Input of `create_group`.
pub struct NewGroup<'a> {
    pub creator: UserId,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
    pub full_history: bool,
    /// Initial members besides the creator (already checked to exist).
    pub members: &'a [UserId],
    pub note: SystemNote<'a>,
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupPatch {
    pub name: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub full_history: Option<bool>,
}

/// The result of `append_message`.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    pub message: MessageRow,
    /// `false` when `(sender, client_msg_id)` already existed and the original
    /// message is returned instead of a new one.
    pub created: bool,
    /// The conversation as of the commit, members included: exactly who the
    /// message is for.
    pub conversation: ConversationRow,
}

/// Which watermark to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watermark {
    Delivered,
    Read,
}

/// How far a watermark moved: messages with `old < seq <= new` changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advanced {
    pub old: Seq,
    pub new: Seq,
}

/// "`user` has received message `seq` of `conversation`" (a live receipt).
/// Marks sort by conversation, user, seq: the order to apply them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryMark {
    pub conversation: ConversationId,
    pub user: UserId,
    pub seq: Seq,
    /// The message at `seq`, and who to tell it was delivered: its sender,
    /// or nobody for a system message (the store reads neither).
    pub message: MessageId,
    pub notify: Option<UserId>,
}

/// A push provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushKind {
    WebPush,
    Fcm,
    Apns,
}

impl PushKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::WebPush => "webpush",
            PushKind::Fcm => "fcm",
            PushKind::Apns => "apns",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webpush" => Some(PushKind::WebPush),
            "fcm" => Some(PushKind::Fcm),
            "apns" => Some(PushKind::Apns),
            _ => None,
        }
    }
}

/// A device registered for push.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRow {
    pub id: SubscriptionId,
    pub user_id: UserId,
    pub kind: PushKind,
    /// Web Push: the endpoint URL. FCM and APNs: the device token.
    pub address: String,
    /// Web Push: the browser's P-256 public key, base64url.
    pub p256dh: Option<String>,
    /// Web Push: the 16-byte auth secret, base64url.
    pub auth: Option<String>,
    /// APNs: `sandbox` or `production`.
    pub environment: Option<String>,
    pub created_at: Millis,
}

/// A claimed push job: one device, one conversation, the newest message.
#[derive(Debug, Clone, PartialEq)]
pub struct PushJob {
    pub id: i64,
    pub subscription: SubscriptionRow,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    /// How many messages collapsed into this job.
    pub pending: i64,
    /// Bumped whenever a newer message collapses into the job.
    pub version: i64,
    /// Failed attempts so far.
    pub attempts: i64,
}

/// A mute: pushes for one conversation (or all, when `conversation` is
/// `None`) are held back until `until` (forever when `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct MuteRow {
    pub conversation: Option<ConversationId>,
    pub until: Option<Millis>,
}

/// A media item as a message carries it (stored as JSON with the message).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: String,
    /// `image`, `video`, `audio` or `file`.
    pub kind: String,
    pub mime: String,
    pub size: i64,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    /// Where the bytes are, for media not served by Confab (Cloudinary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Local media: Confab has a thumbnail of it.
    #[serde(default)]
    pub has_thumbnail: bool,
}

/// An uploaded (or Cloudinary-registered) media item.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRow {
    pub id: String,
    pub owner_id: UserId,
    /// `local` or `cloudinary`.
    pub backend: String,
    pub kind: String,
    pub mime: String,
    pub size: i64,
    pub name: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub sha256: Option<String>,
    pub thumb_sha256: Option<String>,
    /// Cloudinary: `{publicId, version, resourceType, format}` as JSON.
    pub remote: Option<String>,
    pub created_at: Millis,
    pub attached_at: Option<Millis>,
}
