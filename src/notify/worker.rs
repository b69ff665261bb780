//! The outbox worker: claims due push jobs, decides whether each is still
//! wanted, sends it, and records the outcome.
//!
//! Delivery is at least once: a node that dies mid-send leaves its claim to
//! expire and another attempt sends again. The collapse key makes a repeat
//! replace the notification on the device instead of adding one.
//!
//! Owns: claiming, composing, sending and settling jobs. May not touch: the
//! providers' protocols — each provider file owns its own.

use super::{Notification, Outcome, Push, PushStats};
use crate::domain::{Error, Millis, now_millis};
use crate::store::PushJob;
use crate::telemetry::PushResult;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long a claimed job is held before another worker may take it over;
/// far longer than a send (requests time out after 15 s).
const LEASE: Millis = 60_000;

pub(super) async fn run(push: Arc<Push>, mut stop: watch::Receiver<bool>) {
    let poll = Duration::from_millis(push.settings.poll_ms);
    let batch = push.settings.workers as i64;
    loop {
        if *stop.borrow() {
            return;
        }
        let now = now_millis();
        let claimed = match push.store.claim_push_jobs(now, now + LEASE, batch).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim push jobs");
                Vec::new()
            }
        };
        let full = claimed.len() as i64 == batch;
        let mut running = JoinSet::new();
        for job in claimed {
            let push = push.clone();
            running.spawn(async move { push.process(job).await });
        }
        // In-flight sends finish even when asked to stop: their claims stay valid.
        while running.join_next().await.is_some() {}
        if !full {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

impl Push {
    async fn process(&self, job: PushJob) {
        let result = match self.compose(&job).await {
            Ok(Some(note)) => self.deliver(&job, &note).await,
            Ok(None) => {
                PushStats::bump(&self.stats.skipped);
                self.metrics.push(job.subscription.kind.as_str(), PushResult::Skipped);
                self.store.drop_push_job(&job).await.map_err(Error::from)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            // The claim expires and the job runs again.
            tracing::warn!(job = job.id, error = %e, "push job failed; it will be retried");
        }
    }

    /// The notification for `job`, or `None` if it is no longer wanted: the
    /// message or membership is gone, it was read meanwhile, the
    /// conversation is muted, or the recipient came online.
    async fn compose(&self, job: &PushJob) -> Result<Option<Notification>, Error> {
        let user = job.subscription.user_id;
        let Some(message) = self.store.message(job.message_id).await? else { return Ok(None) };
        let Some(conversation) = self.store.conversation(job.conversation_id).await? else { return Ok(None) };
        let Some(member) = conversation.member(user) else { return Ok(None) };
        if member.read_seq >= message.seq {
            return Ok(None);
        }
        let now = now_millis();
        let muted =
            self.store.mutes_of(user).await?.into_iter().any(|m| {
                m.conversation.is_none_or(|c| c == conversation.id) && m.until.is_none_or(|u| u > now)
            });
        if muted || self.presence.online_among(&[user]).await.first() == Some(&true) {
            return Ok(None);
        }
        // One count over every conversation, not a list of them (a user in
        // thousands of groups made every push load them all).
        let badge = self.store.unread_total(user).await?;
        let sender = match conversation.member(message.sender_id) {
            Some(m) => m.display_name.clone(),
            None => match self.store.user(message.sender_id).await? {
                Some(u) => u.display_name,
                None => "Someone".into(),
            },
        };
        Ok(Some(Notification::compose(
            &conversation,
            &message,
            &sender,
            job.pending,
            badge,
            !self.settings.hide_previews,
        )))
    }

    async fn deliver(&self, job: &PushJob, note: &Notification) -> Result<(), Error> {
        let sub = &job.subscription;
        let kind = sub.kind.as_str();
        let Some(outcome) = self.providers.send(sub, note).await else {
            PushStats::bump(&self.stats.failed);
            self.metrics.push(kind, PushResult::Dropped);
            tracing::warn!(job = job.id, kind, "push provider is not configured; dropping the push");
            return Ok(self.store.drop_push_job(job).await?);
        };
        match outcome {
            Outcome::Sent => {
                let n = PushStats::bump(&self.stats.sent);
                self.metrics.push(kind, PushResult::Sent);
                tracing::info!(job = job.id, kind, conversation = %job.conversation_id, sent_total = n, "push sent");
                self.store.finish_push_job(job, now_millis() + self.delay()).await?;
            }
            Outcome::Gone(reason) => {
                let n = PushStats::bump(&self.stats.pruned);
                self.metrics.push(kind, PushResult::Pruned);
                tracing::info!(job = job.id, kind, subscription = %sub.id, %reason, pruned_total = n, "push device pruned");
                self.store.delete_subscription(sub.id, None).await?;
            }
            Outcome::Retry { after, reason }
                if (job.attempts + 1) < i64::from(self.settings.max_attempts) =>
            {
                let wait = self.backoff(job.attempts, after);
                let n = PushStats::bump(&self.stats.retried);
                self.metrics.push(kind, PushResult::Retried);
                tracing::info!(
                    job = job.id, kind, %reason, attempt = job.attempts + 1,
                    retry_in_ms = wait.as_millis() as u64, retried_total = n, "push will be retried"
                );
                self.store.retry_push_job(job, now_millis() + wait.as_millis() as Millis).await?;
            }
            Outcome::Retry { reason, .. } | Outcome::Failed(reason) => {
                let n = PushStats::bump(&self.stats.failed);
                self.metrics.push(kind, PushResult::Dropped);
                tracing::warn!(job = job.id, kind, %reason, attempts = job.attempts + 1, failed_total = n, "push dropped");
                self.store.drop_push_job(job).await?;
            }
        }
        Ok(())
    }

    /// Exponential back-off from `push.retry_base_ms` (with up to 25 %
    /// jitter), capped at `push.retry_max_ms`; never sooner than the
    /// provider's `Retry-After`.
    fn backoff(&self, attempts: i64, retry_after: Option<Duration>) -> Duration {
        let base = self.settings.retry_base_ms.max(1);
        let exp = base.saturating_mul(1u64 << attempts.clamp(0, 30));
        let jitter = rand::random_range(0..=exp / 4);
        let wait = Duration::from_millis(exp.saturating_add(jitter).min(self.settings.retry_max_ms));
        retry_after.map_or(wait, |after| after.max(wait))
    }
}
