//! [`PushStore`] on SQLite: devices, mutes, and the push outbox.

use super::{SqliteStore, push_job_cols, push_job_row, subscription_cols, subscription_row};
use crate::domain::*;
use crate::domain::{ConversationId, Millis, SubscriptionId, UserId};
use crate::store::*;
use async_trait::async_trait;

#[async_trait]
impl PushStore for SqliteStore {
    async fn upsert_subscription(&self, sub: &Subscription) -> StoreResult<Subscription> {
        let row = sqlx::query(
            "INSERT INTO push_subscriptions (user_id, kind, address, p256dh, auth, environment, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (kind, address) DO UPDATE
                SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
                    environment = excluded.environment, created_at = excluded.created_at
             RETURNING id, user_id, kind, address, p256dh, auth, environment, created_at",
        )
        .bind(sub.user_id.0)
        .bind(sub.kind.as_str())
        .bind(&sub.address)
        .bind(&sub.p256dh)
        .bind(&sub.auth)
        .bind(&sub.environment)
        .bind(sub.created_at)
        .fetch_one(&self.writer)
        .await?;
        Ok(subscription_row(&row)?)
    }

    async fn subscriptions_of(&self, user: UserId) -> StoreResult<Vec<Subscription>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            subscription_cols!(),
            " FROM push_subscriptions s WHERE s.user_id = ? ORDER BY s.id"
        ))
        .bind(user.0)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(subscription_row).collect::<Result<_, _>>()?)
    }

    async fn delete_subscription(&self, id: SubscriptionId, user: Option<UserId>) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM push_subscriptions WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)")
                .bind(id.0)
                .bind(user.map(|u| u.0))
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_mute(&self, user: UserId, mute: &Mute) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO push_mutes (user_id, conversation_id, until) VALUES (?, ?, ?)
             ON CONFLICT (user_id, conversation_id) DO UPDATE SET until = excluded.until",
        )
        .bind(user.0)
        .bind(mute.conversation.map_or(0, |c| c.0))
        .bind(mute.until)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn delete_mute(&self, user: UserId, conversation: Option<ConversationId>) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM push_mutes WHERE user_id = ? AND conversation_id = ?")
            .bind(user.0)
            .bind(conversation.map_or(0, |c| c.0))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn mutes_of(&self, user: UserId) -> StoreResult<Vec<Mute>> {
        let rows = sqlx::query(
            "SELECT conversation_id, until FROM push_mutes WHERE user_id = ? ORDER BY conversation_id",
        )
        .bind(user.0)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(super::mute_row).collect::<Result<_, _>>()?)
    }

    async fn claim_push_jobs(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> StoreResult<Vec<PushJob>> {
        let claim: i64 = rand::random::<i64>() | 1;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE push_jobs SET claimed_until = ?1, claim = ?2
              WHERE id IN (SELECT id FROM push_jobs WHERE due_at <= ?3 AND claimed_until <= ?3
                            ORDER BY due_at LIMIT ?4)",
        )
        .bind(lease_until)
        .bind(claim)
        .bind(now)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            push_job_cols!(),
            " FROM push_jobs j JOIN push_subscriptions s ON s.id = j.subscription_id WHERE j.claim = ?"
        ))
        .bind(claim)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows.iter().map(push_job_row).collect::<Result<_, _>>()?)
    }

    async fn finish_push_job(&self, job: &PushJob, next_at: Millis) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let deleted = sqlx::query("DELETE FROM push_jobs WHERE id = ? AND version = ?")
            .bind(job.id)
            .bind(job.version)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            sqlx::query(
                "UPDATE push_jobs SET claimed_until = 0, claim = 0, attempts = 0, due_at = ?,
                        pending = MAX(pending - ?, 1) WHERE id = ?",
            )
            .bind(next_at)
            .bind(job.pending)
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn retry_push_job(&self, job: &PushJob, at: Millis) -> StoreResult<()> {
        sqlx::query(
            "UPDATE push_jobs SET claimed_until = 0, claim = 0, attempts = attempts + 1, due_at = ? WHERE id = ?",
        )
        .bind(at)
        .bind(job.id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn drop_push_job(&self, job: &PushJob) -> StoreResult<()> {
        // A newer message that collapsed into the job meanwhile keeps it alive.
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM push_jobs WHERE id = ? AND version = ?")
            .bind(job.id)
            .bind(job.version)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE push_jobs SET claimed_until = 0, claim = 0 WHERE id = ?")
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pending_push_jobs(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM push_jobs").fetch_one(&self.reader).await?)
    }
}
