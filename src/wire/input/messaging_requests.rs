//! The payloads of edits, deletions, reactions, message search and
//! `replyTo` (#17): `edit_message` / `PATCH /api/messages/{id}`,
//! `delete_message`, `react` / `unreact`, `GET /api/search/messages`.
//!
//! Owns: these request shapes and what makes each field valid. May not
//! touch: the services.

use super::{PositiveId, parse};
use crate::domain::{ConversationId, Emoji, Error, MessageId, MessageText, SearchQuery};
use serde::Deserialize;
use serde_json::Value;

/// `edit_message`: `{messageId, message}` (REST: the id is in the path).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an edit object")]
pub struct EditRequest {
    /// Which message (Socket.IO only).
    #[serde(default)]
    pub message_id: Option<PositiveId>,
    /// The new text.
    pub message: String,
}

/// `delete_message`: `{messageId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRef {
    /// Which message.
    pub message_id: PositiveId,
}

/// `react` / `unreact`: `{messageId, emoji}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactRequest {
    /// Which message.
    pub message_id: PositiveId,
    /// One emoji.
    pub emoji: String,
}

/// `GET /api/search/messages`'s query string, as received (all text, so a
/// bad number is our `invalid`, not axum's rejection).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchParams {
    /// The words.
    #[serde(default)]
    pub q: Option<String>,
    /// Only this conversation.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// Page size (default 20, 1-100).
    #[serde(default)]
    pub limit: Option<String>,
    /// Older than this message.
    #[serde(default)]
    pub before: Option<String>,
}

/// A validated search.
#[derive(Debug)]
pub struct Search {
    /// The words.
    pub query: SearchQuery,
    /// Only this conversation.
    pub conversation: Option<ConversationId>,
    /// Page size.
    pub limit: i64,
    /// Older than this message.
    pub before: Option<MessageId>,
}

/// A positive id in a query string.
fn query_id(v: Option<&str>, name: &str) -> Result<Option<i64>, Error> {
    match v {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(Error::invalid(format!("`{name}` must be a positive integer id"))),
        },
    }
}

impl TryFrom<SearchParams> for Search {
    type Error = Error;

    fn try_from(p: SearchParams) -> Result<Self, Error> {
        let query = SearchQuery::parse(p.q.as_deref().unwrap_or(""))?;
        let limit = match p.limit.as_deref() {
            None | Some("") => 20,
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| Error::invalid("`limit` must be a number from 1 to 100"))?,
        };
        Ok(Search {
            query,
            conversation: query_id(p.conversation_id.as_deref(), "conversationId")?.map(ConversationId),
            limit,
            before: query_id(p.before.as_deref(), "before")?.map(MessageId),
        })
    }
}

/// `edit_message`: the message and its new text (same rules as sending).
pub fn edit_message(v: &Value, max_chars: usize) -> Result<(MessageId, MessageText), Error> {
    let r = parse::<EditRequest>(v)?;
    let id = r.message_id.ok_or_else(|| Error::invalid("`messageId` is required"))?;
    Ok((id.into(), MessageText::parse(r.message, max_chars)?))
}

/// `PATCH /api/messages/{id}`'s body `{message}`.
pub fn edit_body(v: &Value, max_chars: usize) -> Result<MessageText, Error> {
    MessageText::parse(parse::<EditRequest>(v)?.message, max_chars)
}

/// `delete_message`: `{messageId}`.
pub fn message_ref(v: &Value) -> Result<MessageId, Error> {
    Ok(parse::<MessageRef>(v)?.message_id.into())
}

/// `react` / `unreact`: `{messageId, emoji}`.
pub fn react(v: &Value) -> Result<(MessageId, Emoji), Error> {
    let r = parse::<ReactRequest>(v)?;
    Ok((r.message_id.into(), Emoji::parse(&r.emoji)?))
}

/// A message id in a path (`/api/messages/{id}`): anything else is no such message.
pub fn path_message_id(s: &str) -> Result<MessageId, Error> {
    s.parse::<i64>().ok().filter(|&n| n > 0).map(MessageId).ok_or(Error::NotFound("message"))
}
