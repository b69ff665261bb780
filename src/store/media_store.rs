//! [`MediaStore`] on either database (a message's media are linked by the
//! committers, inside the message's transaction), and the server-wide secrets.
//!
//! Owns: this trait's implementation. May not touch: SQL text (it is in
//! `sql`) or the services' rules.

use super::backend::{Backend, SqlStore};
use super::exec::{Col, Exec, args};
use super::{MediaStore, StoreResult, mapping, sql};
use crate::domain::{MediaItem, Millis, UserId};
use async_trait::async_trait;

#[async_trait]
impl<B: Backend> MediaStore for SqlStore<B> {
    async fn insert_media(&self, m: &MediaItem) -> StoreResult<()> {
        let args = args![
            m.id.as_str(),
            m.owner_id,
            m.backend.as_str(),
            m.kind.as_str(),
            m.mime.as_str(),
            m.size,
            m.name.as_str(),
            m.width,
            m.height,
            &m.sha256,
            &m.thumb_sha256,
            &m.remote,
            m.created_at,
            m.attached_at
        ];
        self.write().await?.execute(sql::INSERT_MEDIA, args).await?;
        Ok(())
    }

    async fn media(&self, id: &str) -> StoreResult<Option<MediaItem>> {
        let row = self.read().await?.optional(sql::MEDIA, args![id]).await?;
        row.as_ref().map(mapping::media).transpose()
    }

    async fn media_visible_to(&self, id: &str, user: UserId) -> StoreResult<bool> {
        self.read().await?.one(sql::MEDIA_VISIBLE, args![id, user]).await?.col("visible")
    }

    async fn unattached_media(&self, before: Millis, limit: i64) -> StoreResult<Vec<MediaItem>> {
        let rows = self.read().await?.all(sql::UNATTACHED_MEDIA, args![before, limit]).await?;
        rows.iter().map(mapping::media).collect()
    }

    async fn delete_media(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        tx.execute(sql::DELETE_MEDIA_LINKS, args![id]).await?;
        let deleted = tx.execute(sql::DELETE_MEDIA, args![id]).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    async fn files_in_use(&self, sha256: &str) -> StoreResult<i64> {
        self.read().await?.one(sql::FILES_IN_USE, args![sha256]).await?.col("n")
    }

    async fn media_bytes_of(&self, owner: UserId) -> StoreResult<i64> {
        self.read().await?.one(sql::MEDIA_BYTES_OF, args![owner]).await?.col("n")
    }

    async fn secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        // Written and read on one connection, so the read sees the write.
        let mut c = self.write().await?;
        c.execute(sql::INSERT_SECRET, args![name, candidate]).await?;
        c.one(sql::SECRET, args![name]).await?.col("value")
    }
}
