//! What a push provider answers, and the configured providers.
//!
//! Owns: [`Outcome`] (sent, gone, retry, failed) and how an HTTP answer maps
//! to it, the set of [`Providers`] a node has, setup errors, and the counters
//! of what the workers did. May not touch: the outbox — the worker decides
//! what an outcome means for a job.

use super::{Notification, apns, fcm, webpush};
use crate::domain::{PushKind, Subscription};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a provider made of one push.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Delivered to the push service.
    Sent,
    /// The device is gone for good: prune it.
    Gone(String),
    /// Try again later (at least `after`, when the provider said so).
    Retry {
        /// No sooner than this, if the provider said (`Retry-After`).
        after: Option<Duration>,
        /// What happened, for the logs.
        reason: String,
    },
    /// Will never work as it is: drop the job.
    Failed(String),
}

/// Maps an unsuccessful HTTP answer to retry (429, 5xx, honouring
/// `Retry-After` in seconds) or failure.
pub(super) fn classify_status(r: &reqwest::Response) -> Outcome {
    let status = r.status();
    if status.as_u16() == 429 || status.is_server_error() {
        let after = r
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Outcome::Retry { after, reason: format!("provider answered {status}") }
    } else {
        Outcome::Failed(format!("provider answered {status}"))
    }
}

/// A provider that cannot be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{path}: {source}")]
    /// A key or service-account file cannot be read.
    File {
        /// Which file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    #[error("{0}")]
    /// A setting or file is wrong; says which.
    Invalid(String),
}

impl SetupError {
    pub(super) fn file(path: &Path, source: std::io::Error) -> Self {
        SetupError::File { path: path.display().to_string(), source }
    }
}

/// Counters of what the workers did, for logs and tests.
#[derive(Debug, Default)]
pub struct PushStats {
    /// Pushes accepted by a provider.
    pub sent: AtomicU64,
    /// Pushes that will be tried again.
    pub retried: AtomicU64,
    /// Pushes given up.
    pub failed: AtomicU64,
    /// Devices deleted because the provider said they are gone.
    pub pruned: AtomicU64,
    /// Jobs dropped without sending: read, muted, recipient online, left.
    pub skipped: AtomicU64,
}

impl PushStats {
    pub(super) fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The configured providers. Web Push always works (Confab has its own
/// VAPID key); FCM and APNs only when configured.
pub struct Providers {
    pub(super) webpush: webpush::WebPush,
    pub(super) fcm: Option<fcm::Fcm>,
    pub(super) apns: Option<apns::Apns>,
}

impl Providers {
    /// Sends with the device's provider; `None` if that provider is not configured.
    pub(super) async fn send(&self, sub: &Subscription, note: &Notification) -> Option<Outcome> {
        Some(match sub.kind {
            PushKind::WebPush => self.webpush.send(sub, note).await,
            PushKind::Fcm => self.fcm.as_ref()?.send(sub, note).await,
            PushKind::Apns => self.apns.as_ref()?.send(sub, note).await,
        })
    }
}
