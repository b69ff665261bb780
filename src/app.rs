//! Wiring: builds every service from the configuration, binds the listener,
//! and runs the server until a shutdown signal.
//!
//! [`App::build`] returns the app with its bound address before it serves,
//! so tests can bind port 0 and learn the port.
//!
//! Owns: building the services, the mode (single node or cluster), the
//! listener and the shutdown order. May not touch: requests — once built,
//! `http` and `realtime` serve them through `state::AppState`.

use crate::chat::{Chat, GroupSettings};
use crate::cluster::{
    self, driver::ReconnectingDriver, presence::RedisPresence, revocations::RedisRevocations,
};
use crate::config::{Config, ConfigError, Database};
use crate::fanout::Fanout;
use crate::media::Media;
use crate::notify::{Push, SetupError};
use crate::presence::PresenceStore;
use crate::presence::{LocalPresence, PresenceService};
use crate::realtime::{self, SocketFanout};
use crate::state::AppState;
use crate::store::postgres::PostgresStore;
use crate::store::{Store, StoreError, sqlite::SqliteStore};
use crate::telemetry::{Dependency, Metrics, Probe, Readiness};
use crate::users::{Hasher, NoOtherNodes, Revocations, Users};
use axum::serve::ListenerExt;
use futures_util::future::BoxFuture;
use socketioxide::adapter::{Adapter, Emitter, LocalAdapter};
use socketioxide_core::adapter::DefinedAdapter;
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How often each node looks for accounts disabled by `confab admin`
/// (another process), to drop their sessions and sockets.
pub const DISABLED_POLL: Duration = Duration::from_secs(1);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    /// The configuration is unusable.
    Config(#[from] ConfigError),
    #[error("cannot create data directory {path}: {source}")]
    /// The data directory (or the database file's) cannot be created.
    DataDir {
        /// Which directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    /// The database could not be opened or migrated.
    Store(#[from] StoreError),
    #[error("cannot connect to Redis (redis_url): {0}")]
    /// Redis could not be reached.
    Redis(redis::RedisError),
    #[error("cannot start the Socket.IO Redis adapter: {0}")]
    /// The Socket.IO Redis adapter could not subscribe.
    Adapter(String),
    #[error("cannot set up media storage: {0}")]
    /// The media directory or secret could not be set up.
    Media(crate::domain::Error),
    #[error("cannot set up push notifications: {0}")]
    /// A push provider's key or file is unusable.
    Push(#[from] SetupError),
    #[error("cannot listen on {addr}: {source}")]
    /// The listen address cannot be bound.
    Listen {
        /// The address (`listen`).
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A built, bound, not yet serving server.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    /// Closes every Socket.IO connection (run at shutdown).
    close_sockets: BoxFuture<'static, ()>,
    /// Cluster mode: the presence heartbeat/sweep task.
    maintenance: Option<tokio::task::JoinHandle<()>>,
    /// The push outbox worker, and the switch that stops it.
    push_worker: Option<tokio::task::JoinHandle<()>>,
    stop_push: tokio::sync::watch::Sender<bool>,
    /// Deletes uploads that were never sent.
    sweeper: tokio::task::JoinHandle<()>,
    store: Arc<dyn Store>,
    /// `limits.write_timeout_ms`, set on every accepted connection.
    write_timeout: Duration,
    /// The `metrics_listen` listener and what it serves.
    metrics_listener: Option<TcpListener>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
}

/// The Socket.IO adapter in cluster mode: socketioxide's Redis adapter on
/// our reconnecting driver.
type ClusterAdapter = CustomRedisAdapter<Emitter, ReconnectingDriver>;

/// The pieces that differ between a single node and a cluster node.
struct Mode {
    presence: Arc<dyn PresenceStore>,
    revocations: Arc<dyn Revocations>,
}

/// What `/metrics` and `/readyz` report, shared by every service.
#[derive(Clone)]
struct Ops {
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
}

/// The database answers.
struct StoreProbe(Arc<dyn Store>);

#[async_trait::async_trait]
impl Probe for StoreProbe {
    fn dependency(&self) -> Dependency {
        Dependency::Database
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}

impl App {
    /// Builds every service from `config`, opens the database and binds the listener; nothing is served until
    /// [`App::run`].
    pub async fn build(config: Config) -> Result<App, StartError> {
        crate::install_tls_provider();
        let store = open_store(&config).await?;
        let config_metrics = config.metrics_addr()?;
        // No listener, nobody to read them: count nothing.
        let metrics = Arc::new(if config_metrics.is_some() { Metrics::new() } else { Metrics::disabled() });
        store.watch_commits(metrics.clone());
        let mut probes: Vec<Arc<dyn Probe>> = vec![Arc::new(StoreProbe(store.clone()))];
        let media =
            Media::new(&config.media, config.media_dir(), store.clone()).await.map_err(StartError::Media)?;
        let media = Arc::new(media);
        let sweeper = media.spawn_sweeper(Duration::from_secs(600));
        let (stop_push, push_stopped) = tokio::sync::watch::channel(false);
        let addr = config.listen;
        let write_timeout = Duration::from_millis(config.limits.write_timeout_ms);
        let (router, close_sockets, maintenance, push, readiness) = match config.redis_url.clone() {
            None => {
                let mode = Mode {
                    presence: Arc::new(LocalPresence::default()),
                    revocations: Arc::new(NoOtherNodes),
                };
                let fanout = Arc::new(SocketFanout::<LocalAdapter>::default());
                let ops = ops(&metrics, probes);
                let state = services(config, store.clone(), fanout.clone(), mode, media.clone(), ops)?;
                let push = state.push.clone();
                let (router, close, ()) = serve_sockets::<LocalAdapter>(state.clone(), (), &fanout);
                (router, close, None, push, state.readiness)
            }
            Some(url) => {
                let prefix = config.cluster.redis_prefix.clone();
                let conn = cluster::connect(&url, None).await.map_err(StartError::Redis)?;
                let backend = Arc::new(RedisPresence::new(
                    conn.clone(),
                    &prefix,
                    cluster::node_id(),
                    Duration::from_secs(config.cluster.node_ttl_secs),
                ));
                probes.push(Arc::new(cluster::RedisProbe(conn.clone())));
                let revocations = Arc::new(RedisRevocations::new(conn, &prefix));
                let mode = Mode { presence: backend.clone(), revocations: revocations.clone() };
                let fanout = Arc::new(SocketFanout::<ClusterAdapter>::default());
                let ops = ops(&metrics, probes);
                let state = services(config, store.clone(), fanout.clone(), mode, media.clone(), ops)?;
                let readiness = state.readiness.clone();
                let push = state.push.clone();
                revocations.listen(&url, Arc::downgrade(&state.users)).await.map_err(StartError::Redis)?;
                let driver = ReconnectingDriver::connect(&url).await.map_err(StartError::Redis)?;
                let adapter = RedisAdapterCtr::new_with_driver(
                    driver,
                    RedisAdapterConfig::new().with_prefix(format!("{prefix}-sio")),
                );
                // Count this node as alive before it accepts anyone.
                state.presence.maintain().await;
                let maintenance = state.presence.clone().spawn_maintenance(backend.heartbeat_every());
                let (router, close, init) = serve_sockets::<ClusterAdapter>(state, adapter, &fanout);
                init.await.map_err(|e| StartError::Adapter(e.to_string()))?;
                (router, close, Some(maintenance), push, readiness)
            }
        };
        // Ready (or not) from the first request on.
        readiness.probe_all(&metrics).await;
        let metrics_listener = bind_metrics(&config_metrics).await;
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
        let push_worker = push.spawn_worker(push_stopped);
        Ok(App {
            listener,
            router,
            close_sockets,
            maintenance,
            push_worker,
            stop_push,
            sweeper,
            store,
            write_timeout,
            metrics_listener,
            metrics,
            readiness,
        })
    }

    /// The address of the `/metrics` listener, if it is bound.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address the server is bound to (the port, when it was 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting, closes every
    /// socket, lets in-flight requests finish and closes the database (which
    /// waits for in-flight writes).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let close_sockets = self.close_sockets;
        // The peer address is used to throttle failed logins per address.
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let write_timeout = self.write_timeout;
        let listener = self.listener.tap_io(move |tcp| limit_unread(tcp, write_timeout));
        let probing = self.readiness.spawn(self.metrics.clone());
        let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(false);
        let metrics_server = self.metrics_listener.map(|l| {
            tokio::spawn(crate::http::serve_metrics(
                l,
                self.metrics.clone(),
                self.store.clone(),
                metrics_stopped,
            ))
        });
        let readiness = self.readiness.clone();
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // The load balancer sees 503 on /readyz while sockets drain.
                readiness.start_draining();
                tracing::info!("shutting down: closing sockets");
                close_sockets.await;
            })
            .await;
        probing.abort();
        let _ = stop_metrics.send(true);
        if let Some(server) = metrics_server {
            // A scraper's request in flight gets its answer; no longer wait.
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
        if let Some(task) = self.maintenance {
            task.abort();
        }
        self.sweeper.abort();
        // Pushes in flight finish (bounded by their request timeout); the
        // rest stay in the outbox for the next start or another node.
        let _ = self.stop_push.send(true);
        if let Some(worker) = self.push_worker {
            let _ = tokio::time::timeout(Duration::from_secs(20), worker).await;
        }
        self.store.close().await;
        tracing::info!("stopped");
        result
    }
}

/// A client that stops reading fills the kernel's buffers, and then the
/// socket's writer waits forever: no heartbeat or close can get through.
/// With TCP_USER_TIMEOUT the kernel drops a connection whose data stays
/// unacknowledged this long, so its socket is closed like any other.
fn limit_unread(tcp: &mut tokio::net::TcpStream, timeout: Duration) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = socket2::SockRef::from(&*tcp).set_tcp_user_timeout(Some(timeout)) {
        tracing::debug!(error = %e, "cannot set TCP_USER_TIMEOUT");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = (tcp, timeout);
}

/// The metrics listener; a taken address is logged and metrics are off
/// (several nodes on one host would otherwise fail to start on the default).
async fn bind_metrics(addr: &Option<SocketAddr>) -> Option<TcpListener> {
    let addr = (*addr)?;
    match TcpListener::bind(addr).await {
        Ok(l) => {
            let bound = l.local_addr().unwrap_or(addr);
            tracing::info!(addr = %bound, "metrics on http://{bound}/metrics");
            Some(l)
        }
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen on metrics_listen; running without /metrics");
            None
        }
    }
}

fn ops(metrics: &Arc<Metrics>, probes: Vec<Arc<dyn Probe>>) -> Ops {
    Ops { metrics: metrics.clone(), readiness: Arc::new(Readiness::new(probes)) }
}

/// Opens (and migrates) the configured database; also used by `confab admin`.
pub(crate) async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    Ok(match config.database()? {
        Database::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|source| StartError::DataDir { path: dir.display().to_string(), source })?;
            }
            Arc::new(SqliteStore::open(&path, config.storage.sqlite_synchronous).await?)
        }
        Database::Postgres(url) => {
            Arc::new(PostgresStore::open(&url, config.cluster.postgres_max_connections).await?)
        }
    })
}

/// Builds the domain services around a store, a fan-out and a mode.
fn services(
    config: Config,
    store: Arc<dyn Store>,
    fanout: Arc<dyn Fanout>,
    mode: Mode,
    media: Arc<Media>,
    ops: Ops,
) -> Result<AppState, StartError> {
    let presence = Arc::new(PresenceService::new(mode.presence, store.clone(), fanout.clone()));
    let token_ttl = Duration::from_secs(config.auth.token_ttl_hours.saturating_mul(3600));
    let hasher = Hasher::new(config.auth.password_hashes_at_once);
    // Only other nodes can revoke a token behind this node's back.
    let recheck = config.redis_url.as_ref().map(|_| Duration::from_secs(config.auth.token_recheck_secs));
    let users = Arc::new(
        Users::new(store.clone(), fanout.clone(), mode.revocations, hasher, token_ttl).with_recheck(recheck),
    );
    // Ends when the users service is dropped or the store closes.
    Users::watch_disabled(Arc::downgrade(&users), DISABLED_POLL);
    let groups = GroupSettings { max_members: config.limits.group_max_members };
    let push = Push::new(&config.push, &config.vapid_key_file(), store.clone(), presence.clone())?;
    let push = Arc::new(push.with_metrics(ops.metrics.clone()));
    let chat = Chat::new(store.clone(), presence.clone(), fanout, media.clone(), groups, push.delay())
        .with_metrics(ops.metrics.clone());
    // A lone node sees every block change; cluster nodes read them each time.
    let chat = if config.redis_url.is_none() { chat.with_block_cache() } else { chat };
    let Ops { metrics, readiness } = ops;
    let accounts = Arc::new(
        crate::accounts::Accounts::new(store, media.clone(), Some(users.clone())).with_chat(chat.clone()),
    );
    Ok(AppState {
        config: Arc::new(config),
        users,
        chat,
        presence,
        push,
        media,
        metrics,
        readiness,
        accounts,
    })
}

/// Longest wait at shutdown for socket events being handled to answer.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);

/// The HTTP router with the Socket.IO layer for adapter `A`, and the future
/// that closes every socket at shutdown (once the events in flight answered).
fn serve_sockets<A: Adapter + DefinedAdapter>(
    state: AppState,
    adapter: A::State,
    fanout: &SocketFanout<A>,
) -> (axum::Router, BoxFuture<'static, ()>, A::InitRes) {
    let drain = Arc::new(realtime::Drain::default());
    let (layer, io, init) = realtime::build::<A>(state.clone(), adapter, drain.clone());
    fanout.attach(io.clone());
    let cors = crate::http::cors(&state.config.cors_origins);
    let router = crate::http::router(state)
        .layer(layer)
        // Outside the Socket.IO layer, so that it sees the copied head.
        .layer(axum::middleware::map_request(realtime::own_request_head))
        .layer(cors)
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(crate::http::request_span));
    let close = async move {
        drain.close(SHUTDOWN_DRAIN).await;
        io.close().await
    };
    (router, Box::pin(close), init)
}
