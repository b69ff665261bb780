//! [`MessageStore`] on either database: reading messages and moving the
//! delivered/read watermarks. Appends (and, on SQLite, live receipts) go
//! through the backend's group committer.
//!
//! Owns: this trait's implementation. May not touch: SQL text (it is in `sql`
//! and `dialect`) or the services' rules.

use super::backend::{Backend, SqlStore, advance_in};
use super::exec::{Arg, Col, Exec, args};
use super::{Appended, MessageStore, NewMessage, StoreResult, mapping, sql};
use crate::domain::{Advanced, ConversationId, DeliveryMark, Message, MessageId, Receipt, Seq, UserId};
use async_trait::async_trait;
use std::collections::HashMap;

#[async_trait]
impl<B: Backend> MessageStore for SqlStore<B> {
    async fn append_message(&self, m: NewMessage<'_>) -> StoreResult<Appended> {
        self.backend.append(m).await
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let row = self.read().await?.optional(sql::MESSAGE, args![id]).await?;
        row.as_ref().map(mapping::message).transpose()
    }

    async fn history(
        &self,
        conversation: ConversationId,
        before: Option<MessageId>,
        after: Seq,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let before = before.map_or(i64::MAX, |m| m.0);
        let rows = self.read().await?.all(sql::HISTORY, args![conversation, before, after, limit]).await?;
        rows.iter().map(mapping::message).collect()
    }

    async fn unread_total(&self, user: UserId) -> StoreResult<i64> {
        self.read().await?.one(sql::UNREAD_TOTAL, args![user]).await?.col("n")
    }

    async fn undelivered(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let rows = self.read().await?.all(B::DIALECT.undelivered, args![user, conversation, limit]).await?;
        rows.iter().map(mapping::message).collect()
    }

    async fn messages_between(
        &self,
        conversation: ConversationId,
        after: Seq,
        up_to: Seq,
        except_sender: UserId,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let args = args![conversation, after, up_to, except_sender, limit];
        let rows = self.read().await?.all(sql::MESSAGES_BETWEEN, args).await?;
        rows.iter().map(mapping::message).collect()
    }

    async fn advance(
        &self,
        conversation: ConversationId,
        user: UserId,
        receipt: Receipt,
        up_to: Seq,
        contiguous: bool,
    ) -> StoreResult<Option<Advanced>> {
        let mut tx = self.begin().await?;
        let moved = advance_in(&mut *tx, B::DIALECT, conversation, user, receipt, up_to, contiguous).await?;
        tx.commit().await?;
        Ok(moved)
    }

    async fn advance_fetched(
        &self,
        user: UserId,
        up_to: &[(ConversationId, Seq)],
    ) -> StoreResult<Vec<(ConversationId, Advanced)>> {
        if up_to.is_empty() {
            return Ok(Vec::new());
        }
        // Two statements whatever the page holds: a lock, read and update per
        // conversation cost 200 round trips for a page of 100 conversations
        // (on SQLite, 200 hand-overs to its worker thread).
        let mut sorted = up_to.to_vec();
        sorted.sort_unstable();
        let ids: Vec<i64> = sorted.iter().map(|(c, _)| c.0).collect();
        let mut tx = self.begin().await?;
        let rows = tx.all(B::DIALECT.fetched_watermarks, vec![Arg::from(user), Arg::Ids(ids)]).await?;
        let mut old = HashMap::with_capacity(rows.len());
        for r in &rows {
            let (conversation, seq): (i64, Seq) = (r.col("conversation_id")?, r.col("delivered_seq")?);
            old.insert(ConversationId(conversation), seq);
        }
        let moved: Vec<(ConversationId, Advanced)> = sorted
            .into_iter()
            .filter_map(|(c, new)| old.get(&c).filter(|&&o| new > o).map(|&o| (c, Advanced { old: o, new })))
            .collect();
        if !moved.is_empty() {
            let (cs, seqs): (Vec<i64>, Vec<i64>) = moved.iter().map(|(c, a)| (c.0, a.new)).unzip();
            tx.execute(B::DIALECT.fetched_move, vec![Arg::Ids(cs), Arg::Ids(seqs), Arg::from(user)]).await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn advance_delivered_many(
        &self,
        marks: &[DeliveryMark],
    ) -> StoreResult<Vec<(DeliveryMark, Advanced)>> {
        if let Some(committed) = self.backend.delivered(marks) {
            return committed.await;
        }
        let mut tx = self.begin().await?;
        let mut moved = Vec::new();
        for &m in marks {
            let step =
                advance_in(&mut *tx, B::DIALECT, m.conversation, m.user, Receipt::Delivered, m.seq, true);
            if let Some(adv) = step.await? {
                moved.push((m, adv));
            }
        }
        tx.commit().await?;
        Ok(moved)
    }
}
