//! The objects of `docs/API.md` (`User`, `Message`, `Conversation`, …) as
//! `Serialize` structs, built from domain types.
//!
//! Owns: how each domain value looks on the wire (field names, timestamps as
//! RFC 3339, ids as numbers). May not touch: services or storage — a view is
//! built from values it is given.

use super::timestamp;
use crate::chat::MemberReceipt;
use crate::domain::{
    Attachment, Conversation, ConversationSummary, Envelope, Error, MediaItem, Member, MessageKind, Mute,
    PushKind, Subscription, User, UserId,
};
use crate::media::cloudinary::UploadSignature;
use crate::presence::Presence;
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Option<String>>,
}

impl UserView {
    pub fn new(u: &User) -> Self {
        Self {
            id: u.id.0,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            online: None,
            last_seen: None,
        }
    }

    /// With presence: `online` and `lastSeen` (null while online or never seen).
    pub fn with_presence(u: &User, p: Presence) -> Self {
        let last_seen = if p.online { None } else { p.last_seen.map(timestamp) };
        Self { online: Some(p.online), last_seen: Some(last_seen), ..Self::new(u) }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: i64,
    pub conversation_id: i64,
    pub seq: i64,
    pub sender_id: i64,
    pub sender_name: Option<String>,
    pub receiver_id: Option<i64>,
    /// `text`, or `system` for a record of a group change.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
    /// System messages: what happened, e.g. `{"event":"member_added","actor":1,"userIds":[3]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<Value>,
    pub created_at: String,
    pub client_msg_id: Option<String>,
    /// Media sent with the message (possibly none).
    pub attachments: Vec<AttachmentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

/// An attachment as clients see it. Local media is fetched from `url` with
/// the member's `Authorization` header (or a link from `GET /api/media/{id}/link`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    pub id: String,
    pub kind: String,
    pub url: String,
    pub mime: String,
    pub size: i64,
    pub name: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub thumbnail_url: Option<String>,
}

impl AttachmentView {
    pub fn new(a: &Attachment) -> Self {
        let local = format!("/api/media/{}", a.id);
        Self {
            id: a.id.clone(),
            kind: a.kind.clone(),
            url: a.url.clone().unwrap_or_else(|| local.clone()),
            mime: a.mime.clone(),
            size: a.size,
            name: a.name.clone(),
            width: a.width,
            height: a.height,
            thumbnail_url: a
                .thumbnail_url
                .clone()
                .or_else(|| a.has_thumbnail.then(|| format!("{local}/thumbnail"))),
        }
    }
}

impl MessageView {
    /// The full view, with the status as seen by the sender.
    pub fn new(m: &Envelope) -> Self {
        Self { status: Some(m.status.as_str()), ..Self::live(m) }
    }

    /// The `receive_message` payload: no status (it is the recipient's copy).
    pub fn live(m: &Envelope) -> Self {
        let system = system_event(m);
        Self {
            id: m.message.id.0,
            conversation_id: m.message.conversation_id.0,
            seq: m.message.seq,
            sender_id: m.message.sender_id.0,
            sender_name: m.sender_name.clone(),
            receiver_id: m.receiver_id.map(|u| u.0),
            kind: m.message.kind.as_str(),
            message: m.message.body.clone(),
            system,
            created_at: timestamp(m.message.created_at),
            client_msg_id: m.message.client_msg_id.as_ref().map(|c| c.as_str().to_string()),
            attachments: m.message.attachments.iter().map(AttachmentView::new).collect(),
            status: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub joined_at: String,
    pub delivered_seq: i64,
    pub read_seq: i64,
}

impl MemberView {
    pub fn new(m: &Member) -> Self {
        Self {
            user_id: m.user_id.0,
            username: m.username.clone(),
            display_name: m.display_name.clone(),
            role: m.role.as_str(),
            joined_at: timestamp(m.joined_at),
            delivered_seq: m.delivered_seq,
            read_seq: m.read_seq,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    /// Groups: `full` (new members read earlier messages) or `joined`.
    pub history_visibility: &'static str,
    /// For a direct conversation: the other person.
    pub peer_id: Option<i64>,
    pub members: Vec<MemberView>,
    pub last_seq: i64,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Option<MessageView>>,
}

impl ConversationView {
    /// The conversation as `me` sees it (`me` picks the direct peer).
    pub fn new(c: &Conversation, me: Option<UserId>) -> Self {
        Self {
            id: c.id.0,
            kind: c.kind.as_str(),
            name: c.name.clone(),
            description: c.description.clone(),
            avatar_url: c.avatar_url.clone(),
            history_visibility: if c.full_history { "full" } else { "joined" },
            peer_id: me.and_then(|me| c.peer_of(me)).map(|u| u.0),
            members: c.members.iter().map(MemberView::new).collect(),
            last_seq: c.last_seq,
            created_at: timestamp(c.created_at),
            unread_count: None,
            last_message: None,
        }
    }

    /// A conversation-list entry: with unread count and last message.
    pub fn summary(s: &ConversationSummary, me: UserId) -> Self {
        let c = &s.conversation;
        Self {
            unread_count: Some(s.unread),
            last_message: Some(s.last_message.clone().map(|row| MessageView::new(&Envelope::new(row, c)))),
            ..Self::new(c, Some(me))
        }
    }
}

/// Who has received and read one message (`GET …/receipts`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptsView {
    pub message_id: i64,
    /// The message's status as its sender sees it.
    pub status: &'static str,
    pub delivered_count: usize,
    pub read_count: usize,
    pub member_count: usize,
    pub receipts: Vec<ReceiptView>,
}

/// One member's receipt.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    pub user_id: i64,
    pub delivered: bool,
    pub read: bool,
}

impl ReceiptsView {
    pub fn new(message: &Envelope, receipts: &[MemberReceipt]) -> Self {
        Self {
            message_id: message.message.id.0,
            status: message.status.as_str(),
            delivered_count: receipts.iter().filter(|r| r.delivered).count(),
            read_count: receipts.iter().filter(|r| r.read).count(),
            member_count: receipts.len(),
            receipts: receipts
                .iter()
                .map(|r| ReceiptView { user_id: r.user.0, delivered: r.delivered, read: r.read })
                .collect(),
        }
    }
}

/// A push device. The address is `endpoint` for Web Push and `token` for
/// FCM and APNs; APNs devices also say their `environment`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Option<String>>,
}

impl SubscriptionView {
    pub fn new(s: &Subscription) -> Self {
        let (endpoint, token, environment) = match s.kind {
            PushKind::WebPush => (Some(s.address.clone()), None, None),
            PushKind::Fcm => (None, Some(s.address.clone()), None),
            PushKind::Apns => (None, Some(s.address.clone()), Some(s.environment.clone())),
        };
        Self {
            id: s.id.0,
            kind: s.kind.as_str(),
            created_at: timestamp(s.created_at),
            endpoint,
            token,
            environment,
        }
    }
}

/// A mute: one conversation (or all, `conversationId: null`) until a time
/// (or `null`: until unmuted).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MuteView {
    pub conversation_id: Option<i64>,
    pub until: Option<String>,
}

impl MuteView {
    pub fn new(m: &Mute) -> Self {
        Self { conversation_id: m.conversation.map(|c| c.0), until: m.until.map(timestamp) }
    }
}

/// An uploaded media item: the attachment view plus when it was uploaded.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaView {
    #[serde(flatten)]
    pub attachment: AttachmentView,
    pub created_at: String,
}

impl MediaView {
    /// `attachment` is the item as a message would carry it.
    pub fn new(m: &MediaItem, attachment: &Attachment) -> Self {
        Self { attachment: AttachmentView::new(attachment), created_at: timestamp(m.created_at) }
    }
}

/// Signed parameters for a direct upload to Cloudinary.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSignatureView {
    pub cloud_name: String,
    pub api_key: String,
    pub upload_url: String,
    pub timestamp: i64,
    pub folder: String,
    pub allowed_formats: String,
    pub signature: String,
}

impl From<UploadSignature> for UploadSignatureView {
    fn from(s: UploadSignature) -> Self {
        Self {
            cloud_name: s.cloud_name,
            api_key: s.api_key,
            upload_url: s.upload_url,
            timestamp: s.timestamp,
            folder: s.folder,
            allowed_formats: s.allowed_formats,
            signature: s.signature,
        }
    }
}

/// `{"code","message"}`: the body of every error, on every transport.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
}

impl ErrorBody {
    pub fn new(e: &Error) -> Self {
        Self { code: e.code().as_str(), message: e.to_string() }
    }
}

/// A system message's event (`meta`) as JSON, if it is one.
fn system_event(m: &Envelope) -> Option<Value> {
    match m.message.kind {
        MessageKind::System => m.message.meta.as_deref().and_then(|s| serde_json::from_str(s).ok()),
        MessageKind::Text => None,
    }
}
