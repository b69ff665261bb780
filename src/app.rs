//! Wiring: builds every service from the configuration, binds the listener,
//! and runs the server until a shutdown signal.
//!
//! [`App::build`] returns the app with its bound address before it serves,
//! so tests can bind port 0 and learn the port.

use crate::chat::{Chat, GroupSettings};
use crate::config::{Config, ConfigError, Database};
use crate::notify::LogNotifier;
use crate::presence::{LocalPresence, PresenceService};
use crate::realtime::{self, SocketFanout};
use crate::store::{Store, StoreError, sqlite::SqliteStore};
use crate::users::Users;
use socketioxide::SocketIo;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Everything a request or event handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub users: Arc<Users>,
    pub chat: Chat,
    pub presence: Arc<PresenceService>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// A built, bound, not yet serving server.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    io: SocketIo,
    store: Arc<dyn Store>,
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartError> {
        let store: Arc<dyn Store> = match config.database()? {
            Database::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|source| StartError::DataDir { path: dir.display().to_string(), source })?;
                }
                Arc::new(SqliteStore::open(&path, config.sqlite_synchronous_full()?).await?)
            }
        };
        let fanout = Arc::new(SocketFanout::default());
        let presence =
            Arc::new(PresenceService::new(Arc::new(LocalPresence::default()), store.clone(), fanout.clone()));
        let token_ttl = Duration::from_secs(config.auth.token_ttl_hours.saturating_mul(3600));
        let users = Arc::new(Users::new(store.clone(), fanout.clone(), token_ttl));
        let chat = Chat::new(
            store.clone(),
            presence.clone(),
            fanout.clone(),
            Arc::new(LogNotifier),
            GroupSettings { max_members: config.limits.group_max_members },
        );
        let addr = config.listen;
        let state = AppState { config: Arc::new(config), users, chat, presence };

        let (sio_layer, io) = realtime::build(state.clone());
        fanout.attach(io.clone());
        let router =
            crate::http::router(state).layer(sio_layer).layer(tower_http::trace::TraceLayer::new_for_http());

        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
        Ok(App { listener, router, io, store })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting, closes every
    /// socket, lets in-flight requests finish and closes the database (which
    /// waits for in-flight writes).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let io = self.io.clone();
        let result = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: closing sockets");
                io.close().await;
            })
            .await;
        self.store.close().await;
        tracing::info!("stopped");
        result
    }
}
