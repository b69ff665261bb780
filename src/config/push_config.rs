//! `[push]`: the notification outbox and its providers (Web Push, FCM,
//! APNs). The notification service receives this section (and the VAPID
//! key path resolved from it), never the whole configuration.
//!
//! Owns: this section, its defaults and checks. May not touch: anything
//! outside `config`.

use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Push notifications (see `docs/PUSH.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// Accept `http://` push endpoints and provider URLs (tests, push
    /// services on a private network). Off: only `https://`. Implies
    /// `allow_private_endpoints`.
    pub allow_http_endpoints: bool,
    /// Accept Web Push endpoints on loopback, private, link-local and other
    /// non-public addresses (a push service inside your network). Off: they
    /// are refused at subscribe time and never connected to (SSRF guard).
    pub allow_private_endpoints: bool,
    /// How long a push waits for more messages of the same conversation to
    /// collapse into it, in milliseconds.
    pub delay_ms: u64,
    /// Send "New message" instead of a preview of the text.
    pub hide_previews: bool,
    /// Most push devices one user may have; registering another replaces
    /// the one registered (or re-registered) longest ago.
    pub max_devices_per_user: usize,
    /// Pushes sent at once by this node; 0 means this node sends none
    /// (another node of the cluster does).
    pub workers: usize,
    /// How often the outbox is checked for due pushes, in milliseconds.
    pub poll_ms: u64,
    /// Attempts before a push that keeps failing is dropped.
    pub max_attempts: u32,
    /// First retry delay; doubles with every attempt up to `retry_max_ms`.
    pub retry_base_ms: u64,
    /// Longest retry delay.
    pub retry_max_ms: u64,
    /// How long a push service keeps an undeliverable push, in seconds.
    pub ttl_secs: u64,
    /// PKCS#8 PEM P-256 key for VAPID. Unset: `DATA_DIR/vapid_private_key.pem`,
    /// generated on first start.
    pub vapid_private_key_file: Option<PathBuf>,
    /// VAPID contact: `mailto:` address or `https:` URL of the operator.
    pub vapid_subject: String,
    /// Firebase Cloud Messaging.
    pub fcm: FcmConfig,
    /// Apple Push Notification service.
    pub apns: ApnsConfig,
}

/// Firebase Cloud Messaging (HTTP v1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FcmConfig {
    /// The Firebase service-account JSON file. Unset: FCM is off.
    pub service_account_file: Option<PathBuf>,
    /// The FCM API base URL.
    pub endpoint: String,
    /// OAuth token endpoint; unset: the service account's `token_uri`.
    pub token_url: Option<String>,
}

/// Apple Push Notification service (token-based auth).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApnsConfig {
    /// The `.p8` signing key from Apple. Unset: APNs is off.
    pub key_file: Option<PathBuf>,
    /// The signing key's id.
    pub key_id: String,
    /// The Apple developer team id.
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// APNs for production builds of the app.
    pub production_url: String,
    /// APNs for development builds of the app.
    pub sandbox_url: String,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            allow_http_endpoints: false,
            allow_private_endpoints: false,
            delay_ms: 1000,
            hide_previews: false,
            max_devices_per_user: 20,
            workers: 8,
            poll_ms: 250,
            max_attempts: 8,
            retry_base_ms: 1000,
            retry_max_ms: 3_600_000,
            ttl_secs: 86_400,
            vapid_private_key_file: None,
            vapid_subject: "mailto:admin@localhost".into(),
            fcm: FcmConfig::default(),
            apns: ApnsConfig::default(),
        }
    }
}

impl Default for FcmConfig {
    fn default() -> Self {
        Self { service_account_file: None, endpoint: "https://fcm.googleapis.com".into(), token_url: None }
    }
}

impl Default for ApnsConfig {
    fn default() -> Self {
        Self {
            key_file: None,
            key_id: String::new(),
            team_id: String::new(),
            topic: String::new(),
            production_url: "https://api.push.apple.com".into(),
            sandbox_url: "https://api.sandbox.push.apple.com".into(),
        }
    }
}

impl PushConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        super::positive(&[
            ("push.max_devices_per_user", self.max_devices_per_user as u64),
            ("push.poll_ms", self.poll_ms),
            ("push.max_attempts", u64::from(self.max_attempts)),
            ("push.retry_base_ms", self.retry_base_ms),
            ("push.ttl_secs", self.ttl_secs),
        ])?;
        let http = self.allow_http_endpoints;
        super::provider_url("push.fcm.endpoint", &self.fcm.endpoint, http)?;
        if let Some(url) = &self.fcm.token_url {
            super::provider_url("push.fcm.token_url", url, http)?;
        }
        super::provider_url("push.apns.production_url", &self.apns.production_url, http)?;
        super::provider_url("push.apns.sandbox_url", &self.apns.sandbox_url, http)?;
        if !(self.vapid_subject.starts_with("mailto:") || self.vapid_subject.starts_with("https://")) {
            return Err(ConfigError::new("`push.vapid_subject` must be a mailto: or https: URL"));
        }
        Ok(())
    }
}
