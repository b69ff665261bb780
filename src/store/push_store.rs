//! [`PushStore`] on either database: devices, mutes, and the push outbox.
//! On PostgreSQL jobs are claimed with `FOR UPDATE SKIP LOCKED` (see
//! `dialect`), so several nodes share the outbox without sending a push twice.
//!
//! Owns: this trait's implementation. May not touch: SQL text (it is in `sql`
//! and `dialect`) or the services' rules.

use super::backend::{Backend, SqlStore};
use super::exec::{Col, Exec, args};
use super::{PushJob, PushStore, StoreResult, mapping, sql};
use crate::domain::{ConversationId, Millis, Mute, Subscription, SubscriptionId, UserId};
use async_trait::async_trait;

#[async_trait]
impl<B: Backend> PushStore for SqlStore<B> {
    async fn upsert_subscription(
        &self,
        sub: &Subscription,
        max_per_user: usize,
    ) -> StoreResult<Subscription> {
        let args = args![
            sub.user_id,
            sub.kind.as_str(),
            &sub.address,
            &sub.p256dh,
            &sub.auth,
            &sub.environment,
            sub.created_at
        ];
        let mut tx = self.begin().await?;
        if let Some(lock) = B::DIALECT.lock_user_devices {
            tx.execute(lock, args![sub.user_id]).await?;
        }
        let row = mapping::subscription(&tx.one(sql::UPSERT_SUBSCRIPTION, args).await?)?;
        let others = i64::try_from(max_per_user.saturating_sub(1)).unwrap_or(i64::MAX);
        tx.execute(sql::TRIM_SUBSCRIPTIONS, args![sub.user_id, row.id, others]).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn subscriptions_of(&self, user: UserId) -> StoreResult<Vec<Subscription>> {
        let rows = self.read().await?.all(sql::SUBSCRIPTIONS_OF, args![user]).await?;
        rows.iter().map(mapping::subscription).collect()
    }

    async fn delete_subscription(&self, id: SubscriptionId, user: Option<UserId>) -> StoreResult<bool> {
        Ok(self.write().await?.execute(sql::DELETE_SUBSCRIPTION, args![id, user]).await? > 0)
    }

    async fn set_mute(&self, user: UserId, mute: &Mute) -> StoreResult<()> {
        let conversation = mute.conversation.map_or(0, |c| c.0);
        self.write().await?.execute(sql::SET_MUTE, args![user, conversation, mute.until]).await?;
        Ok(())
    }

    async fn delete_mute(&self, user: UserId, conversation: Option<ConversationId>) -> StoreResult<bool> {
        let conversation = conversation.map_or(0, |c| c.0);
        Ok(self.write().await?.execute(sql::DELETE_MUTE, args![user, conversation]).await? > 0)
    }

    async fn mutes_of(&self, user: UserId) -> StoreResult<Vec<Mute>> {
        let rows = self.read().await?.all(sql::MUTES_OF, args![user]).await?;
        rows.iter().map(mapping::mute).collect()
    }

    async fn claim_push_jobs(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> StoreResult<Vec<PushJob>> {
        let claim: i64 = rand::random::<i64>() | 1;
        let mut tx = self.begin().await?;
        tx.execute(B::DIALECT.claim_push_jobs, args![lease_until, claim, now, limit]).await?;
        let rows = tx.all(sql::CLAIMED_JOBS, args![claim]).await?;
        tx.commit().await?;
        rows.iter().map(mapping::push_job).collect()
    }

    async fn finish_push_job(&self, job: &PushJob, next_at: Millis) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if tx.execute(sql::DELETE_JOB_AT_VERSION, args![job.id, job.version]).await? == 0 {
            tx.execute(sql::REQUEUE_JOB, args![next_at, job.pending, job.id]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn retry_push_job(&self, job: &PushJob, at: Millis) -> StoreResult<()> {
        self.write().await?.execute(sql::RETRY_JOB, args![at, job.id]).await?;
        Ok(())
    }

    async fn drop_push_job(&self, job: &PushJob) -> StoreResult<()> {
        // A newer message that collapsed into the job meanwhile keeps it alive.
        let mut tx = self.begin().await?;
        tx.execute(sql::DELETE_JOB_AT_VERSION, args![job.id, job.version]).await?;
        tx.execute(sql::RELEASE_JOB, args![job.id]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pending_push_jobs(&self) -> StoreResult<i64> {
        self.read().await?.one(sql::COUNT_JOBS, args![]).await?.col("n")
    }
}
