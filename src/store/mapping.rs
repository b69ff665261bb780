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
/// (and the rest) for a backend's row type, with the given visibility.
macro_rules! row_mappers {
    ($vis:vis $row:ty) => {
        $vis fn user_row(r: &$row) -> Result<User, sqlx::Error> {
            Ok(User {
                id: UserId(crate::store::mapping::Col::col(r, "id")?),
                username: crate::store::mapping::Col::col(r, "username")?,
                display_name: crate::store::mapping::Col::col(r, "display_name")?,
                created_at: crate::store::mapping::Col::col(r, "created_at")?,
                last_seen_at: crate::store::mapping::Col::col(r, "last_seen_at")?,
            })
        }

        $vis fn message_row(r: &$row) -> Result<Message, sqlx::Error> {
            let client: Option<String> = crate::store::mapping::Col::col(r, "client_msg_id")?;
            let kind: String = crate::store::mapping::Col::col(r, "kind")?;
            Ok(Message {
                id: MessageId(crate::store::mapping::Col::col(r, "id")?),
                conversation_id: ConversationId(crate::store::mapping::Col::col(r, "conversation_id")?),
                seq: crate::store::mapping::Col::col(r, "seq")?,
                sender_id: UserId(crate::store::mapping::Col::col(r, "sender_id")?),
                client_msg_id: client.map(crate::domain::ClientMsgId::from_stored),
                kind: MessageKind::from_stored(&kind),
                body: crate::store::mapping::Col::col(r, "body")?,
                meta: crate::store::mapping::Col::col(r, "meta")?,
                created_at: crate::store::mapping::Col::col(r, "created_at")?,
                attachments: crate::store::mapping::attachments(crate::store::mapping::Col::col(r, "attachments")?),
            })
        }

        $vis fn member_row(r: &$row) -> Result<Member, sqlx::Error> {
            let role: String = crate::store::mapping::Col::col(r, "role")?;
            Ok(Member {
                user_id: UserId(crate::store::mapping::Col::col(r, "user_id")?),
                role: Role::parse(&role).unwrap_or(Role::Member),
                joined_at: crate::store::mapping::Col::col(r, "joined_at")?,
                joined_seq: crate::store::mapping::Col::col(r, "joined_seq")?,
                delivered_seq: crate::store::mapping::Col::col(r, "delivered_seq")?,
                read_seq: crate::store::mapping::Col::col(r, "read_seq")?,
                username: crate::store::mapping::Col::col(r, "username")?,
                display_name: crate::store::mapping::Col::col(r, "display_name")?,
            })
        }

        $vis fn conversation_row(r: &$row, members: Vec<Member>) -> Result<Conversation, sqlx::Error> {
            let kind: String = crate::store::mapping::Col::col(r, "kind")?;
            let created_by: Option<i64> = crate::store::mapping::Col::col(r, "created_by")?;
            Ok(Conversation {
                id: ConversationId(crate::store::mapping::Col::col(r, "id")?),
                kind: ConversationKind::from_stored(&kind),
                name: crate::store::mapping::Col::col(r, "name")?,
                description: crate::store::mapping::Col::col(r, "description")?,
                avatar_url: crate::store::mapping::Col::col(r, "avatar_url")?,
                full_history: crate::store::mapping::Col::col(r, "full_history")?,
                created_by: created_by.map(UserId),
                created_at: crate::store::mapping::Col::col(r, "created_at")?,
                last_seq: crate::store::mapping::Col::col(r, "last_seq")?,
                last_message_at: crate::store::mapping::Col::col(r, "last_message_at")?,
                members,
            })
        }

        /// A `conversations_of` row: `c.*`, `unread`, and the last message as `lm_*` columns.
        $vis fn summary_row(r: &$row, members: Vec<Member>) -> Result<ConversationSummary, sqlx::Error> {
            let conversation = conversation_row(r, members)?;
            let lm_id: Option<i64> = crate::store::mapping::Col::col(r, "lm_id")?;
            let last_message = match lm_id {
                Some(mid) => {
                    let client: Option<String> = crate::store::mapping::Col::col(r, "lm_client_msg_id")?;
                    let kind: String = crate::store::mapping::Col::col(r, "lm_kind")?;
                    Some(Message {
                        id: MessageId(mid),
                        conversation_id: conversation.id,
                        seq: crate::store::mapping::Col::col(r, "lm_seq")?,
                        sender_id: UserId(crate::store::mapping::Col::col(r, "lm_sender_id")?),
                        client_msg_id: client.map(crate::domain::ClientMsgId::from_stored),
                        kind: MessageKind::from_stored(&kind),
                        body: crate::store::mapping::Col::col(r, "lm_body")?,
                        meta: crate::store::mapping::Col::col(r, "lm_meta")?,
                        created_at: crate::store::mapping::Col::col(r, "lm_created_at")?,
                        attachments: crate::store::mapping::attachments(crate::store::mapping::Col::col(
                            r,
                            "lm_attachments",
                        )?),
                    })
                }
                None => None,
            };
            Ok(ConversationSummary { conversation, unread: crate::store::mapping::Col::col(r, "unread")?, last_message })
        }

        $vis fn subscription_row(r: &$row) -> Result<Subscription, sqlx::Error> {
            let kind: String = crate::store::mapping::Col::col(r, "kind")?;
            Ok(Subscription {
                id: crate::domain::SubscriptionId(crate::store::mapping::Col::col(r, "id")?),
                user_id: UserId(crate::store::mapping::Col::col(r, "user_id")?),
                kind: PushKind::parse(&kind)
                    .ok_or_else(|| sqlx::Error::Decode("unknown push kind".into()))?,
                address: crate::store::mapping::Col::col(r, "address")?,
                p256dh: crate::store::mapping::Col::col(r, "p256dh")?,
                auth: crate::store::mapping::Col::col(r, "auth")?,
                environment: crate::store::mapping::Col::col(r, "environment")?,
                created_at: crate::store::mapping::Col::col(r, "created_at")?,
            })
        }

        /// A job joined with its subscription (`push_job_cols!`).
        $vis fn push_job_row(r: &$row) -> Result<PushJob, sqlx::Error> {
            Ok(PushJob {
                id: crate::store::mapping::Col::col(r, "job_id")?,
                subscription: subscription_row(r)?,
                conversation_id: ConversationId(crate::store::mapping::Col::col(r, "conversation_id")?),
                message_id: MessageId(crate::store::mapping::Col::col(r, "message_id")?),
                pending: crate::store::mapping::Col::col(r, "pending")?,
                version: crate::store::mapping::Col::col(r, "version")?,
                attempts: crate::store::mapping::Col::col(r, "attempts")?,
            })
        }

        $vis fn media_row(r: &$row) -> Result<MediaItem, sqlx::Error> {
            Ok(MediaItem {
                id: crate::store::mapping::Col::col(r, "id")?,
                owner_id: UserId(crate::store::mapping::Col::col(r, "owner_id")?),
                backend: crate::store::mapping::Col::col(r, "backend")?,
                kind: crate::store::mapping::Col::col(r, "kind")?,
                mime: crate::store::mapping::Col::col(r, "mime")?,
                size: crate::store::mapping::Col::col(r, "size")?,
                name: crate::store::mapping::Col::col(r, "name")?,
                width: crate::store::mapping::Col::col(r, "width")?,
                height: crate::store::mapping::Col::col(r, "height")?,
                sha256: crate::store::mapping::Col::col(r, "sha256")?,
                thumb_sha256: crate::store::mapping::Col::col(r, "thumb_sha256")?,
                remote: crate::store::mapping::Col::col(r, "remote")?,
                created_at: crate::store::mapping::Col::col(r, "created_at")?,
                attached_at: crate::store::mapping::Col::col(r, "attached_at")?,
            })
        }

        $vis fn mute_row(r: &$row) -> Result<Mute, sqlx::Error> {
            let conversation: i64 = crate::store::mapping::Col::col(r, "conversation_id")?;
            Ok(Mute {
                conversation: (conversation != 0).then_some(ConversationId(conversation)),
                until: crate::store::mapping::Col::col(r, "until")?,
            })
        }

        /// Joins `conversations_of`'s two result sets: conversations and all their members.
        $vis fn summaries(rows: &[$row], member_rows: &[$row]) -> Result<Vec<ConversationSummary>, sqlx::Error> {
            let mut by_conv: std::collections::HashMap<i64, Vec<Member>> = Default::default();
            for r in member_rows {
                let cid: i64 = crate::store::mapping::Col::col(r, "conversation_id")?;
                by_conv.entry(cid).or_default().push(member_row(r)?);
            }
            rows.iter()
                .map(|r| {
                    let id: i64 = crate::store::mapping::Col::col(r, "id")?;
                    summary_row(r, by_conv.remove(&id).unwrap_or_default())
                })
                .collect()
        }
    };
}

/// One named column of a row. The mappers are written once against this, so
/// they serve sqlx's row types and rusqlite's (the SQLite committer's own
/// connection) alike.
pub(crate) trait Col<T> {
    fn col(&self, name: &str) -> Result<T, sqlx::Error>;
}

impl<T> Col<T> for sqlx::sqlite::SqliteRow
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    fn col(&self, name: &str) -> Result<T, sqlx::Error> {
        sqlx::Row::try_get(self, name)
    }
}

impl<T> Col<T> for sqlx::postgres::PgRow
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    fn col(&self, name: &str) -> Result<T, sqlx::Error> {
        sqlx::Row::try_get(self, name)
    }
}

impl<T: rusqlite::types::FromSql> Col<T> for rusqlite::Row<'_> {
    fn col(&self, name: &str) -> Result<T, sqlx::Error> {
        self.get(name).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }
}

pub(crate) use {member_cols, message_cols, push_job_cols, row_mappers, subscription_cols, user_cols};

use super::{NewMessage, SystemNote};
use crate::domain::{ConversationId, MessageKind, Millis, UserId};

/// The unique key of the direct conversation between two users.
pub(crate) fn direct_key(a: UserId, b: UserId) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

/// A message's attachments from their JSON column (absent or unreadable: none).
pub(crate) fn attachments(json: Option<String>) -> Vec<crate::domain::Attachment> {
    json.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default()
}

/// The JSON column value for a message's attachments (`None` for none).
pub(crate) fn attachments_json(a: &[crate::domain::Attachment]) -> Option<String> {
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
