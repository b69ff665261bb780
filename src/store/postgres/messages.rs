//! [`MessageStore`] on PostgreSQL: appending, reading, and the watermarks.

use super::{PostgresStore, message_cols, message_row};
use crate::domain::*;
use crate::domain::{ConversationId, MessageId, Seq, UserId};
use crate::store::*;
use async_trait::async_trait;
use sqlx::{PgConnection, Row};

#[async_trait]
impl MessageStore for PostgresStore {
    async fn append_message(&self, m: NewMessage<'_>) -> StoreResult<Appended> {
        self.committer.append(m).await
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let row = sqlx::query(concat!("SELECT ", message_cols!(), " FROM messages WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
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
            " FROM messages WHERE conversation_id = $1 AND id < $2 AND seq > $3 ORDER BY seq DESC LIMIT $4"
        ))
        .bind(conversation.0)
        .bind(before.map_or(i64::MAX, |m| m.0))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
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
              WHERE m.user_id = $1 AND x.sender_id != $1
                AND ($2::BIGINT IS NULL OR m.conversation_id = $2)
              ORDER BY x.id LIMIT $3",
        )
        .bind(user.0)
        .bind(conversation.map(|c| c.0))
        .bind(limit)
        .fetch_all(&self.pool)
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
              WHERE conversation_id = $1 AND seq > $2 AND seq <= $3 AND sender_id != $4 AND kind = 'text'
              ORDER BY seq DESC LIMIT $5"
        ))
        .bind(conversation.0)
        .bind(after)
        .bind(up_to)
        .bind(except_sender.0)
        .bind(limit)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let moved = advance_in(&mut tx, conversation, user, mark, up_to, contiguous).await?;
        tx.commit().await?;
        Ok(moved)
    }

    async fn advance_delivered_many(
        &self,
        marks: &[DeliveryMark],
    ) -> StoreResult<Vec<(DeliveryMark, Advanced)>> {
        let mut tx = self.pool.begin().await?;
        let mut moved = Vec::new();
        for &m in marks {
            if let Some(adv) =
                advance_in(&mut tx, m.conversation, m.user, Receipt::Delivered, m.seq, true).await?
            {
                moved.push((m, adv));
            }
        }
        tx.commit().await?;
        Ok(moved)
    }
}

/// [`MessageStore::advance`] inside an open write transaction.
async fn advance_in(
    conn: &mut PgConnection,
    conversation: ConversationId,
    user: UserId,
    mark: Receipt,
    up_to: Seq,
    contiguous: bool,
) -> Result<Option<Advanced>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "SELECT delivered_seq, read_seq FROM members WHERE conversation_id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(conversation.0)
    .bind(user.0)
    .fetch_optional(&mut *conn)
    .await?
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
        let gap: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND seq > $2 AND seq < $3 AND sender_id != $4)",
        )
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
        Receipt::Delivered => {
            "UPDATE members SET delivered_seq = $1 WHERE conversation_id = $2 AND user_id = $3"
        }
        Receipt::Read => {
            "UPDATE members SET read_seq = $1, delivered_seq = GREATEST(delivered_seq, $1)
              WHERE conversation_id = $2 AND user_id = $3"
        }
    };
    sqlx::query(sql).bind(up_to).bind(conversation.0).bind(user.0).execute(&mut *conn).await?;
    Ok(Some(Advanced { old, new: up_to }))
}
