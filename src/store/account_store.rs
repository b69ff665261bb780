//! [`AccountStore`] on either database: what deleting and exporting an
//! account needs beyond the other traits.
//!
//! Owns: this trait's implementation. May not touch: SQL text (it is in
//! `sql`) or the services' rules (`accounts` decides the order of the steps).

use super::backend::{Backend, SqlStore};
use super::exec::{Exec, args};
use super::{AccountStore, StoreResult, mapping, sql};
use crate::domain::{MediaItem, Message, MessageId, Millis, UserId};
use async_trait::async_trait;

#[async_trait]
impl<B: Backend> AccountStore for SqlStore<B> {
    async fn erase_user(
        &self,
        user: UserId,
        tombstone: &str,
        display_name: &str,
        at: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        tx.execute(sql::ERASE_SUBSCRIPTIONS, args![user]).await?;
        tx.execute(sql::ERASE_MUTES, args![user]).await?;
        tx.execute(sql::ERASE_MEMBERSHIPS, args![user]).await?;
        tx.execute(sql::ERASE_USER, args![tombstone, display_name, at, user]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn messages_by_sender(
        &self,
        user: UserId,
        after: MessageId,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let rows = self.read().await?.all(sql::MESSAGES_BY_SENDER, args![user, after, limit]).await?;
        rows.iter().map(mapping::message).collect()
    }

    async fn media_of(&self, owner: UserId) -> StoreResult<Vec<MediaItem>> {
        let rows = self.read().await?.all(sql::MEDIA_OF, args![owner]).await?;
        rows.iter().map(mapping::media).collect()
    }
}
