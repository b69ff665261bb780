//! [`MediaStore`] on PostgreSQL, and linking a message's media inside its transaction.

use super::{PostgresStore, media_row};
use crate::domain::*;
use crate::domain::{Millis, UserId};
use crate::store::*;
use async_trait::async_trait;
use sqlx::PgConnection;

/// Records that `message` carries its attachments: members of its
/// conversation may now fetch them, and they are no longer orphans.
pub(super) async fn link_media(conn: &mut PgConnection, message: &Message) -> Result<(), sqlx::Error> {
    for a in &message.attachments {
        sqlx::query("INSERT INTO media_links (media_id, conversation_id, message_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(&a.id)
            .bind(message.conversation_id.0)
            .bind(message.id.0)
            .execute(&mut *conn)
            .await?;
        sqlx::query("UPDATE media SET attached_at = COALESCE(attached_at, $1) WHERE id = $2")
            .bind(message.created_at)
            .bind(&a.id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl MediaStore for PostgresStore {
    async fn insert_media(&self, m: &MediaItem) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO media (id, owner_id, backend, kind, mime, size, name, width, height, sha256,
                                thumb_sha256, remote, created_at, attached_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn media(&self, id: &str) -> StoreResult<Option<MediaItem>> {
        let row =
            sqlx::query("SELECT * FROM media WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(media_row).transpose()?)
    }

    async fn media_visible_to(&self, id: &str, user: UserId) -> StoreResult<bool> {
        let visible: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM media WHERE id = $1 AND owner_id = $2)
                 OR EXISTS (SELECT 1 FROM media_links l
                              JOIN members m ON m.conversation_id = l.conversation_id AND m.user_id = $2
                             WHERE l.media_id = $1)",
        )
        .bind(id)
        .bind(user.0)
        .fetch_one(&self.pool)
        .await?;
        Ok(visible)
    }

    async fn unattached_media(&self, before: Millis, limit: i64) -> StoreResult<Vec<MediaItem>> {
        let rows = sqlx::query(
            "SELECT * FROM media WHERE attached_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(media_row).collect::<Result<_, _>>()?)
    }

    async fn delete_media(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM media_links WHERE media_id = $1").bind(id).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM media WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn files_in_use(&self, sha256: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM media WHERE sha256 = $1 OR thumb_sha256 = $1")
            .bind(sha256)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn media_bytes_of(&self, owner: UserId) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(SUM(size), 0)::BIGINT FROM
               (SELECT MAX(size) AS size FROM media WHERE owner_id = $1 AND backend = 'local' GROUP BY sha256) t",
        )
        .bind(owner.0)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?)
    }
}
