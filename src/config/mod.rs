//! One typed configuration, layered: built-in defaults, then `confab.toml`
//! (or `--config FILE`), then `CONFAB_*` environment variables (nested keys
//! with `__`, e.g. `CONFAB_LIMITS__MESSAGE_MAX_CHARS=2000`), then CLI flags.
//! A bad value fails start-up with a message that names the setting.
//!
//! Owns: the settings, their defaults, layering and validation; one file per
//! section (`limits`, `push_config`, `media_config`, `cluster_config`) and
//! the environment layer (`env`). May not touch: anything at run time — it
//! imports nothing else of the crate, and each service gets its own section
//! rather than the whole `Config`. Every setting is listed in
//! `docs/CONFIG.md`; a test keeps the two in step.

mod cloudinary_config;
mod cluster_config;
mod env;
mod limits;
mod media_config;
mod paths;
mod push_config;
mod trusted_proxies;

pub use cloudinary_config::CloudinaryConfig;
pub use cluster_config::{ClusterConfig, SqliteSynchronous, StorageConfig};
pub use limits::{AuthConfig, Limits};
pub use media_config::MediaConfig;
pub use paths::Database;
pub use push_config::{ApnsConfig, FcmConfig, PushConfig};
pub use trusted_proxies::{TrustedProxies, canonical_ip};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration; see the module docs for how it is layered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP and Socket.IO server listens on.
    pub listen: SocketAddr,
    /// Where the embedded database (and later media) live.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` to choose the database file (unset means
    /// `DATA_DIR/confab.db`), or `postgres://…` for cluster mode.
    pub database_url: Option<String>,
    /// `redis://…` for cluster mode: presence and cross-node delivery go
    /// through Redis (7+). Unset means in-process (one node).
    pub redis_url: Option<String>,
    /// Cluster mode: Redis key prefix, node heartbeat, PostgreSQL pool.
    pub cluster: ClusterConfig,
    /// `tracing` filter, e.g. `info` or `confab=debug,info`. `RUST_LOG` wins if set.
    pub log: String,
    /// How log lines are written: readable text, or one JSON object per line.
    pub log_format: LogFormat,
    /// Address of the Prometheus `GET /metrics` listener (kept off the
    /// public one); empty disables it.
    pub metrics_listen: String,
    /// The embedded database's durability.
    pub storage: StorageConfig,
    /// What one client, socket or user may cost.
    pub limits: Limits,
    /// Login tokens and password hashing.
    pub auth: AuthConfig,
    /// Web origins (e.g. `https://chat.example.com`) whose pages may call the
    /// REST API and open sockets. Empty: only the server's own origin (the
    /// bundled web client); native and server clients are not affected.
    pub cors_origins: Vec<String>,
    /// Push notifications.
    pub push: PushConfig,
    /// Media attachments.
    pub media: MediaConfig,
    /// Reverse proxies (CIDRs or single addresses, e.g. `["10.0.0.0/8",
    /// "::1"]`) whose `X-Forwarded-For` is believed: for a request from one
    /// of them, the client is the right-most address in that header that is
    /// not itself a trusted proxy. Used for login throttling and socket
    /// connection limits. Empty: the TCP peer is the client.
    pub trusted_proxies: TrustedProxies,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            cluster: ClusterConfig::default(),
            log: "info".into(),
            log_format: LogFormat::Text,
            metrics_listen: "127.0.0.1:9090".into(),
            storage: StorageConfig::default(),
            limits: Limits::default(),
            auth: AuthConfig::default(),
            cors_origins: Vec::new(),
            push: PushConfig::default(),
            media: MediaConfig::default(),
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// Values given on the command line; only those present override.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--redis-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// `--push-allow-http-endpoints`, as `push.allow_http_endpoints = true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<PushOverrides>,
}

/// The `[push]` settings a flag can set.
#[derive(Debug, Default, Serialize)]
pub struct PushOverrides {
    /// `--push-allow-http-endpoints`.
    pub allow_http_endpoints: bool,
}

/// The top-level settings, i.e. which `CONFAB_*` variables are ours.
const SETTINGS: [&str; 15] = [
    "listen",
    "log_format",
    "metrics_listen",
    "data_dir",
    "database_url",
    "redis_url",
    "log",
    "storage",
    "limits",
    "auth",
    "cluster",
    "cors_origins",
    "push",
    "media",
    "trusted_proxies",
];

/// The log line format (`log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A configuration that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// Fails on the first `(name, value)` that is 0.
fn positive(settings: &[(&str, u64)]) -> Result<(), ConfigError> {
    match settings.iter().find(|(_, v)| *v == 0) {
        Some((name, _)) => Err(ConfigError(format!("`{name}` must be greater than 0"))),
        None => Ok(()),
    }
}

/// A provider URL the server calls out to: https, or http when allowed.
fn provider_url(name: &str, url: &str, allow_http: bool) -> Result<(), ConfigError> {
    if url.starts_with("https://") || (allow_http && url.starts_with("http://")) {
        return Ok(());
    }
    Err(ConfigError(format!(
        "`{name}` must be an https:// URL (http:// only with push.allow_http_endpoints)"
    )))
}

impl Config {
    /// Loads defaults → `file` (or `./confab.toml` if it exists) → env → `overrides`.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let defaults = Figment::from(Serialized::defaults(Config::default()));
        let mut figment = defaults.clone();
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!("config file {} does not exist", path.display())));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new("confab.toml").exists() => {
                figment = figment.merge(Toml::file_exact("confab.toml"));
            }
            None => {}
        }
        let config: Config = figment
            .merge(env::TypedEnv::from_process(defaults, &SETTINGS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.database()?;
        if let Some(url) = &self.redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigError::new("`redis_url` must start with redis:// or rediss://"));
            }
        }
        self.cluster.validate()?;
        self.metrics_addr()?;
        self.limits.validate()?;
        positive(&[("auth.token_ttl_hours", self.auth.token_ttl_hours)])?;
        self.push.validate()?;
        self.media.validate(self.push.allow_http_endpoints)?;
        for origin in &self.cors_origins {
            let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin.trim_end_matches('/').contains(['*', ' '])
                && origin.matches('/').count() == 2;
            if !ok {
                return Err(ConfigError(format!(
                    "`cors_origins`: {origin:?} must be an origin like https://chat.example.com (no path, no wildcard)"
                )));
            }
        }
        Ok(())
    }
}

impl Config {
    /// The `metrics_listen` address; `None` when it is empty (disabled).
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let text = self.metrics_listen.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| {
            ConfigError(format!(
                "`metrics_listen`: {text:?} must be an address like 127.0.0.1:9090, or empty"
            ))
        })
    }
}

#[cfg(test)]
mod config_tests;
