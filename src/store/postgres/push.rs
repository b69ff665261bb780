//! [`PushStore`] on PostgreSQL: devices, mutes, and the push outbox. Jobs
//! are claimed with `FOR UPDATE SKIP LOCKED`, so several nodes share the
//! outbox without sending a push twice.

use super::{PostgresStore, push_job_cols, push_job_row, subscription_cols, subscription_row};
use crate::domain::*;
use crate::domain::{ConversationId, Millis, SubscriptionId, UserId};
use crate::store::*;
use async_trait::async_trait;
use sqlx::PgConnection;

/// Records the push jobs of a new message inside its transaction: one per
/// device of each user in `m.push_to` not muting the conversation; a job
/// already waiting for that device and conversation takes the newer message
/// instead (the burst collapses into one push).
pub(super) async fn enqueue_pushes(
    conn: &mut PgConnection,
    m: &NewMessage<'_>,
    message: &Message,
) -> Result<(), sqlx::Error> {
    if m.push_to.is_empty() {
        return Ok(());
    }
    let users: Vec<i64> = m.push_to.iter().map(|u| u.0).collect();
    sqlx::query(
        "INSERT INTO push_jobs (subscription_id, user_id, conversation_id, message_id, due_at)
         SELECT s.id, s.user_id, $1, $2, $3 FROM push_subscriptions s
          WHERE s.user_id = ANY($4)
            AND NOT EXISTS (SELECT 1 FROM push_mutes x
                             WHERE x.user_id = s.user_id AND x.conversation_id IN (0, $1)
                               AND (x.until IS NULL OR x.until > $5))
         ON CONFLICT (subscription_id, conversation_id) DO UPDATE
            SET message_id = excluded.message_id, pending = push_jobs.pending + 1,
                version = push_jobs.version + 1",
    )
    .bind(message.conversation_id.0)
    .bind(message.id.0)
    .bind(m.push_at)
    .bind(&users)
    .bind(message.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl PushStore for PostgresStore {
    async fn upsert_subscription(&self, sub: &Subscription) -> StoreResult<Subscription> {
        let row = sqlx::query(
            "INSERT INTO push_subscriptions (user_id, kind, address, p256dh, auth, environment, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
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
        .fetch_one(&self.pool)
        .await?;
        Ok(subscription_row(&row)?)
    }

    async fn subscriptions_of(&self, user: UserId) -> StoreResult<Vec<Subscription>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            subscription_cols!(),
            " FROM push_subscriptions s WHERE s.user_id = $1 ORDER BY s.id"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(subscription_row).collect::<Result<_, _>>()?)
    }

    async fn delete_subscription(&self, id: SubscriptionId, user: Option<UserId>) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM push_subscriptions WHERE id = $1 AND ($2::BIGINT IS NULL OR user_id = $2)",
        )
        .bind(id.0)
        .bind(user.map(|u| u.0))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_mute(&self, user: UserId, mute: &Mute) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO push_mutes (user_id, conversation_id, until) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, conversation_id) DO UPDATE SET until = excluded.until",
        )
        .bind(user.0)
        .bind(mute.conversation.map_or(0, |c| c.0))
        .bind(mute.until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_mute(&self, user: UserId, conversation: Option<ConversationId>) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM push_mutes WHERE user_id = $1 AND conversation_id = $2")
            .bind(user.0)
            .bind(conversation.map_or(0, |c| c.0))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn mutes_of(&self, user: UserId) -> StoreResult<Vec<Mute>> {
        let rows = sqlx::query(
            "SELECT conversation_id, until FROM push_mutes WHERE user_id = $1 ORDER BY conversation_id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE push_jobs SET claimed_until = $1, claim = $2
              WHERE id IN (SELECT id FROM push_jobs WHERE due_at <= $3 AND claimed_until <= $3
                            ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)",
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
            " FROM push_jobs j JOIN push_subscriptions s ON s.id = j.subscription_id WHERE j.claim = $1"
        ))
        .bind(claim)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows.iter().map(push_job_row).collect::<Result<_, _>>()?)
    }

    async fn finish_push_job(&self, job: &PushJob, next_at: Millis) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM push_jobs WHERE id = $1 AND version = $2")
            .bind(job.id)
            .bind(job.version)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            sqlx::query(
                "UPDATE push_jobs SET claimed_until = 0, claim = 0, attempts = 0, due_at = $1,
                        pending = GREATEST(pending - $2, 1) WHERE id = $3",
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
            "UPDATE push_jobs SET claimed_until = 0, claim = 0, attempts = attempts + 1, due_at = $1 WHERE id = $2",
        )
        .bind(at)
        .bind(job.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn drop_push_job(&self, job: &PushJob) -> StoreResult<()> {
        // A newer message that collapsed into the job meanwhile keeps it alive.
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM push_jobs WHERE id = $1 AND version = $2")
            .bind(job.id)
            .bind(job.version)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE push_jobs SET claimed_until = 0, claim = 0 WHERE id = $1")
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pending_push_jobs(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM push_jobs").fetch_one(&self.pool).await?)
    }
}
