//! The notification service: push devices, mutes, and delivering the push
//! outbox through Web Push, FCM and APNs.
//!
//! The chat service records a push job for every device of a member with
//! no live connection in the same transaction as the message (see
//! `store::PushStore`). The `worker` claims due jobs, checks they are
//! still wanted (not read, not muted, recipient still offline), composes
//! the notification (`content`) and hands it to the provider; it retries
//! with back-off, prunes dead devices, and drops what cannot be delivered.
//! A burst in one conversation is one job (later messages collapse into
//! it during `push.delay_ms`), so it is one notification.
//!
//! Owns: devices, mutes, the providers' setup and the worker's lifecycle. May
//! not touch: sockets, HTTP routes or SQL — devices and jobs are in `store`.

mod apns;
mod content;
pub mod endpoint;
mod fcm;
mod fcm_payload;
mod jwt;
mod payloads;
mod providers;
pub mod webpush;
mod worker;

pub use content::Notification;
pub use providers::{Outcome, PushStats, SetupError};
use providers::{Providers, classify_status};

use crate::config::PushConfig;
use crate::domain::{
    ConversationId, Error, Millis, Mute, PushKind, Subscription, SubscriptionId, UserId, now_millis,
};
use crate::presence::PresenceService;
use crate::store::Store;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A device registration request, as the client sent it.
#[derive(Debug, Clone)]
pub enum NewDevice {
    /// A browser's Web Push subscription.
    WebPush {
        /// The push service URL.
        endpoint: String,
        /// The browser's P-256 public key, base64url.
        p256dh: String,
        /// The 16-byte auth secret, base64url.
        auth: String,
    },
    /// An Android device.
    Fcm {
        /// The FCM registration token.
        token: String,
    },
    /// An iOS device.
    Apns {
        /// The APNs device token (hex).
        token: String,
        /// A development build (APNs sandbox).
        sandbox: bool,
    },
}

/// See the module docs.
pub struct Push {
    store: Arc<dyn Store>,
    presence: Arc<PresenceService>,
    settings: PushConfig,
    vapid: Arc<webpush::Vapid>,
    providers: Providers,
    /// What the workers did so far.
    pub stats: PushStats,
    /// The same, per provider, for `/metrics`.
    metrics: Arc<crate::telemetry::Metrics>,
}

impl Push {
    /// Reports job outcomes to `metrics` (a private set otherwise).
    pub fn with_metrics(mut self, metrics: Arc<crate::telemetry::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The service over `settings`, with the VAPID key at `vapid_key_file` (created if missing).
    pub fn new(
        settings: &PushConfig,
        vapid_key_file: &Path,
        store: Arc<dyn Store>,
        presence: Arc<PresenceService>,
    ) -> Result<Self, SetupError> {
        let settings = settings.clone();
        let vapid = Arc::new(webpush::Vapid::load_or_create(vapid_key_file, &settings.vapid_subject)?);
        let timeout = Duration::from_secs(15);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("confab/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SetupError::Invalid(format!("cannot build the push HTTP client: {e}")))?;
        let ttl = Duration::from_secs(settings.ttl_secs);
        let fcm = match &settings.fcm.service_account_file {
            Some(file) => Some(fcm::Fcm::new(
                client.clone(),
                file,
                &settings.fcm.endpoint,
                settings.fcm.token_url.as_deref(),
                ttl,
            )?),
            None => None,
        };
        let apns = match &settings.apns.key_file {
            Some(file) => {
                let h2 =
                    reqwest::Client::builder().timeout(timeout).http2_prior_knowledge().build().map_err(
                        |e| SetupError::Invalid(format!("cannot build the APNs HTTP/2 client: {e}")),
                    )?;
                let a = &settings.apns;
                Some(apns::Apns::new(
                    h2,
                    file,
                    apns::ApnsSettings {
                        key_id: &a.key_id,
                        team_id: &a.team_id,
                        topic: &a.topic,
                        production_url: &a.production_url,
                        sandbox_url: &a.sandbox_url,
                        ttl,
                    },
                )?)
            }
            None => None,
        };
        let private_ok = settings.allow_private_endpoints || settings.allow_http_endpoints;
        // Its own client: endpoints come from clients, so unless private ones
        // are allowed, names resolve to public addresses only and redirects
        // (which could point anywhere) are not followed.
        let mut web = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("confab/", env!("CARGO_PKG_VERSION")));
        if !private_ok {
            web = web.dns_resolver(endpoint::PublicOnly).redirect(reqwest::redirect::Policy::none());
        }
        let web = web
            .build()
            .map_err(|e| SetupError::Invalid(format!("cannot build the Web Push HTTP client: {e}")))?;
        let providers = Providers {
            webpush: webpush::WebPush { client: web, vapid: vapid.clone(), ttl, private_ok },
            fcm,
            apns,
        };
        let metrics = Arc::default();
        Ok(Self { store, presence, settings, vapid, providers, stats: PushStats::default(), metrics })
    }

    /// The VAPID public key browsers subscribe with.
    pub fn vapid_public_key(&self) -> &str {
        self.vapid.public_key()
    }

    /// Registers (or re-registers) a device for `user`.
    pub async fn subscribe(&self, user: UserId, device: NewDevice) -> Result<Subscription, Error> {
        let mut row = Subscription {
            id: SubscriptionId(0),
            user_id: user,
            kind: PushKind::WebPush,
            address: String::new(),
            p256dh: None,
            auth: None,
            environment: None,
            created_at: now_millis(),
        };
        match device {
            NewDevice::WebPush { endpoint, p256dh, auth } => {
                self.check_endpoint(&endpoint).await?;
                let key = URL_SAFE_NO_PAD.decode(p256dh.trim_end_matches('=')).ok();
                if !key.is_some_and(|k| k.len() == 65 && p256::PublicKey::from_sec1_bytes(&k).is_ok()) {
                    return Err(Error::invalid(
                        "`keys.p256dh` must be a base64url P-256 public key (65 bytes)",
                    ));
                }
                if URL_SAFE_NO_PAD.decode(auth.trim_end_matches('=')).map(|a| a.len()).ok() != Some(16) {
                    return Err(Error::invalid("`keys.auth` must be 16 bytes, base64url"));
                }
                row.address = endpoint;
                row.p256dh = Some(p256dh.trim_end_matches('=').to_string());
                row.auth = Some(auth.trim_end_matches('=').to_string());
            }
            NewDevice::Fcm { token } => {
                check_token(&token, 4096, |c| c.is_ascii_graphic())?;
                row.kind = PushKind::Fcm;
                row.address = token;
            }
            NewDevice::Apns { token, sandbox } => {
                check_token(&token, 200, |c| c.is_ascii_hexdigit())?;
                row.kind = PushKind::Apns;
                row.address = token.to_ascii_lowercase();
                row.environment = Some(if sandbox { "sandbox" } else { "production" }.into());
            }
        }
        Ok(self.store.upsert_subscription(&row, self.settings.max_devices_per_user).await?)
    }

    async fn check_endpoint(&self, endpoint: &str) -> Result<(), Error> {
        let url = reqwest::Url::parse(endpoint).map_err(|_| Error::invalid("`endpoint` must be a URL"))?;
        let allowed = match url.scheme() {
            "https" => true,
            "http" => self.settings.allow_http_endpoints,
            _ => false,
        };
        let Some(host) = url.host_str().filter(|_| allowed && endpoint.len() <= 2048) else {
            return Err(Error::invalid("`endpoint` must be an https URL of at most 2048 characters"));
        };
        if !(self.settings.allow_private_endpoints || self.settings.allow_http_endpoints) {
            endpoint::check_host(host).await.map_err(|e| Error::invalid(e.to_string()))?;
        }
        Ok(())
    }

    /// The user's devices.
    pub async fn subscriptions(&self, user: UserId) -> Result<Vec<Subscription>, Error> {
        Ok(self.store.subscriptions_of(user).await?)
    }

    /// Deletes one of the caller's devices; anyone else's is "not found".
    pub async fn unsubscribe(&self, user: UserId, id: SubscriptionId) -> Result<(), Error> {
        match self.store.delete_subscription(id, Some(user)).await? {
            true => Ok(()),
            false => Err(Error::NotFound("subscription")),
        }
    }

    /// Mutes one conversation (a member's) or, with `None`, every
    /// conversation, until `until` (forever if `None`).
    pub async fn mute(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
        until: Option<Millis>,
    ) -> Result<Mute, Error> {
        let mute = Mute { conversation, until };
        self.store.set_mute(user, &mute).await?;
        Ok(mute)
    }

    /// Removes a mute (`None`: the one for every conversation).
    pub async fn unmute(&self, user: UserId, conversation: Option<ConversationId>) -> Result<(), Error> {
        self.store.delete_mute(user, conversation).await?;
        Ok(())
    }

    /// The caller's mutes that are still in force.
    pub async fn mutes(&self, user: UserId) -> Result<Vec<Mute>, Error> {
        let now = now_millis();
        Ok(self.store.mutes_of(user).await?.into_iter().filter(|m| m.until.is_none_or(|u| u > now)).collect())
    }

    /// How long a push waits for more messages to collapse into it.
    pub fn delay(&self) -> Millis {
        self.settings.delay_ms as Millis
    }

    /// Starts the outbox worker, unless this node sends no pushes
    /// (`push.workers = 0`). Stops when `stop` changes.
    pub fn spawn_worker(
        self: &Arc<Self>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        (self.settings.workers > 0).then(|| tokio::spawn(worker::run(self.clone(), stop)))
    }
}

fn check_token(token: &str, max: usize, ok: impl Fn(char) -> bool) -> Result<(), Error> {
    if token.is_empty() || token.len() > max || !token.chars().all(ok) {
        return Err(Error::invalid(format!("`token` must be a device token of at most {max} characters")));
    }
    Ok(())
}
