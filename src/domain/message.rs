//! Messages: what is stored ([`Message`]), what a message carries
//! ([`Attachment`]), and a message in its conversation ([`Envelope`]: who
//! it is for and how far it got).

use super::{ClientMsgId, Conversation, ConversationId, ConversationKind, MessageId, Millis, Seq, UserId};
use serde::{Deserialize, Serialize};

/// A user's words, or a record of something that happened to the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Written by a user.
    Text,
    /// A record of a group change (`created`, `member_added`, …).
    System,
}

impl MessageKind {
    /// The API's and the database's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::System => "system",
        }
    }

    /// Reads a stored kind; anything but `system` is text.
    pub fn from_stored(s: &str) -> Self {
        if s == "system" { MessageKind::System } else { MessageKind::Text }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Globally unique, increasing in insertion order.
    pub id: MessageId,
    /// Where it was sent.
    pub conversation_id: ConversationId,
    /// Its place in the conversation: 1, 2, 3, … without gaps.
    pub seq: Seq,
    /// Who sent it (for a system message: who caused the change).
    pub sender_id: UserId,
    /// The sender's idempotency key.
    pub client_msg_id: Option<ClientMsgId>,
    /// Text or system.
    pub kind: MessageKind,
    /// The text (system messages: a human-readable line).
    pub body: String,
    /// System messages: the event as JSON (see `chat::groups`).
    pub meta: Option<String>,
    /// When it was stored.
    pub created_at: Millis,
    /// Media sent with it.
    pub attachments: Vec<Attachment>,
}

/// A media item as a message carries it (stored as JSON with the message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// The media item's id.
    pub id: String,
    /// `image`, `video`, `audio` or `file`.
    pub kind: String,
    /// Its content type, as sniffed (local) or reported (Cloudinary).
    pub mime: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its file name (a label only).
    pub name: String,
    /// Images and videos: width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    /// Images and videos: height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    /// Where the bytes are, for media not served by Confab (Cloudinary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Cloudinary: a thumbnail's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Local media: Confab has a thumbnail of it.
    #[serde(default)]
    pub has_thumbnail: bool,
}

/// Sent → delivered → read, derived from the other members' watermarks:
/// a message is delivered (read) once every other member's delivered (read)
/// watermark has reached its seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    /// Stored; not yet on every recipient's device.
    Sent,
    /// On a device of every recipient.
    Delivered,
    /// Read by every recipient.
    Read,
}

impl MessageStatus {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
        }
    }
}

/// A message in its conversation, as the domain hands it out: the stored
/// message plus what follows from the conversation (who a direct message is
/// for, the sender's name, its status).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The stored message.
    pub message: Message,
    /// The other member, for a direct conversation.
    pub receiver_id: Option<UserId>,
    /// The sender's display name, while they are a member.
    pub sender_name: Option<String>,
    /// How far it got, from the sender's point of view.
    pub status: MessageStatus,
}

impl Envelope {
    /// `message` as it stands in `conversation` now.
    pub fn new(message: Message, conversation: &Conversation) -> Self {
        let others = || conversation.members.iter().filter(|m| m.user_id != message.sender_id);
        let receiver_id = match conversation.kind {
            ConversationKind::Direct => others().next().map(|m| m.user_id),
            ConversationKind::Group => None,
        };
        let status = if others().all(|m| m.read_seq >= message.seq) {
            MessageStatus::Read
        } else if others().all(|m| m.delivered_seq >= message.seq) {
            MessageStatus::Delivered
        } else {
            MessageStatus::Sent
        };
        let sender_name = conversation.member(message.sender_id).map(|m| m.display_name.clone());
        Self { message, receiver_id, sender_name, status }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Member, Role};

    fn conv(marks: &[(i64, i64, i64)]) -> Conversation {
        Conversation {
            id: ConversationId(1),
            kind: ConversationKind::Direct,
            name: None,
            description: None,
            avatar_url: None,
            full_history: false,
            created_by: None,
            created_at: 0,
            last_seq: 10,
            last_message_at: None,
            members: marks
                .iter()
                .map(|&(u, d, r)| Member {
                    user_id: UserId(u),
                    role: Role::Member,
                    joined_at: 0,
                    joined_seq: 0,
                    delivered_seq: d,
                    read_seq: r,
                    username: format!("u{u}"),
                    display_name: format!("U{u}"),
                })
                .collect(),
        }
    }

    fn msg(seq: i64, sender: i64) -> Message {
        Message {
            id: MessageId(seq),
            conversation_id: ConversationId(1),
            seq,
            sender_id: UserId(sender),
            client_msg_id: None,
            kind: MessageKind::Text,
            body: "hi".into(),
            meta: None,
            created_at: 0,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn status_follows_the_receivers_watermarks() {
        // Sender 1's own watermarks never matter.
        let c = conv(&[(1, 0, 0), (2, 5, 3)]);
        assert_eq!(Envelope::new(msg(3, 1), &c).status, MessageStatus::Read);
        assert_eq!(Envelope::new(msg(5, 1), &c).status, MessageStatus::Delivered);
        assert_eq!(Envelope::new(msg(6, 1), &c).status, MessageStatus::Sent);
        assert_eq!(Envelope::new(msg(6, 1), &c).receiver_id, Some(UserId(2)));
    }
}
