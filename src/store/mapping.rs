//! Rows to domain types, and the few values both backends compute the same
//! way before writing (a direct conversation's key, a message's attachment
//! JSON, the row a message becomes).
//!
//! Owns: the mapping from column names to domain types, written once against
//! [`Cols`] so it serves sqlx's SQLite and PostgreSQL rows and rusqlite's.
//! May not touch: connections or SQL text.

use super::exec::{Col, Cols};
use super::{NewMessage, PushJob, StoreError, StoreResult, SystemNote, TokenRow};
use crate::domain::{
    Attachment, ClientMsgId, Conversation, ConversationId, ConversationKind, ConversationSummary, MediaItem,
    Member, Message, MessageId, MessageKind, Millis, Mute, PushKind, Role, Subscription, SubscriptionId,
    TokenId, User, UserId,
};
use std::collections::HashMap;

pub(crate) fn user(r: &impl Cols) -> StoreResult<User> {
    Ok(User {
        id: UserId(r.col("id")?),
        username: r.col("username")?,
        display_name: r.col("display_name")?,
        created_at: r.col("created_at")?,
        last_seen_at: r.col("last_seen_at")?,
    })
}

/// A token row; `revoked` when the statement does not say.
pub(crate) fn token(r: &impl Cols, revoked: Option<bool>) -> StoreResult<TokenRow> {
    Ok(TokenRow {
        id: TokenId(r.col("id")?),
        user_id: UserId(r.col("user_id")?),
        expires_at: r.col("expires_at")?,
        revoked: match revoked {
            Some(v) => v,
            None => r.col("revoked")?,
        },
    })
}

/// A message from its columns, each name prefixed with `p` (`""` or `"lm_"`).
fn message_with(r: &impl Cols, p: &str, conversation: Option<ConversationId>) -> StoreResult<Message> {
    let col = |name: &str| format!("{p}{name}");
    let client: Option<String> = r.col(&col("client_msg_id"))?;
    let kind: String = r.col(&col("kind"))?;
    Ok(Message {
        id: MessageId(r.col(&col("id"))?),
        conversation_id: match conversation {
            Some(c) => c,
            None => ConversationId(r.col(&col("conversation_id"))?),
        },
        seq: r.col(&col("seq"))?,
        sender_id: UserId(r.col(&col("sender_id"))?),
        client_msg_id: client.map(ClientMsgId::from_stored),
        kind: MessageKind::from_stored(&kind),
        body: r.col(&col("body"))?,
        meta: r.col(&col("meta"))?,
        created_at: r.col(&col("created_at"))?,
        attachments: attachments(r.col(&col("attachments"))?),
        reply_to: Col::<Option<i64>>::col(r, &col("reply_to"))?.map(MessageId),
        edited_at: r.col(&col("edited_at"))?,
        deleted_at: r.col(&col("deleted_at"))?,
    })
}

pub(crate) fn message(r: &impl Cols) -> StoreResult<Message> {
    message_with(r, "", None)
}

pub(crate) fn member(r: &impl Cols) -> StoreResult<Member> {
    let role: String = r.col("role")?;
    Ok(Member {
        user_id: UserId(r.col("user_id")?),
        role: Role::parse(&role).unwrap_or(Role::Member),
        joined_at: r.col("joined_at")?,
        joined_seq: r.col("joined_seq")?,
        delivered_seq: r.col("delivered_seq")?,
        read_seq: r.col("read_seq")?,
        username: r.col("username")?,
        display_name: r.col("display_name")?,
    })
}

pub(crate) fn conversation(r: &impl Cols, members: Vec<Member>) -> StoreResult<Conversation> {
    let kind: String = r.col("kind")?;
    let created_by: Option<i64> = r.col("created_by")?;
    Ok(Conversation {
        id: ConversationId(r.col("id")?),
        kind: ConversationKind::from_stored(&kind),
        name: r.col("name")?,
        description: r.col("description")?,
        avatar_url: r.col("avatar_url")?,
        full_history: r.col("full_history")?,
        created_by: created_by.map(UserId),
        created_at: r.col("created_at")?,
        last_seq: r.col("last_seq")?,
        last_message_at: r.col("last_message_at")?,
        members,
    })
}

/// Groups member rows (each with `conversation_id`) by conversation.
pub(crate) fn members_by_conversation(rows: &[impl Cols]) -> StoreResult<HashMap<i64, Vec<Member>>> {
    let mut by_conversation: HashMap<i64, Vec<Member>> = HashMap::new();
    for r in rows {
        by_conversation.entry(r.col("conversation_id")?).or_default().push(member(r)?);
    }
    Ok(by_conversation)
}

/// Joins `conversations_of`'s two result sets: conversations (`c.*`,
/// `unread`, the last message as `lm_*` columns) and all their members.
pub(crate) fn summaries(
    rows: &[impl Cols],
    member_rows: &[impl Cols],
) -> StoreResult<Vec<ConversationSummary>> {
    let mut members = members_by_conversation(member_rows)?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.col("id")?;
            let conversation = conversation(r, members.remove(&id).unwrap_or_default())?;
            let last_id: Option<i64> = r.col("lm_id")?;
            let last_message = match last_id {
                Some(_) => Some(message_with(r, "lm_", Some(conversation.id))?),
                None => None,
            };
            Ok(ConversationSummary { conversation, unread: r.col("unread")?, last_message })
        })
        .collect()
}

pub(crate) fn subscription(r: &impl Cols) -> StoreResult<Subscription> {
    let kind: String = r.col("kind")?;
    Ok(Subscription {
        id: SubscriptionId(r.col("id")?),
        user_id: UserId(r.col("user_id")?),
        kind: PushKind::parse(&kind).ok_or(StoreError::Inconsistent("a known push kind"))?,
        address: r.col("address")?,
        p256dh: r.col("p256dh")?,
        auth: r.col("auth")?,
        environment: r.col("environment")?,
        created_at: r.col("created_at")?,
    })
}

/// A job joined with its subscription (`sql::CLAIMED_JOBS`).
pub(crate) fn push_job(r: &impl Cols) -> StoreResult<PushJob> {
    Ok(PushJob {
        id: r.col("job_id")?,
        subscription: subscription(r)?,
        conversation_id: ConversationId(r.col("conversation_id")?),
        message_id: MessageId(r.col("message_id")?),
        pending: r.col("pending")?,
        version: r.col("version")?,
        attempts: r.col("attempts")?,
    })
}

pub(crate) fn media(r: &impl Cols) -> StoreResult<MediaItem> {
    Ok(MediaItem {
        id: r.col("id")?,
        owner_id: UserId(r.col("owner_id")?),
        backend: r.col("backend")?,
        kind: r.col("kind")?,
        mime: r.col("mime")?,
        size: r.col("size")?,
        name: r.col("name")?,
        width: r.col("width")?,
        height: r.col("height")?,
        sha256: r.col("sha256")?,
        thumb_sha256: r.col("thumb_sha256")?,
        remote: r.col("remote")?,
        created_at: r.col("created_at")?,
        attached_at: r.col("attached_at")?,
    })
}

/// Conversation 0 is "every conversation".
pub(crate) fn mute(r: &impl Cols) -> StoreResult<Mute> {
    let conversation: i64 = r.col("conversation_id")?;
    Ok(Mute {
        conversation: (conversation != 0).then_some(ConversationId(conversation)),
        until: r.col("until")?,
    })
}

/// The unique key of the direct conversation between two users.
pub(crate) fn direct_key(a: UserId, b: UserId) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

/// A message's attachments from their JSON column (absent or unreadable: none).
pub(crate) fn attachments(json: Option<String>) -> Vec<Attachment> {
    json.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default()
}

/// The JSON column value for a message's attachments (`None` for none).
pub(crate) fn attachments_json(a: &[Attachment]) -> Option<String> {
    if a.is_empty() { None } else { serde_json::to_string(a).ok() }
}

/// A message row to insert.
pub(crate) struct Insert<'a> {
    pub conversation: ConversationId,
    pub sender: UserId,
    pub client_msg_id: Option<&'a str>,
    pub kind: MessageKind,
    pub body: &'a str,
    pub meta: Option<&'a str>,
    pub at: Millis,
    pub attachments: Option<String>,
    pub reply_to: Option<MessageId>,
}

impl<'a> Insert<'a> {
    /// A user's text message.
    pub fn text(m: &NewMessage<'a>) -> Self {
        Self {
            conversation: m.conversation_id,
            sender: m.sender_id,
            client_msg_id: m.client_msg_id.map(|c| c.as_str()),
            kind: MessageKind::Text,
            body: m.body,
            meta: None,
            at: m.created_at,
            attachments: attachments_json(m.attachments),
            reply_to: m.reply_to,
        }
    }

    /// A system message recording a group change.
    pub fn note(conversation: ConversationId, note: &SystemNote<'a>) -> Self {
        Self {
            conversation,
            sender: note.actor,
            client_msg_id: None,
            kind: MessageKind::System,
            body: note.body,
            meta: Some(note.meta),
            at: note.at,
            attachments: None,
            reply_to: None,
        }
    }
}
