//! Messages as stored ([`Message`]) and what a message carries
//! ([`Attachment`]). A message in its conversation is an
//! [`super::Envelope`].
//!
//! Owns: [`Message`], [`MessageKind`] and [`Attachment`]. May not touch:
//! anything outside `domain`.

use super::{ClientMsgId, ConversationId, MessageId, Millis, Seq, UserId};
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
    /// The message it answers, in the same conversation.
    pub reply_to: Option<MessageId>,
    /// When its text was last edited.
    pub edited_at: Option<Millis>,
    /// When it was deleted: a tombstone keeps its id and seq, with no text
    /// and no attachments.
    pub deleted_at: Option<Millis>,
}

impl Message {
    /// Whether it was deleted (a tombstone).
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
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
