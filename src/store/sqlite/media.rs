//! [`MediaStore`] on SQLite (a message's media are linked by the committer,
//! inside the message's transaction).

use super::{SqliteStore, media_row};
use crate::domain::*;
use crate::domain::{Millis, UserId};
use crate::store::*;
use async_trait::async_trait;

#[async_trait]
impl MediaStore for SqliteStore {
    async fn insert_media(&self, m: &MediaItem) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO media (id, owner_id, backend, kind, mime, size, name, width, height, sha256,
                                thumb_sha256, remote, created_at, attached_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&m.id)
        .bind(m.owner_id.0)
        .bind(&m.backend)
        .bind(&m.kind)
        .bind(&m.mime)
        .bind(m.size)
        .bind(&m.name)
        .bind(m.width)
        .bind(m.height)
        .bind(&m.sha256)
        .bind(&m.thumb_sha256)
        .bind(&m.remote)
        .bind(m.created_at)
        .bind(m.attached_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn media(&self, id: &str) -> StoreResult<Option<MediaItem>> {
        let row =
            sqlx::query("SELECT * FROM media WHERE id = ?").bind(id).fetch_optional(&self.reader).await?;
        Ok(row.as_ref().map(media_row).transpose()?)
    }

    async fn media_visible_to(&self, id: &str, user: UserId) -> StoreResult<bool> {
        let visible: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM media WHERE id = ?1 AND owner_id = ?2)
                 OR EXISTS (SELECT 1 FROM media_links l
                              JOIN members m ON m.conversation_id = l.conversation_id AND m.user_id = ?2
                             WHERE l.media_id = ?1)",
        )
        .bind(id)
        .bind(user.0)
        .fetch_one(&self.reader)
        .await?;
        Ok(visible)
    }

    async fn unattached_media(&self, before: Millis, limit: i64) -> StoreResult<Vec<MediaItem>> {
        let rows = sqlx::query(
            "SELECT * FROM media WHERE attached_at IS NULL AND created_at < ? ORDER BY created_at LIMIT ?",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(media_row).collect::<Result<_, _>>()?)
    }

    async fn delete_media(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM media_links WHERE media_id = ?").bind(id).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM media WHERE id = ?").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn files_in_use(&self, sha256: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM media WHERE sha256 = ?1 OR thumb_sha256 = ?1")
            .bind(sha256)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn media_bytes_of(&self, owner: UserId) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(SUM(size), 0) FROM
               (SELECT MAX(size) AS size FROM media WHERE owner_id = ? AND backend = 'local' GROUP BY sha256)",
        )
        .bind(owner.0)
        .fetch_one(&self.reader)
        .await?)
    }

    async fn secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        sqlx::query("INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)")
            .bind(name)
            .bind(candidate)
            .execute(&self.writer)
            .await?;
        Ok(sqlx::query_scalar("SELECT value FROM secrets WHERE name = ?")
            .bind(name)
            .fetch_one(&self.writer)
            .await?)
    }
}
