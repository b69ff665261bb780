//! The objects of `docs/API.md` a message is made of — `User`, `Message`
//! and its attachments — as `Serialize` structs built from domain types.
//! Conversations are in `conversation_views`, account objects (devices,
//! mutes, uploads, errors) in `account_views`.
//!
//! Owns: how each domain value looks on the wire (field names, timestamps as
//! RFC 3339, ids as numbers). May not touch: services or storage — a view is
//! built from values it is given.

use super::timestamp;
use crate::domain::{Attachment, Envelope, MessageKind, Quote, ReactionGroup, User};
use crate::presence::Presence;
use serde::Serialize;
use serde_json::Value;

/// The `User` object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// The user's id.
    pub id: i64,
    /// Their login name, as they spelled it.
    pub username: String,
    /// The name shown to others.
    pub display_name: String,
    /// Profiles only: whether they have a live connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
    /// Profiles only: when they went offline (`null` while online or never seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Option<String>>,
}

impl UserView {
    /// The user without presence (the caller, search results).
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

/// The `Message` object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// Globally unique, increasing.
    pub id: i64,
    /// Where it was sent.
    pub conversation_id: i64,
    /// Its place in the conversation: 1, 2, 3, … without gaps.
    pub seq: i64,
    /// Who sent it.
    pub sender_id: i64,
    /// The sender's display name, while they are a member.
    pub sender_name: Option<String>,
    /// Direct conversations: the other member.
    pub receiver_id: Option<i64>,
    /// `text`, or `system` for a record of a group change.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The text (system messages: a human-readable line).
    pub message: String,
    /// System messages: what happened, e.g. `{"event":"member_added","actor":1,"userIds":[3]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<Value>,
    /// When it was stored, RFC 3339.
    pub created_at: String,
    /// The sender's idempotency key.
    pub client_msg_id: Option<String>,
    /// Media sent with the message (possibly none).
    pub attachments: Vec<AttachmentView>,
    /// When the text was last edited, RFC 3339; `null` if never.
    pub edited_at: Option<String>,
    /// Deleted: a tombstone with no text and no attachments.
    pub deleted: bool,
    /// The message it answers, quoted; `null` if none.
    pub reply_to: Option<ReplyView>,
    /// Reactions, ordered by first use (possibly none).
    pub reactions: Vec<ReactionView>,
    /// `sent`, `delivered` or `read`, as the sender sees it; absent in
    /// `receive_message` (the recipient's copy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
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
            edited_at: m.message.edited_at.map(timestamp),
            deleted: m.message.is_deleted(),
            reply_to: m.reply.as_ref().map(ReplyView::new),
            reactions: m.reactions.iter().map(ReactionView::new).collect(),
            status: None,
        }
    }
}

/// An attachment as clients see it. Local media is fetched from `url` with
/// the member's `Authorization` header (or a link from `GET /api/media/{id}/link`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    /// The media item's id.
    pub id: String,
    /// `image`, `video`, `audio` or `file`.
    pub kind: String,
    /// Where to fetch it: `/api/media/{id}`, or Cloudinary's URL.
    pub url: String,
    /// Its content type.
    pub mime: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its file name.
    pub name: String,
    /// Images: width in pixels.
    pub width: Option<i64>,
    /// Images: height in pixels.
    pub height: Option<i64>,
    /// Where to fetch a thumbnail, if there is one.
    pub thumbnail_url: Option<String>,
}

impl AttachmentView {
    /// The attachment with its URLs.
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

/// `replyTo`: the quoted message.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyView {
    /// The quoted message's id.
    pub id: i64,
    /// Who wrote it.
    pub sender_id: i64,
    /// Its text, at most 200 characters; `""` once it was deleted.
    pub message: String,
}

impl ReplyView {
    /// The quote as clients see it.
    pub fn new(q: &Quote) -> Self {
        Self { id: q.id.0, sender_id: q.sender_id.0, message: q.text.clone() }
    }
}

/// One emoji's reactions on a message.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionView {
    /// The emoji.
    pub emoji: String,
    /// How many reacted with it.
    pub count: usize,
    /// Who, in the order they reacted.
    pub user_ids: Vec<i64>,
}

impl ReactionView {
    /// The group as clients see it.
    pub fn new(g: &ReactionGroup) -> Self {
        Self {
            emoji: g.emoji.as_str().to_string(),
            count: g.user_ids.len(),
            user_ids: g.user_ids.iter().map(|u| u.0).collect(),
        }
    }

    /// A message's reactions.
    pub fn list(groups: &[ReactionGroup]) -> Vec<Self> {
        groups.iter().map(Self::new).collect()
    }
}
