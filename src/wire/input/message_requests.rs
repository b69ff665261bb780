//! The Socket.IO event payloads (`send_message` is also `POST /api/messages`).
//!
//! Owns: these request shapes. May not touch: the services.

use super::{Lenient, PositiveId};
use crate::chat::{SendMessage, Target};
use crate::domain::{ClientMsgId, ConnectionId, Error, MessageText, UserId};
use crate::media::AttachmentRequest;
use crate::media::cloudinary::Upload;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `send_message` / `POST /api/messages`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a message object")]
pub struct SendMessageRequest {
    /// A direct message to this user…
    #[serde(default)]
    pub receiver_id: Option<PositiveId>,
    /// …or a message in this conversation.
    #[serde(default)]
    pub conversation_id: Option<PositiveId>,
    /// The text; may be absent (or blank) when there are attachments.
    #[serde(default)]
    pub message: Option<String>,
    /// The client's idempotency key.
    #[serde(default)]
    pub client_msg_id: Option<String>,
    /// Who the client says is sending; must be the caller, if given.
    #[serde(default)]
    pub sender_id: SenderClaim,
    /// Media sent with the message.
    #[serde(default)]
    pub attachments: Option<Vec<AttachmentItem>>,
    /// The message it answers.
    #[serde(default)]
    pub reply_to: Option<PositiveId>,
}

/// A `senderId` as a client claims it: any JSON, since anything but the
/// caller's own id (or nothing) is refused as `forbidden`, not `invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SenderClaim {
    /// Absent or `null`.
    #[default]
    None,
    /// An integer.
    Id(i64),
    /// Anything else.
    Other,
}

impl<'de> Deserialize<'de> for SenderClaim {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => SenderClaim::None,
            v => v.as_i64().map_or(SenderClaim::Other, SenderClaim::Id),
        })
    }
}

/// One attachment: `{id}` (an upload), or a Cloudinary upload result in
/// Cloudinary's own field names or their camelCase spelling.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an attachment object")]
pub struct AttachmentItem {
    /// An upload's id (ignored for a Cloudinary upload).
    #[serde(default)]
    pub id: Lenient<String>,
    /// Cloudinary: the asset's public id.
    #[serde(default, alias = "public_id")]
    pub public_id: Option<String>,
    /// Cloudinary: the asset version.
    #[serde(default)]
    pub version: Option<i64>,
    /// Cloudinary: its signature over the upload result.
    #[serde(default)]
    pub signature: Option<String>,
    /// Cloudinary: `image`, `video` or `raw`.
    #[serde(default, alias = "resource_type")]
    pub resource_type: Option<String>,
    /// Cloudinary: the file format.
    #[serde(default)]
    pub format: Option<String>,
    /// Cloudinary: size in bytes (0 if not a number).
    #[serde(default)]
    pub bytes: Lenient<i64>,
    /// Cloudinary: width in pixels.
    #[serde(default)]
    pub width: Lenient<i64>,
    /// Cloudinary: height in pixels.
    #[serde(default)]
    pub height: Lenient<i64>,
    /// Cloudinary: the uploaded file's name.
    #[serde(default, alias = "original_filename")]
    pub original_filename: Lenient<String>,
}

/// What a send needs besides its JSON: who sends, from which connection
/// (which does not get its own message back), under which length limit.
#[derive(Debug, Clone)]
pub struct SendContext {
    /// The authenticated caller.
    pub sender: UserId,
    /// The socket it came from, if any.
    pub origin: Option<ConnectionId>,
    /// `limits.message_max_chars`.
    pub max_chars: usize,
}

impl TryFrom<(SendMessageRequest, SendContext)> for SendMessage {
    type Error = Error;

    fn try_from((r, cx): (SendMessageRequest, SendContext)) -> Result<Self, Error> {
        if !matches!(r.sender_id, SenderClaim::None) && r.sender_id != SenderClaim::Id(cx.sender.0) {
            return Err(Error::Forbidden("senderId does not match the authenticated user"));
        }
        let target = match (r.receiver_id, r.conversation_id) {
            (Some(user), None) => Target::User(user.into()),
            (None, Some(conversation)) => Target::Conversation(conversation.into()),
            (None, None) => return Err(Error::invalid("`receiverId` or `conversationId` is required")),
            (Some(_), Some(_)) => {
                return Err(Error::invalid("give `receiverId` or `conversationId`, not both"));
            }
        };
        let attachments = r
            .attachments
            .unwrap_or_default()
            .into_iter()
            .map(AttachmentRequest::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let text = match r.message {
            // A message may be only attachments.
            None => MessageText::empty(),
            Some(t) if t.trim().is_empty() && !attachments.is_empty() => MessageText::empty(),
            Some(t) => MessageText::parse(t, cx.max_chars)?,
        };
        if text.as_str().is_empty() && attachments.is_empty() {
            return Err(Error::invalid("`message` must not be empty"));
        }
        Ok(SendMessage {
            sender: cx.sender,
            target,
            text,
            client_msg_id: r.client_msg_id.map(ClientMsgId::parse).transpose()?,
            origin: cx.origin,
            attachments,
            reply_to: r.reply_to.map(Into::into),
        })
    }
}

/// A Cloudinary text field: 1-512 bytes.
fn cloudinary_text(v: Option<String>, name: &str) -> Result<String, Error> {
    match v {
        Some(s) if !s.is_empty() && s.len() <= 512 => Ok(s),
        _ => Err(Error::invalid(format!("attachment `{name}` must be a non-empty string"))),
    }
}

impl TryFrom<AttachmentItem> for AttachmentRequest {
    type Error = Error;

    fn try_from(a: AttachmentItem) -> Result<Self, Error> {
        if a.public_id.is_none() {
            return match a.id.0 {
                Some(id) if !id.is_empty() && id.len() <= 64 => Ok(AttachmentRequest::Uploaded(id)),
                _ => Err(Error::invalid("attachment `id` must be the id of an upload")),
            };
        }
        Ok(AttachmentRequest::Cloudinary(Upload {
            public_id: cloudinary_text(a.public_id, "publicId")?,
            version: a.version.ok_or_else(|| Error::invalid("attachment `version` must be a number"))?,
            signature: cloudinary_text(a.signature, "signature")?,
            resource_type: cloudinary_text(a.resource_type, "resourceType")?,
            format: cloudinary_text(a.format, "format")?,
            bytes: a.bytes.0.unwrap_or(0).max(0),
            width: a.width.0,
            height: a.height.0,
            original_filename: a.original_filename.0,
        }))
    }
}

/// `fetch_unread_messages`: `{}` or `{conversationId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchUnreadRequest {
    /// Only this conversation's messages.
    #[serde(default)]
    pub conversation_id: Option<PositiveId>,
}

/// `mark_read`: everything up to `messageId` is read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkReadRequest {
    /// Where.
    pub conversation_id: PositiveId,
    /// The newest message read.
    pub message_id: PositiveId,
}

/// `typing`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingRequest {
    /// Where.
    pub conversation_id: PositiveId,
    /// Started (true) or stopped.
    pub is_typing: bool,
}

/// `join` (the design's: the socket is already its user's; only that user
/// may be named).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    /// Must be the caller.
    pub user_id: PositiveId,
}
