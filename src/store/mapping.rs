//! What both SQL backends share: the column lists (the schemas name their
//! columns alike) and the row → struct mappers, instantiated per backend's
//! row type.

// Column lists as macros so queries stay `&'static str` (sqlx refuses
// formatted SQL unless asserted safe).
macro_rules! message_cols {
    () => {
        "id, conversation_id, seq, sender_id, client_msg_id, kind, body, meta, created_at, attachments"
    };
}
macro_rules! member_cols {
    () => {
        "m.conversation_id, m.user_id, m.role, m.joined_at, m.joined_seq, m.delivered_seq, m.read_seq,
         u.username, u.display_name"
    };
}
macro_rules! subscription_cols {
    () => {
        "s.id, s.user_id, s.kind, s.address, s.p256dh, s.auth, s.environment, s.created_at"
    };
}
macro_rules! push_job_cols {
    () => {
        concat!(
            "j.id AS job_id, j.conversation_id, j.message_id, j.pending, j.version, j.attempts, ",
            subscription_cols!()
        )
    };
}
macro_rules! user_cols {
    () => {
        "id, username, display_name, created_at, last_seen_at"
    };
}

/// Defines `user_row`, `message_row`, `member_row` and `conversation_row`
/// for a backend's row type.
macro_rules! row_mappers {
    ($row:ty) => {
        fn user_row(r: &$row) -> Result<UserRow, sqlx::Error> {
            Ok(UserRow {
                id: UserId(::sqlx::Row::try_get(r, "id")?),
                username: ::sqlx::Row::try_get(r, "username")?,
                display_name: ::sqlx::Row::try_get(r, "display_name")?,
                created_at: ::sqlx::Row::try_get(r, "created_at")?,
                last_seen_at: ::sqlx::Row::try_get(r, "last_seen_at")?,
            })
        }

        fn message_row(r: &$row) -> Result<MessageRow, sqlx::Error> {
            let client: Option<String> = ::sqlx::Row::try_get(r, "client_msg_id")?;
            let kind: String = ::sqlx::Row::try_get(r, "kind")?;
            Ok(MessageRow {
                id: MessageId(::sqlx::Row::try_get(r, "id")?),
                conversation_id: ConversationId(::sqlx::Row::try_get(r, "conversation_id")?),
                seq: ::sqlx::Row::try_get(r, "seq")?,
                sender_id: UserId(::sqlx::Row::try_get(r, "sender_id")?),
                client_msg_id: client.map(crate::domain::ClientMsgId::from_stored),
                kind: MessageKind::from_db(&kind),
                body: ::sqlx::Row::try_get(r, "body")?,
                meta: ::sqlx::Row::try_get(r, "meta")?,
                created_at: ::sqlx::Row::try_get(r, "created_at")?,
                attachments: crate::store::mapping::attachments(::sqlx::Row::try_get(r, "attachments")?),
            })
        }

        fn member_row(r: &$row) -> Result<MemberRow, sqlx::Error> {
            let role: String = ::sqlx::Row::try_get(r, "role")?;
            Ok(MemberRow {
                user_id: UserId(::sqlx::Row::try_get(r, "user_id")?),
                role: Role::parse(&role).unwrap_or(Role::Member),
                joined_at: ::sqlx::Row::try_get(r, "joined_at")?,
                joined_seq: ::sqlx::Row::try_get(r, "joined_seq")?,
                delivered_seq: ::sqlx::Row::try_get(r, "delivered_seq")?,
                read_seq: ::sqlx::Row::try_get(r, "read_seq")?,
                username: ::sqlx::Row::try_get(r, "username")?,
                display_name: ::sqlx::Row::try_get(r, "display_name")?,
            })
        }

        fn conversation_row(r: &$row, members: Vec<MemberRow>) -> Result<ConversationRow, sqlx::Error> {
            let kind: String = ::sqlx::Row::try_get(r, "kind")?;
            let created_by: Option<i64> = ::sqlx::Row::try_get(r, "created_by")?;
            Ok(ConversationRow {
                id: ConversationId(::sqlx::Row::try_get(r, "id")?),
                kind: ConversationKind::from_db(&kind),
                name: ::sqlx::Row::try_get(r, "name")?,
                description: ::sqlx::Row::try_get(r, "description")?,
                avatar_url: ::sqlx::Row::try_get(r, "avatar_url")?,
                full_history: ::sqlx::Row::try_get(r, "full_history")?,
                created_by: created_by.map(UserId),
                created_at: ::sqlx::Row::try_get(r, "created_at")?,
                last_seq: ::sqlx::Row::try_get(r, "last_seq")?,
                last_message_at: ::sqlx::Row::try_get(r, "last_message_at")?,
                members,
            })
        }

        /// A `conversations_of` row: `c.*`, `unread`, and the last message as `lm_*` columns.
        fn summary_row(r: &$row, members: Vec<MemberRow>) -> Result<ConversationSummary, sqlx::Error> {
            let conversation = conversation_row(r, members)?;
            let lm_id: Option<i64> = ::sqlx::Row::try_get(r, "lm_id")?;
            let last_message = match lm_id {
                Some(mid) => {
                    let client: Option<String> = ::sqlx::Row::try_get(r, "lm_client_msg_id")?;
                    let kind: String = ::sqlx::Row::try_get(r, "lm_kind")?;
                    Some(MessageRow {
                        id: MessageId(mid),
                        conversation_id: conversation.id,
                        seq: ::sqlx::Row::try_get(r, "lm_seq")?,
                        sender_id: UserId(::sqlx::Row::try_get(r, "lm_sender_id")?),
                        client_msg_id: client.map(crate::domain::ClientMsgId::from_stored),
                        kind: MessageKind::from_db(&kind),
                        body: ::sqlx::Row::try_get(r, "lm_body")?,
                        meta: ::sqlx::Row::try_get(r, "lm_meta")?,
                        created_at: ::sqlx::Row::try_get(r, "lm_created_at")?,
                        attachments: crate::store::mapping::attachments(::sqlx::Row::try_get(
                            r,
                            "lm_attachments",
                        )?),
                    })
                }
                None => None,
            };
            Ok(ConversationSummary { conversation, unread: ::sqlx::Row::try_get(r, "unread")?, last_message })
        }

        fn subscription_row(r: &$row) -> Result<SubscriptionRow, sqlx::Error> {
            let kind: String = ::sqlx::Row::try_get(r, "kind")?;
            Ok(SubscriptionRow {
                id: crate::domain::SubscriptionId(::sqlx::Row::try_get(r, "id")?),
                user_id: UserId(::sqlx::Row::try_get(r, "user_id")?),
                kind: PushKind::parse(&kind)
                    .ok_or_else(|| sqlx::Error::Decode("unknown push kind".into()))?,
                address: ::sqlx::Row::try_get(r, "address")?,
                p256dh: ::sqlx::Row::try_get(r, "p256dh")?,
                auth: ::sqlx::Row::try_get(r, "auth")?,
                environment: ::sqlx::Row::try_get(r, "environment")?,
                created_at: ::sqlx::Row::try_get(r, "created_at")?,
            })
        }

        /// A job joined with its subscription (`push_job_cols!`).
        fn push_job_row(r: &$row) -> Result<PushJob, sqlx::Error> {
            Ok(PushJob {
                id: ::sqlx::Row::try_get(r, "job_id")?,
                subscription: subscription_row(r)?,
                conversation_id: ConversationId(::sqlx::Row::try_get(r, "conversation_id")?),
                message_id: MessageId(::sqlx::Row::try_get(r, "message_id")?),
                pending: ::sqlx::Row::try_get(r, "pending")?,
                version: ::sqlx::Row::try_get(r, "version")?,
                attempts: ::sqlx::Row::try_get(r, "attempts")?,
            })
        }

        fn media_row(r: &$row) -> Result<MediaRow, sqlx::Error> {
            Ok(MediaRow {
                id: ::sqlx::Row::try_get(r, "id")?,
                owner_id: UserId(::sqlx::Row::try_get(r, "owner_id")?),
                backend: ::sqlx::Row::try_get(r, "backend")?,
                kind: ::sqlx::Row::try_get(r, "kind")?,
                mime: ::sqlx::Row::try_get(r, "mime")?,
                size: ::sqlx::Row::try_get(r, "size")?,
                name: ::sqlx::Row::try_get(r, "name")?,
                width: ::sqlx::Row::try_get(r, "width")?,
                height: ::sqlx::Row::try_get(r, "height")?,
                sha256: ::sqlx::Row::try_get(r, "sha256")?,
                thumb_sha256: ::sqlx::Row::try_get(r, "thumb_sha256")?,
                remote: ::sqlx::Row::try_get(r, "remote")?,
                created_at: ::sqlx::Row::try_get(r, "created_at")?,
                attached_at: ::sqlx::Row::try_get(r, "attached_at")?,
            })
        }

        fn mute_row(r: &$row) -> Result<MuteRow, sqlx::Error> {
            let conversation: i64 = ::sqlx::Row::try_get(r, "conversation_id")?;
            Ok(MuteRow {
                conversation: (conversation != 0).then_some(ConversationId(conversation)),
                until: ::sqlx::Row::try_get(r, "until")?,
            })
        }

        /// Joins `conversations_of`'s two result sets: conversations and all their members.
        fn summaries(rows: &[$row], member_rows: &[$row]) -> Result<Vec<ConversationSummary>, sqlx::Error> {
            let mut by_conv: std::collections::HashMap<i64, Vec<MemberRow>> = Default::default();
            for r in member_rows {
                let cid: i64 = ::sqlx::Row::try_get(r, "conversation_id")?;
                by_conv.entry(cid).or_default().push(member_row(r)?);
            }
            rows.iter()
                .map(|r| {
                    let id: i64 = ::sqlx::Row::try_get(r, "id")?;
                    summary_row(r, by_conv.remove(&id).unwrap_or_default())
                })
                .collect()
        }
    };
}

pub(crate) use {member_cols, message_cols, push_job_cols, row_mappers, subscription_cols, user_cols};

use super::{ConversationRow, MessageKind, NewMessage, Role, SystemNote};
use crate::domain::{ConversationId, Millis, UserId};

/// The unique key of the direct conversation between two users.
pub(crate) fn direct_key(a: UserId, b: UserId) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

/// The users of `candidates` who are not members yet, each once.
pub(crate) fn newcomers(current: &ConversationRow, candidates: &[UserId]) -> Vec<UserId> {
    let mut out: Vec<UserId> = Vec::new();
    for &u in candidates {
        if current.member(u).is_none() && !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

/// Who becomes owner when `leaving` goes: nobody if another owner stays,
/// else the longest-standing admin, else the longest-standing member.
pub(crate) fn heir(current: &ConversationRow, leaving: UserId) -> Option<UserId> {
    let others = || current.members.iter().filter(|m| m.user_id != leaving);
    if current.member(leaving).map(|m| m.role) != Some(Role::Owner) || others().any(|m| m.role == Role::Owner)
    {
        return None;
    }
    others().max_by_key(|m| (m.role, std::cmp::Reverse((m.joined_at, m.user_id)))).map(|m| m.user_id)
}

/// A message's attachments from their JSON column (absent or unreadable: none).
pub(crate) fn attachments(json: Option<String>) -> Vec<super::Attachment> {
    json.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default()
}

/// The JSON column value for a message's attachments (`None` for none).
pub(crate) fn attachments_json(a: &[super::Attachment]) -> Option<String> {
    if a.is_empty() { None } else { serde_json::to_string(a).ok() }
}

/// A message row to insert (each backend's `insert_message` takes one).
pub(crate) struct Insert<'a> {
    pub conversation: ConversationId,
    pub sender: UserId,
    pub client_msg_id: Option<&'a str>,
    pub kind: MessageKind,
    pub body: &'a str,
    pub meta: Option<&'a str>,
    pub at: Millis,
    pub attachments: Option<String>,
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
        }
    }
}
