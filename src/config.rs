//! One typed configuration, layered: built-in defaults, then `confab.toml`
//! (or `--config FILE`), then `CONFAB_*` environment variables (nested keys
//! with `__`, e.g. `CONFAB_LIMITS__MESSAGE_MAX_CHARS=2000`), then CLI flags.
//! A bad value fails start-up with a message that names the setting.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    pub cluster: ClusterConfig,
    /// `tracing` filter, e.g. `info` or `confab=debug,info`. `RUST_LOG` wins if set.
    pub log: String,
    pub storage: StorageConfig,
    pub limits: Limits,
    pub auth: AuthConfig,
    /// Web origins (e.g. `https://chat.example.com`) whose pages may call the
    /// REST API and open sockets. Empty: only the server's own origin (the
    /// bundled web client); native and server clients are not affected.
    pub cors_origins: Vec<String>,
    pub push: PushConfig,
    pub media: MediaConfig,
    /// Reverse proxies (CIDRs or single addresses, e.g. `["10.0.0.0/8",
    /// "::1"]`) whose `X-Forwarded-For` is believed: for a request from one
    /// of them, the client is the right-most address in that header that is
    /// not itself a trusted proxy. Used for login throttling and socket
    /// connection limits. Empty: the TCP peer is the client.
    pub trusted_proxies: TrustedProxies,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `full`: every commit is fsynced (survives power loss). `normal`: survives
    /// a crash of the process, may lose the last commits on power loss.
    pub sqlite_synchronous: String,
}

/// Cluster mode (PostgreSQL + Redis) settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Prefix of every Redis key and channel, so several clusters (or
    /// tests) can share one Redis.
    pub redis_prefix: String,
    /// A node that stops heart-beating is considered dead after this many
    /// seconds: its users stop counting as online.
    pub node_ttl_secs: u64,
    /// Connections in this node's PostgreSQL pool.
    pub postgres_max_connections: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self { redis_prefix: "confab".into(), node_ttl_secs: 20, postgres_max_connections: 16 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest message text, in characters.
    pub message_max_chars: usize,
    /// Largest Socket.IO packet, in bytes; a bigger one closes that connection.
    pub socket_max_payload: u64,
    /// Largest HTTP request body, in bytes.
    pub http_body_max: usize,
    /// Sustained Socket.IO events per second per socket.
    pub events_per_second: u32,
    /// Events a socket may send in a burst above the sustained rate.
    pub events_burst: u32,
    /// The same for all of one user's sockets on a node together.
    pub events_per_second_per_user: u32,
    pub events_burst_per_user: u32,
    /// Most messages in one history page or unread fetch.
    pub page_max: i64,
    /// Most members in one group, owner included.
    pub group_max_members: usize,
    /// Packets (replies and events) queued for one socket before further
    /// ones are dropped: bounds the memory a client that stops reading costs.
    /// Such a client is then dropped after `write_timeout_ms`.
    pub socket_buffer: usize,
    /// Engine.IO heartbeat: a ping every `heartbeat_interval_ms`; a socket
    /// that does not answer within `heartbeat_timeout_ms`, or whose queue is
    /// too full to take the ping, is closed.
    pub heartbeat_interval_ms: u64,
    pub heartbeat_timeout_ms: u64,
    /// A connection whose sent data stays unacknowledged this long is
    /// dropped by the kernel (TCP_USER_TIMEOUT): a client that stopped
    /// reading, once its buffers are full.
    pub write_timeout_ms: u64,
    /// Open Socket.IO connections one user may have across the cluster
    /// (devices and tabs); one more is refused at the handshake.
    pub connections_per_user: usize,
    /// Open Socket.IO connections from one client IP address on this node;
    /// one more is refused at the handshake. 0: unlimited. Behind a reverse
    /// proxy every client has the proxy's address: raise it or set 0.
    pub connections_per_address: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// How long a login token stays valid, in hours.
    pub token_ttl_hours: u64,
    /// Password hashes (logins, registrations) computed at once on this
    /// node; each holds ~19 MiB while it runs, the rest wait. 0: one per core.
    pub password_hashes_at_once: usize,
    /// Cluster mode: how long a node trusts its cached view of a token
    /// before it reads the token again from the database — the backstop for
    /// a logout whose Redis message this node missed. 0: never re-read.
    pub token_recheck_secs: u64,
}

/// Media attachments (see `docs/MEDIA.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Where uploaded files live. Unset: `DATA_DIR/media`.
    pub dir: Option<PathBuf>,
    /// Largest upload per kind, in bytes (the kind is sniffed from the bytes).
    pub max_image_bytes: u64,
    pub max_video_bytes: u64,
    pub max_audio_bytes: u64,
    pub max_file_bytes: u64,
    /// Longest side of generated image thumbnails, in pixels.
    pub thumbnail_px: u32,
    /// Uploads never sent in a message are deleted after this many hours.
    pub orphan_hours: u64,
    /// How long a signed media link stays valid, in seconds.
    pub link_ttl_secs: u64,
    /// Most attachments on one message.
    pub max_attachments: usize,
    /// Bytes of local uploads one user may keep (the same content twice
    /// counts once); 0: unlimited.
    pub quota_bytes_per_user: u64,
    /// Uploads one user may start per minute on one node (a burst of as
    /// many is allowed); 0: unlimited.
    pub uploads_per_minute: u32,
    pub cloudinary: CloudinaryConfig,
    /// Largest image, in pixels (width × height), that is decoded for a
    /// thumbnail; a bigger one is refused from its header, before decoding.
    pub max_image_pixels: u64,
}

/// Cloudinary direct uploads; on when `cloud_name`, `api_key` and `api_secret` are set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudinaryConfig {
    pub cloud_name: Option<String>,
    pub api_key: Option<String>,
    pub api_secret: Option<String>,
    /// Upload/Admin API base URL.
    pub api_url: String,
    /// Delivery (CDN) base URL.
    pub delivery_url: String,
    /// Folder every signed upload goes to.
    pub folder: String,
    /// File formats a signed upload may have.
    pub allowed_formats: Vec<String>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        const MIB: u64 = 1024 * 1024;
        Self {
            dir: None,
            max_image_bytes: 20 * MIB,
            max_video_bytes: 200 * MIB,
            max_audio_bytes: 50 * MIB,
            max_file_bytes: 100 * MIB,
            thumbnail_px: 320,
            orphan_hours: 24,
            link_ttl_secs: 3600,
            max_attachments: 10,
            quota_bytes_per_user: 1024 * MIB,
            uploads_per_minute: 30,
            cloudinary: CloudinaryConfig::default(),
            max_image_pixels: 50_000_000,
        }
    }
}

impl Default for CloudinaryConfig {
    fn default() -> Self {
        let formats = [
            "jpg", "jpeg", "png", "gif", "webp", "heic", "mp4", "mov", "webm", "mp3", "m4a", "ogg", "wav",
            "pdf",
        ];
        Self {
            cloud_name: None,
            api_key: None,
            api_secret: None,
            api_url: "https://api.cloudinary.com".into(),
            delivery_url: "https://res.cloudinary.com".into(),
            folder: "confab".into(),
            allowed_formats: formats.map(String::from).to_vec(),
        }
    }
}

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
    /// Pushes sent at once by this node; 0 means this node sends none
    /// (another node of the cluster does).
    pub workers: usize,
    /// How often the outbox is checked for due pushes, in milliseconds.
    pub poll_ms: u64,
    /// Attempts before a push that keeps failing is dropped.
    pub max_attempts: u32,
    /// First retry delay; doubles with every attempt up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// How long a push service keeps an undeliverable push, in seconds.
    pub ttl_secs: u64,
    /// PKCS#8 PEM P-256 key for VAPID. Unset: `DATA_DIR/vapid_private_key.pem`,
    /// generated on first start.
    pub vapid_private_key_file: Option<PathBuf>,
    /// VAPID contact: `mailto:` address or `https:` URL of the operator.
    pub vapid_subject: String,
    pub fcm: FcmConfig,
    pub apns: ApnsConfig,
}

/// Firebase Cloud Messaging (HTTP v1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FcmConfig {
    /// The Firebase service-account JSON file. Unset: FCM is off.
    pub service_account_file: Option<PathBuf>,
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
    pub key_id: String,
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    pub production_url: String,
    pub sandbox_url: String,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            allow_http_endpoints: false,
            allow_private_endpoints: false,
            delay_ms: 1000,
            hide_previews: false,
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

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            cluster: ClusterConfig::default(),
            log: "info".into(),
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

impl Default for StorageConfig {
    fn default() -> Self {
        Self { sqlite_synchronous: "full".into() }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            message_max_chars: 4000,
            socket_max_payload: 1_000_000,
            http_body_max: 256 * 1024,
            events_per_second: 20,
            events_burst: 40,
            events_per_second_per_user: 100,
            events_burst_per_user: 200,
            page_max: 500,
            group_max_members: 1000,
            socket_buffer: 1024,
            heartbeat_interval_ms: 25_000,
            heartbeat_timeout_ms: 20_000,
            write_timeout_ms: 30_000,
            connections_per_user: 50,
            connections_per_address: 200,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { token_ttl_hours: 24 * 30, password_hashes_at_once: 0, token_recheck_secs: 30 }
    }
}

/// Values given on the command line; only those present override.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// `--push-allow-http-endpoints`, as `push.allow_http_endpoints = true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<PushOverrides>,
}

#[derive(Debug, Default, Serialize)]
pub struct PushOverrides {
    pub allow_http_endpoints: bool,
}

/// The top-level settings, i.e. which `CONFAB_*` variables are ours.
const SETTINGS: [&str; 13] = [
    "listen",
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

/// Whether an environment key (after `CONFAB_`, lower-cased, `__` split into
/// `.`) names a setting. Other `CONFAB_*` variables are not ours — an
/// orchestrator may inject `CONFAB_PORT` for a service named "confab" — and
/// are ignored with a warning instead of stopping start-up.
fn is_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let top = key.split('.').next().and_then(|k| k.split("__").next()).unwrap_or(&key);
    let ours = SETTINGS.contains(&top);
    if !ours {
        eprintln!("confab: ignoring environment variable CONFAB_{}: not a setting", key.to_ascii_uppercase());
    }
    ours
}

/// Where the database is, once the configuration is understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

/// A configuration that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads defaults → `file` (or `./confab.toml` if it exists) → env → `overrides`.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
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
            .merge(Env::prefixed("CONFAB_").split("__").filter(|key| is_setting(key.as_str())))
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
                return Err(ConfigError("`redis_url` must start with redis:// or rediss://".into()));
            }
        }
        if self.cluster.redis_prefix.is_empty() || self.cluster.redis_prefix.contains(char::is_whitespace) {
            return Err(ConfigError("`cluster.redis_prefix` must be non-empty and without spaces".into()));
        }
        self.sqlite_synchronous_full()?;
        let l = &self.limits;
        let positive = [
            ("limits.message_max_chars", l.message_max_chars as u64),
            ("limits.socket_max_payload", l.socket_max_payload),
            ("limits.http_body_max", l.http_body_max as u64),
            ("limits.events_per_second", u64::from(l.events_per_second)),
            ("limits.events_burst", u64::from(l.events_burst)),
            ("limits.events_per_second_per_user", u64::from(l.events_per_second_per_user)),
            ("limits.events_burst_per_user", u64::from(l.events_burst_per_user)),
            ("limits.page_max", l.page_max.max(0) as u64),
            ("limits.group_max_members", l.group_max_members as u64),
            ("limits.socket_buffer", l.socket_buffer as u64),
            ("limits.heartbeat_interval_ms", l.heartbeat_interval_ms),
            ("limits.heartbeat_timeout_ms", l.heartbeat_timeout_ms),
            ("limits.write_timeout_ms", l.write_timeout_ms),
            ("limits.connections_per_user", l.connections_per_user as u64),
            ("auth.token_ttl_hours", self.auth.token_ttl_hours),
            ("cluster.node_ttl_secs", self.cluster.node_ttl_secs),
            ("cluster.postgres_max_connections", u64::from(self.cluster.postgres_max_connections)),
            ("push.poll_ms", self.push.poll_ms),
            ("push.max_attempts", u64::from(self.push.max_attempts)),
            ("push.retry_base_ms", self.push.retry_base_ms),
            ("push.ttl_secs", self.push.ttl_secs),
            ("media.thumbnail_px", u64::from(self.media.thumbnail_px)),
            ("media.link_ttl_secs", self.media.link_ttl_secs),
            ("media.max_attachments", self.media.max_attachments as u64),
            ("media.max_image_pixels", self.media.max_image_pixels),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(ConfigError(format!("`{name}` must be greater than 0")));
            }
        }
        let p = &self.push;
        let c = &self.media.cloudinary;
        // Every provider URL the server calls out to.
        for (name, url) in [
            ("push.fcm.endpoint", Some(&p.fcm.endpoint)),
            ("push.fcm.token_url", p.fcm.token_url.as_ref()),
            ("push.apns.production_url", Some(&p.apns.production_url)),
            ("push.apns.sandbox_url", Some(&p.apns.sandbox_url)),
            ("media.cloudinary.api_url", Some(&c.api_url)),
            ("media.cloudinary.delivery_url", Some(&c.delivery_url)),
        ] {
            let Some(url) = url else { continue };
            let ok = url.starts_with("https://") || (p.allow_http_endpoints && url.starts_with("http://"));
            if !ok {
                return Err(ConfigError(format!(
                    "`{name}` must be an https:// URL (http:// only with push.allow_http_endpoints)"
                )));
            }
        }
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
        let set = [&c.cloud_name, &c.api_key, &c.api_secret].iter().filter(|v| v.is_some()).count();
        if set != 0 && set != 3 {
            return Err(ConfigError(
                "`media.cloudinary` needs all of cloud_name, api_key and api_secret (or none)".into(),
            ));
        }
        if !(p.vapid_subject.starts_with("mailto:") || p.vapid_subject.starts_with("https://")) {
            return Err(ConfigError("`push.vapid_subject` must be a mailto: or https: URL".into()));
        }
        Ok(())
    }

    /// The database to use, from `database_url` or the data directory.
    pub fn database(&self) -> Result<Database, ConfigError> {
        let Some(url) = self.database_url.as_deref() else {
            return Ok(Database::Sqlite(self.data_dir.join("confab.db")));
        };
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(ConfigError("`database_url` sqlite:// needs a file path".into()));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres(url.to_string()));
        }
        // Never echo the URL: it may carry a password.
        Err(ConfigError("`database_url` must start with sqlite:// or postgres://".into()))
    }

    pub fn sqlite_synchronous_full(&self) -> Result<bool, ConfigError> {
        match self.storage.sqlite_synchronous.as_str() {
            "full" => Ok(true),
            "normal" => Ok(false),
            _ => Err(ConfigError("`storage.sqlite_synchronous` must be \"full\" or \"normal\"".into())),
        }
    }
}

/// `trusted_proxies`: parsed once, at load time, into networks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is that IPv4 address.
pub fn canonical_ip(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    }
}

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = String;

    fn try_from(items: Vec<String>) -> Result<Self, String> {
        items
            .iter()
            .map(|item| {
                let item = item.trim();
                item.parse::<ipnet::IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!("`trusted_proxies`: {item:?} is not an address or a CIDR like 10.0.0.0/8")
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl From<TrustedProxies> for Vec<String> {
    fn from(t: TrustedProxies) -> Self {
        t.0.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_parse_cidrs_and_addresses() {
        let t = TrustedProxies::try_from(vec!["10.0.0.0/8".to_string(), "::1".into(), "192.168.1.7".into()])
            .expect("valid");
        for ip in ["10.1.2.3", "::1", "192.168.1.7", "::ffff:10.0.0.1"] {
            assert!(t.contains(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["11.0.0.1", "192.168.1.8", "::2"] {
            assert!(!t.contains(ip.parse().expect("ip")), "{ip}");
        }
        assert!(TrustedProxies::try_from(vec!["10.0.0.0/33".to_string()]).is_err());
        assert!(TrustedProxies::try_from(vec!["proxy.local".to_string()]).is_err());
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.database().ok(), Some(Database::Sqlite(PathBuf::from("./data/confab.db"))));
    }

    #[test]
    fn database_urls() {
        let with = |u: &str| Config { database_url: Some(u.into()), ..Config::default() };
        assert_eq!(with("sqlite:///tmp/x.db").database().ok(), Some(Database::Sqlite("/tmp/x.db".into())));
        let err = with("mysql://u:secret@h/db").database().err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("database_url") && !e.contains("secret")));
        assert_eq!(
            with("postgres://h/db").database().ok(),
            Some(Database::Postgres("postgres://h/db".into()))
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API
    fn layering_and_errors_name_the_setting() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "confab.toml",
                "listen = \"127.0.0.1:9000\"\n[limits]\nmessage_max_chars = 10\n",
            )?;
            jail.set_env("CONFAB_LIMITS__EVENTS_BURST", "7");
            let c = Config::load(
                None,
                Overrides {
                    listen: Some("127.0.0.1:9100".parse().map_err(|_| "addr")?),
                    ..Default::default()
                },
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 9100, "flag beats file");
            assert_eq!(c.limits.message_max_chars, 10, "file beats default");
            assert_eq!(c.limits.events_burst, 7, "env applies");

            jail.set_env("CONFAB_TRUSTED_PROXIES", "[\"10.0.0.0/8\", \"::1\"]");
            let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
            assert!(c.trusted_proxies.contains("10.9.8.7".parse().map_err(|_| "ip")?));
            jail.set_env("CONFAB_TRUSTED_PROXIES", "[\"proxy.local\"]");
            let err =
                Config::load(None, Overrides::default()).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("trusted_proxies"), "{err}");
            jail.set_env("CONFAB_TRUSTED_PROXIES", "[]");

            jail.set_env("CONFAB_BIN", "/not/a/setting");
            assert!(
                Config::load(None, Overrides::default()).is_ok(),
                "unrelated CONFAB_* variables are ignored"
            );

            jail.set_env("CONFAB_LIMITS__EVENTS_BURST", "many");
            let err =
                Config::load(None, Overrides::default()).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.to_lowercase().contains("limits.events_burst"), "{err}");

            jail.set_env("CONFAB_LIMITS__EVENTS_BURST", "0");
            let err =
                Config::load(None, Overrides::default()).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("limits.events_burst"), "{err}");

            jail.create_file("confab.toml", "lisen = \"x\"\n")?;
            let err =
                Config::load(None, Overrides::default()).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("lisen"), "{err}");
            Ok(())
        });
    }
}
