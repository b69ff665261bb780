//! The JSON the outside world sees (`docs/API.md`), kept apart from storage
//! rows so either side can change without breaking the other. Both
//! transports (HTTP and Socket.IO) use these.

use crate::chat::{Message, direct_peer};
use crate::domain::{Error, Millis, UserId};
use crate::fanout::Event;
use crate::presence::Status;
use crate::store::{ConversationSummary, MemberRow, UserRow};
use serde::Serialize;
use serde_json::{Value, json};

pub mod input;

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
    pub fn new(u: &UserRow) -> Self {
        Self {
            id: u.id.0,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            online: None,
            last_seen: None,
        }
    }

    /// With presence: `online` and `lastSeen` (null while online or never seen).
    pub fn with_presence(u: &UserRow, p: Status) -> Self {
        let last_seen = if p.online {
            None
        } else {
            p.last_seen.map(timestamp)
        };
        Self {
            online: Some(p.online),
            last_seen: Some(last_seen),
            ..Self::new(u)
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: i64,
    pub conversation_id: i64,
    pub seq: i64,
    pub sender_id: i64,
    pub receiver_id: Option<i64>,
    pub message: String,
    pub created_at: String,
    pub client_msg_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

impl MessageView {
    /// The full view, with the status as seen by the sender.
    pub fn new(m: &Message) -> Self {
        Self {
            status: Some(m.status.as_str()),
            ..Self::live(m)
        }
    }

    /// The `receive_message` payload: no status (it is the recipient's copy).
    pub fn live(m: &Message) -> Self {
        Self {
            id: m.row.id.0,
            conversation_id: m.row.conversation_id.0,
            seq: m.row.seq,
            sender_id: m.row.sender_id.0,
            receiver_id: m.receiver_id.map(|u| u.0),
            message: m.row.body.clone(),
            created_at: timestamp(m.row.created_at),
            client_msg_id: m.row.client_msg_id.as_ref().map(|c| c.as_str().to_string()),
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
    pub role: String,
    pub delivered_seq: i64,
    pub read_seq: i64,
}

impl MemberView {
    pub fn new(m: &MemberRow) -> Self {
        Self {
            user_id: m.user_id.0,
            username: m.username.clone(),
            display_name: m.display_name.clone(),
            role: m.role.clone(),
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
    /// For a direct conversation: the other person.
    pub peer_id: Option<i64>,
    pub members: Vec<MemberView>,
    pub unread_count: i64,
    pub last_seq: i64,
    pub last_message: Option<MessageView>,
    pub created_at: String,
}

impl ConversationView {
    pub fn new(s: &ConversationSummary, me: UserId) -> Self {
        let c = &s.conversation;
        Self {
            id: c.id.0,
            kind: c.kind.as_str(),
            name: c.name.clone(),
            peer_id: direct_peer(c, me).map(|u| u.0),
            members: c.members.iter().map(MemberView::new).collect(),
            unread_count: s.unread,
            last_seq: c.last_seq,
            last_message: s
                .last_message
                .clone()
                .map(|row| MessageView::new(&Message::new(row, c))),
            created_at: timestamp(c.created_at),
        }
    }
}

/// `{"code","message"}`: the body of every error, on every transport.
pub fn error_body(e: &Error) -> Value {
    json!({ "code": e.code().as_str(), "message": e.to_string() })
}

/// The Socket.IO event name and payload of a domain event.
pub fn event(e: &Event) -> (&'static str, Value) {
    match e {
        Event::Message(m) => ("receive_message", json!(MessageView::live(m))),
        Event::Status {
            conversation_id,
            message_id,
            seq,
            status,
            reader,
        } => (
            "message_status",
            json!({
                "conversationId": conversation_id.0,
                "messageId": message_id.0,
                "seq": seq,
                "status": status.as_str(),
                "userId": reader.0,
            }),
        ),
        Event::Typing {
            conversation_id,
            user,
            is_typing,
        } => (
            "typing",
            json!({ "conversationId": conversation_id.0, "userId": user.0, "isTyping": is_typing }),
        ),
        Event::Presence {
            user,
            online,
            last_seen,
        } => (
            "presence",
            json!({ "userId": user.0, "online": online, "lastSeen": last_seen.map(timestamp) }),
        ),
    }
}
