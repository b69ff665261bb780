//! The embedded SQLite backend: one file under the data directory, WAL mode.
//!
//! Writes go through a pool of exactly one connection, so SQLite never sees
//! two writers and never answers `SQLITE_BUSY`; reads use a separate pool and
//! run concurrently with the writer thanks to WAL.

use super::*;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// SQLite implementation of [`Store`].
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

// Column lists as macros so queries stay `&'static str` (sqlx refuses
// formatted SQL unless asserted safe).
macro_rules! message_cols {
    () => {
        "id, conversation_id, seq, sender_id, client_msg_id, body, created_at"
    };
}
macro_rules! member_cols {
    () => {
        "m.conversation_id, m.user_id, m.role, m.delivered_seq, m.read_seq, u.username, u.display_name"
    };
}
macro_rules! user_cols {
    () => {
        "id, username, display_name, created_at, last_seen_at"
    };
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs migrations.
    /// `synchronous_full` makes every commit survive power loss, not only a
    /// process crash.
    pub async fn open(path: &Path, synchronous_full: bool) -> StoreResult<Self> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(base.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(base.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }
}

fn user_row(r: &SqliteRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: UserId(r.try_get("id")?),
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
    })
}

fn message_row(r: &SqliteRow) -> Result<MessageRow, sqlx::Error> {
    let client: Option<String> = r.try_get("client_msg_id")?;
    Ok(MessageRow {
        id: MessageId(r.try_get("id")?),
        conversation_id: ConversationId(r.try_get("conversation_id")?),
        seq: r.try_get("seq")?,
        sender_id: UserId(r.try_get("sender_id")?),
        client_msg_id: client.map(ClientMsgId::from_stored),
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
    })
}

fn member_row(r: &SqliteRow) -> Result<MemberRow, sqlx::Error> {
    Ok(MemberRow {
        user_id: UserId(r.try_get("user_id")?),
        role: r.try_get("role")?,
        delivered_seq: r.try_get("delivered_seq")?,
        read_seq: r.try_get("read_seq")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
    })
}

fn conversation_row(
    r: &SqliteRow,
    members: Vec<MemberRow>,
) -> Result<ConversationRow, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    Ok(ConversationRow {
        id: ConversationId(r.try_get("id")?),
        kind: ConversationKind::from_db(&kind),
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        last_seq: r.try_get("last_seq")?,
        last_message_at: r.try_get("last_message_at")?,
        members,
    })
}

fn direct_key(a: UserId, b: UserId) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, u: NewUser<'_>) -> StoreResult<UserRow> {
        let row = sqlx::query(concat!(
            "INSERT INTO users (username, username_key, display_name, password_hash, created_at)
             VALUES (?, ?, ?, ?, ?) RETURNING ",
            user_cols!()
        ))
        .bind(u.username)
        .bind(u.username_key)
        .bind(u.display_name)
        .bind(u.password_hash)
        .bind(u.created_at)
        .fetch_one(&self.writer)
        .await?;
        Ok(user_row(&row)?)
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    async fn credentials(&self, key: &str) -> StoreResult<Option<(UserRow, String)>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            ", password_hash FROM users WHERE username_key = ?"
        ))
        .bind(key)
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(r) => Ok(Some((user_row(&r)?, r.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    async fn search_users(&self, prefix: &str, limit: i64) -> StoreResult<Vec<UserRow>> {
        // Range scan on the unique index instead of LIKE, which would treat
        // '_' in usernames as a wildcard.
        let upper = format!("{prefix}\u{10FFFF}");
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE username_key >= ? AND username_key < ?
             ORDER BY username_key LIMIT ?"
        ))
        .bind(prefix)
        .bind(upper)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(user_row).collect::<Result<_, _>>()?)
    }

    async fn set_last_seen(&self, id: UserId, at: Millis) -> StoreResult<()> {
        sqlx::query("UPDATE users SET last_seen_at = ? WHERE id = ?")
            .bind(at)
            .bind(id.0)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn insert_token(
        &self,
        user: UserId,
        hash: &[u8],
        created_at: Millis,
        expires_at: Millis,
    ) -> StoreResult<TokenId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)
             RETURNING id",
        )
        .bind(user.0)
        .bind(hash)
        .bind(created_at)
        .bind(expires_at)
        .fetch_one(&self.writer)
        .await?;
        Ok(TokenId(id))
    }

    async fn token(&self, hash: &[u8]) -> StoreResult<Option<TokenRow>> {
        let row = sqlx::query(
            "SELECT id, user_id, expires_at, revoked_at IS NOT NULL AS revoked FROM tokens
             WHERE token_hash = ?",
        )
        .bind(hash)
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(r) => Ok(Some(TokenRow {
                id: TokenId(r.try_get("id")?),
                user_id: UserId(r.try_get("user_id")?),
                expires_at: r.try_get("expires_at")?,
                revoked: r.try_get("revoked")?,
            })),
            None => Ok(None),
        }
    }

    async fn revoke_token(&self, hash: &[u8], at: Millis) -> StoreResult<Option<TokenRow>> {
        let row = sqlx::query(
            "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL
             RETURNING id, user_id, expires_at",
        )
        .bind(at)
        .bind(hash)
        .fetch_optional(&self.writer)
        .await?;
        match row {
            Some(r) => Ok(Some(TokenRow {
                id: TokenId(r.try_get("id")?),
                user_id: UserId(r.try_get("user_id")?),
                expires_at: r.try_get("expires_at")?,
                revoked: true,
            })),
            None => Ok(None),
        }
    }

    async fn direct_conversation(
        &self,
        a: UserId,
        b: UserId,
        now: Millis,
    ) -> StoreResult<ConversationId> {
        let key = direct_key(a, b);
        let mut tx = self.writer.begin().await?;
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM conversations WHERE direct_key = ?")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(id) = existing {
            return Ok(ConversationId(id));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO conversations (kind, direct_key, created_at) VALUES ('direct', ?, ?)
             RETURNING id",
        )
        .bind(&key)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for user in [a, b] {
            sqlx::query(
                "INSERT INTO members (conversation_id, user_id, joined_at) VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(user.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ConversationId(id))
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<ConversationRow>> {
        let Some(row) = sqlx::query("SELECT * FROM conversations WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(None);
        };
        let members = sqlx::query(concat!(
            "SELECT ",
            member_cols!(),
            " FROM members m JOIN users u ON u.id = m.user_id
                 WHERE m.conversation_id = ? ORDER BY m.user_id"
        ))
        .bind(id.0)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(member_row)
        .collect::<Result<_, _>>()?;
        Ok(Some(conversation_row(&row, members)?))
    }

    async fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationSummary>> {
        let rows = sqlx::query(
            "SELECT c.*,
                    (SELECT COUNT(*) FROM messages x
                      WHERE x.conversation_id = c.id AND x.seq > m.read_seq AND x.sender_id != m.user_id)
                      AS unread,
                    lm.id AS lm_id, lm.seq AS lm_seq, lm.sender_id AS lm_sender_id,
                    lm.client_msg_id AS lm_client_msg_id, lm.body AS lm_body,
                    lm.created_at AS lm_created_at
               FROM members m
               JOIN conversations c ON c.id = m.conversation_id
               LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq
              WHERE m.user_id = ?
              ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC",
        )
        .bind(user.0)
        .fetch_all(&self.reader)
        .await?;
        let all_members = sqlx::query(concat!(
            "SELECT ",
            member_cols!(),
            " FROM members m JOIN users u ON u.id = m.user_id
                  WHERE m.conversation_id IN (SELECT conversation_id FROM members WHERE user_id = ?)
                  ORDER BY m.conversation_id, m.user_id"
        ))
        .bind(user.0)
        .fetch_all(&self.reader)
        .await?;
        let mut by_conv: std::collections::HashMap<i64, Vec<MemberRow>> = Default::default();
        for r in &all_members {
            let cid: i64 = r.try_get("conversation_id")?;
            by_conv.entry(cid).or_default().push(member_row(r)?);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let conversation = conversation_row(r, by_conv.remove(&id).unwrap_or_default())?;
            let lm_id: Option<i64> = r.try_get("lm_id")?;
            let last_message = match lm_id {
                Some(mid) => {
                    let client: Option<String> = r.try_get("lm_client_msg_id")?;
                    Some(MessageRow {
                        id: MessageId(mid),
                        conversation_id: conversation.id,
                        seq: r.try_get("lm_seq")?,
                        sender_id: UserId(r.try_get("lm_sender_id")?),
                        client_msg_id: client.map(ClientMsgId::from_stored),
                        body: r.try_get("lm_body")?,
                        created_at: r.try_get("lm_created_at")?,
                    })
                }
                None => None,
            };
            out.push(ConversationSummary {
                conversation,
                unread: r.try_get("unread")?,
                last_message,
            });
        }
        Ok(out)
    }

    async fn peers_of(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT b.user_id FROM members a
               JOIN members b ON b.conversation_id = a.conversation_id
              WHERE a.user_id = ? AND b.user_id != a.user_id",
        )
        .bind(user.0)
        .fetch_all(&self.reader)
        .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn append_message(&self, m: NewMessage<'_>) -> StoreResult<Appended> {
        let mut tx = self.writer.begin().await?;
        if let Some(client) = m.client_msg_id {
            let existing = sqlx::query(concat!(
                "SELECT ",
                message_cols!(),
                " FROM messages WHERE sender_id = ? AND client_msg_id = ?"
            ))
            .bind(m.sender_id.0)
            .bind(client.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = existing {
                return Ok(Appended {
                    message: message_row(&r)?,
                    created: false,
                });
            }
        }
        let seq: i64 = sqlx::query_scalar(
            "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = ?
              WHERE id = ? RETURNING last_seq",
        )
        .bind(m.created_at)
        .bind(m.conversation_id.0)
        .fetch_one(&mut *tx)
        .await?;
        let row = sqlx::query(concat!("INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, body, created_at)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING ", message_cols!()))
        .bind(m.conversation_id.0)
        .bind(seq)
        .bind(m.sender_id.0)
        .bind(m.client_msg_id.map(|c| c.as_str()))
        .bind(m.body)
        .bind(m.created_at)
        .fetch_one(&mut *tx)
        .await?;
        let message = message_row(&row)?;
        tx.commit().await?;
        Ok(Appended {
            message,
            created: true,
        })
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<MessageRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE id = ?"
        ))
        .bind(id.0)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(message_row).transpose()?)
    }

    async fn history(
        &self,
        conversation: ConversationId,
        before: Option<Seq>,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE conversation_id = ? AND seq < ?
             ORDER BY seq DESC LIMIT ?"
        ))
        .bind(conversation.0)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(message_row).collect::<Result<_, _>>()?)
    }

    async fn undelivered(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>> {
        let rows = sqlx::query(
            "SELECT x.id, x.conversation_id, x.seq, x.sender_id, x.client_msg_id, x.body, x.created_at
               FROM members m
               JOIN messages x ON x.conversation_id = m.conversation_id AND x.seq > m.delivered_seq
              WHERE m.user_id = ?1 AND x.sender_id != ?1
                AND (?2 IS NULL OR m.conversation_id = ?2)
              ORDER BY x.id LIMIT ?3",
        )
        .bind(user.0)
        .bind(conversation.map(|c| c.0))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(message_row).collect::<Result<_, _>>()?)
    }

    async fn messages_between(
        &self,
        conversation: ConversationId,
        after: Seq,
        up_to: Seq,
        except_sender: UserId,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages
              WHERE conversation_id = ? AND seq > ? AND seq <= ? AND sender_id != ?
              ORDER BY seq DESC LIMIT ?"
        ))
        .bind(conversation.0)
        .bind(after)
        .bind(up_to)
        .bind(except_sender.0)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(message_row).collect::<Result<_, _>>()?)
    }

    async fn advance(
        &self,
        conversation: ConversationId,
        user: UserId,
        mark: Watermark,
        up_to: Seq,
        contiguous: bool,
    ) -> StoreResult<Option<Advanced>> {
        let mut tx = self.writer.begin().await?;
        let Some(row) = sqlx::query(
            "SELECT delivered_seq, read_seq FROM members WHERE conversation_id = ? AND user_id = ?",
        )
        .bind(conversation.0)
        .bind(user.0)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let delivered: i64 = row.try_get("delivered_seq")?;
        let read: i64 = row.try_get("read_seq")?;
        let old = match mark {
            Watermark::Delivered => delivered,
            Watermark::Read => read,
        };
        if up_to <= old {
            return Ok(None);
        }
        if contiguous && mark == Watermark::Delivered {
            let gap: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ? AND seq > ?
                                  AND seq < ? AND sender_id != ?)",
            )
            .bind(conversation.0)
            .bind(old)
            .bind(up_to)
            .bind(user.0)
            .fetch_one(&mut *tx)
            .await?;
            if gap {
                return Ok(None);
            }
        }
        let sql = match mark {
            Watermark::Delivered => {
                "UPDATE members SET delivered_seq = ?1 WHERE conversation_id = ?2 AND user_id = ?3"
            }
            Watermark::Read => {
                "UPDATE members SET read_seq = ?1, delivered_seq = MAX(delivered_seq, ?1)
                  WHERE conversation_id = ?2 AND user_id = ?3"
            }
        };
        sqlx::query(sql)
            .bind(up_to)
            .bind(conversation.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Advanced { old, new: up_to }))
    }

    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
