//! [`MessagingStore`] on either database: edits, tombstones, reactions,
//! message search and blocks.
//!
//! Owns: this trait's implementation. May not touch: SQL text (it is in
//! `messaging_sql` and `dialect`) or the services' rules.

use super::backend::{Backend, SqlStore};
use super::exec::{Col, Cols, Exec, args};
use super::{MessagingStore, StoreResult, mapping, sql};
use crate::domain::{
    ConversationId, Emoji, Message, MessageId, Millis, ReactionGroup, SearchQuery, User, UserId,
    reaction_groups,
};
use async_trait::async_trait;
use std::collections::HashMap;

/// Reaction rows (`message_id, emoji, user_id`, in the order made) grouped
/// by message, each message's groups ordered by first use.
fn reactions_by_message(rows: &[impl Cols]) -> StoreResult<HashMap<MessageId, Vec<ReactionGroup>>> {
    let mut by_message: HashMap<MessageId, Vec<(Emoji, UserId)>> = HashMap::new();
    for r in rows {
        let message = MessageId(r.col("message_id")?);
        let emoji = Emoji::from_stored(r.col("emoji")?);
        by_message.entry(message).or_default().push((emoji, UserId(r.col("user_id")?)));
    }
    Ok(by_message.into_iter().map(|(m, rows)| (m, reaction_groups(rows))).collect())
}

#[async_trait]
impl<B: Backend> MessagingStore for SqlStore<B> {
    async fn edit_message(&self, id: MessageId, body: &str, at: Millis) -> StoreResult<Option<Message>> {
        let mut c = self.write().await?;
        let row = c.optional(sql::EDIT_MESSAGE, args![body, at, id]).await?;
        row.as_ref().map(mapping::message).transpose()
    }

    async fn delete_message(&self, id: MessageId, at: Millis) -> StoreResult<Option<Message>> {
        let mut tx = self.begin().await?;
        let Some(row) = tx.optional(sql::TOMBSTONE, args![at, id]).await? else {
            return Ok(None);
        };
        let message = mapping::message(&row)?;
        for statement in [
            sql::UNLINK_MESSAGE_MEDIA,
            sql::DELETE_MESSAGE_REACTIONS,
            sql::DROP_MESSAGE_PUSHES,
            sql::UNCOUNT_MESSAGE_PUSHES,
        ] {
            tx.execute(statement, args![id]).await?;
        }
        tx.commit().await?;
        Ok(Some(message))
    }

    async fn delete_messages_of(
        &self,
        sender: UserId,
        at: Millis,
    ) -> StoreResult<Vec<(ConversationId, MessageId)>> {
        let mut tx = self.begin().await?;
        for statement in [sql::UNLINK_SENDER_MEDIA, sql::DELETE_SENDER_REACTIONS, sql::DROP_SENDER_PUSHES] {
            tx.execute(statement, args![sender]).await?;
        }
        let rows = tx.all(sql::TOMBSTONE_SENDER, args![at, sender]).await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| Ok((ConversationId(r.col("conversation_id")?), MessageId(r.col("id")?))))
            .collect()
    }

    async fn set_reaction(
        &self,
        message: MessageId,
        user: UserId,
        emoji: &Emoji,
        on: bool,
        at: Millis,
    ) -> StoreResult<Vec<ReactionGroup>> {
        let mut tx = self.begin().await?;
        if on {
            tx.execute(sql::ADD_REACTION, args![message, user, emoji.as_str(), at]).await?;
        } else {
            tx.execute(sql::REMOVE_REACTION, args![message, user, emoji.as_str()]).await?;
        }
        let rows = tx.all(sql::REACTIONS, args![message]).await?;
        tx.commit().await?;
        Ok(reactions_by_message(&rows)?.remove(&message).unwrap_or_default())
    }

    async fn reactions_of(
        &self,
        messages: &[MessageId],
    ) -> StoreResult<HashMap<MessageId, Vec<ReactionGroup>>> {
        if messages.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = self.read().await?.all(B::DIALECT.reactions_of_messages, args![messages]).await?;
        reactions_by_message(&rows)
    }

    async fn messages_by_ids(&self, ids: &[MessageId]) -> StoreResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.read().await?.all(B::DIALECT.messages_by_ids, args![ids]).await?;
        rows.iter().map(mapping::message).collect()
    }

    async fn search_messages(
        &self,
        user: UserId,
        query: &SearchQuery,
        conversation: Option<ConversationId>,
        before: Option<MessageId>,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        if let Some(indexed) = self.backend.searchable() {
            indexed.await?;
        }
        let terms = (B::DIALECT.search_terms)(query.words());
        let before = before.map_or(i64::MAX, |m| m.0);
        let args = args![user, terms.as_str(), conversation, before, limit];
        let rows = self.read().await?.all(B::DIALECT.search_messages, args).await?;
        rows.iter().map(mapping::message).collect()
    }

    /// Locks the pair's direct conversation first, where the dialect locks
    /// rows: a message batch locks it too and reads blocks after, so a
    /// message and a block of the same pair are ordered one way or the other
    /// (SQLite serializes every write anyway).
    async fn block(&self, blocker: UserId, blocked: UserId, at: Millis) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if let Some(lock) = B::DIALECT.lock_conversation {
            let key = mapping::direct_key(blocker, blocked);
            if let Some(row) = tx.optional(sql::DIRECT_BY_KEY, args![key.as_str()]).await? {
                let id: i64 = row.col("id")?;
                tx.execute(lock, args![id]).await?;
            }
        }
        tx.execute(sql::BLOCK, args![blocker, blocked, at]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unblock(&self, blocker: UserId, blocked: UserId) -> StoreResult<()> {
        self.write().await?.execute(sql::UNBLOCK, args![blocker, blocked]).await?;
        Ok(())
    }

    async fn blocked_by(&self, blocker: UserId) -> StoreResult<Vec<User>> {
        let rows = self.read().await?.all(sql::BLOCKED_BY, args![blocker]).await?;
        rows.iter().map(mapping::user).collect()
    }

    async fn blocks_involving(&self, user: UserId) -> StoreResult<Vec<(UserId, UserId)>> {
        let rows = self.read().await?.all(sql::BLOCKS_INVOLVING, args![user]).await?;
        rows.iter().map(|r| Ok((UserId(r.col("blocker_id")?), UserId(r.col("blocked_id")?)))).collect()
    }

    async fn blocked_either_way(&self, a: UserId, b: UserId) -> StoreResult<bool> {
        self.read().await?.one(sql::BLOCKED_EITHER_WAY, args![a, b]).await?.col("blocked")
    }
}
