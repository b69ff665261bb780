//! [`MessageStore`] on SQLite: appending, reading, and the watermarks.

use super::{SqliteStore, message_cols, message_row};
use crate::domain::*;
use crate::domain::{ConversationId, MessageId, Seq, UserId};
use crate::store::*;
use async_trait::async_trait;
use sqlx::{Row, SqliteConnection};

#[async_trait]
impl MessageStore for SqliteStore {
    async fn append_message(&self, m: NewMessage<'_>) -> StoreResult<Appended> {
        self.committer.append(m).await
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let row = sqlx::query(concat!("SELECT ", message_cols!(), " FROM messages WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().map(message_row).transpose()?)
    }

    async fn history(
        &self,
        conversation: ConversationId,
        before: Option<MessageId>,
        after: Seq,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE conversation_id = ? AND id < ? AND seq > ? ORDER BY seq DESC LIMIT ?"
        ))
        .bind(conversation.0)
        .bind(before.map_or(i64::MAX, |m| m.0))
        .bind(after)
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
    ) -> StoreResult<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT x.id, x.conversation_id, x.seq, x.sender_id, x.client_msg_id, x.kind, x.body, x.meta, x.created_at, x.attachments
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
    ) -> StoreResult<Vec<Message>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages
              WHERE conversation_id = ? AND seq > ? AND seq <= ? AND sender_id != ? AND kind = 'text'
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
        mark: Receipt,
        up_to: Seq,
        contiguous: bool,
    ) -> StoreResult<Option<Advanced>> {
        let mut tx = self.write_tx().await?;
        let moved = advance_in(&mut tx, conversation, user, mark, up_to, contiguous).await?;
        tx.commit().await?;
        Ok(moved)
    }

    async fn advance_delivered_many(
        &self,
        marks: &[DeliveryMark],
    ) -> StoreResult<Vec<(DeliveryMark, Advanced)>> {
        self.committer.delivered(marks).await
    }
}

// Shared with the committer, which moves delivered watermarks in batches.
pub(super) const SQL_WATERMARKS: &str =
    "SELECT delivered_seq, read_seq FROM members WHERE conversation_id = ? AND user_id = ?";
/// Is a message from someone else than `?4` between `?2` and `?3` (exclusive)?
pub(super) const SQL_GAP: &str = "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ? AND seq > ? AND seq < ? AND sender_id != ?)";
pub(super) const SQL_SET_DELIVERED: &str =
    "UPDATE members SET delivered_seq = ?1 WHERE conversation_id = ?2 AND user_id = ?3";

/// [`MessageStore::advance`] inside an open write transaction.
async fn advance_in(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    user: UserId,
    mark: Receipt,
    up_to: Seq,
    contiguous: bool,
) -> Result<Option<Advanced>, sqlx::Error> {
    let Some(row) =
        sqlx::query(SQL_WATERMARKS).bind(conversation.0).bind(user.0).fetch_optional(&mut *conn).await?
    else {
        return Ok(None);
    };
    let old: i64 = row.try_get(match mark {
        Receipt::Delivered => "delivered_seq",
        Receipt::Read => "read_seq",
    })?;
    if up_to <= old {
        return Ok(None);
    }
    if contiguous && mark == Receipt::Delivered {
        let gap: bool = sqlx::query_scalar(SQL_GAP)
            .bind(conversation.0)
            .bind(old)
            .bind(up_to)
            .bind(user.0)
            .fetch_one(&mut *conn)
            .await?;
        if gap {
            return Ok(None);
        }
    }
    let sql = match mark {
        Receipt::Delivered => SQL_SET_DELIVERED,
        Receipt::Read => {
            "UPDATE members SET read_seq = ?1, delivered_seq = MAX(delivered_seq, ?1)
              WHERE conversation_id = ?2 AND user_id = ?3"
        }
    };
    sqlx::query(sql).bind(up_to).bind(conversation.0).bind(user.0).execute(&mut *conn).await?;
    Ok(Some(Advanced { old, new: up_to }))
}
