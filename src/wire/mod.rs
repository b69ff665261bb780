//! The JSON the outside world sees (`docs/API.md`), kept apart from storage
//! rows so either side can change without breaking the other. Both
//! transports (HTTP and Socket.IO) use these.

pub mod input;

use crate::chat::MemberReceipt;
use crate::domain::{
    Attachment, Conversation, ConversationSummary, Envelope, Error, Member, MessageKind, Millis, User, UserId,
};
use crate::fanout::Event;
use crate::presence::Presence;
use serde::Serialize;
use serde_json::{Value, json};

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-24T05:43:57.123Z`.
pub fn timestamp(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

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
        let system = match m.message.kind {
            MessageKind::System => m.message.meta.as_deref().and_then(|s| serde_json::from_str(s).ok()),
            MessageKind::Text => None,
        };
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

/// Who has received and read one message.
pub fn receipts(message: &Envelope, receipts: &[MemberReceipt]) -> Value {
    let list: Vec<Value> = receipts
        .iter()
        .map(|r| json!({ "userId": r.user.0, "delivered": r.delivered, "read": r.read }))
        .collect();
    json!({
        "messageId": message.message.id.0,
        "status": message.status.as_str(),
        "deliveredCount": receipts.iter().filter(|r| r.delivered).count(),
        "readCount": receipts.iter().filter(|r| r.read).count(),
        "memberCount": receipts.len(),
        "receipts": list,
    })
}

/// `{"code","message"}`: the body of every error, on every transport.
pub fn error_body(e: &Error) -> Value {
    json!({ "code": e.code().as_str(), "message": e.to_string() })
}

/// The Socket.IO event name and payload of a domain event.
pub fn event(e: &Event) -> (&'static str, Value) {
    match e {
        Event::Message(m) => ("receive_message", json!(MessageView::live(m))),
        Event::Receipt { conversation_id, message_id, seq, receipt, reader } => (
            "message_status",
            json!({
                "conversationId": conversation_id.0,
                "messageId": message_id.0,
                "seq": seq,
                "status": receipt.as_str(),
                "userId": reader.0,
            }),
        ),
        Event::Typing { conversation_id, user, display_name, is_typing } => (
            "typing",
            json!({ "conversationId": conversation_id.0, "userId": user.0, "displayName": display_name,
                    "isTyping": is_typing }),
        ),
        Event::Presence { user, online, last_seen } => {
            ("presence", json!({ "userId": user.0, "online": online, "lastSeen": last_seen.map(timestamp) }))
        }
        Event::ConversationUpdated(c) => {
            ("conversation_updated", json!({ "conversation": ConversationView::new(c, None) }))
        }
        Event::ConversationRemoved { conversation_id, reason } => (
            "conversation_removed",
            json!({ "conversationId": conversation_id.0, "reason": reason.as_str() }),
        ),
    }
}
