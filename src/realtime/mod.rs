//! The Socket.IO gateway (served by socketioxide at `/socket.io/`).
//!
//! A connection is authenticated once, in the handshake (`auth.token`), and
//! every event after that re-checks its token against the live-token cache.
//! Each socket joins three rooms: its user's (`u:ID`, every device of that
//! user), its token's (`t:ID`, closed on logout) and its own (`s:SID`, so an
//! event can skip the connection it came from). Handlers live in
//! `handlers`; they decode, call a domain service and reply.
//!
//! Owns: the Socket.IO layer, the handshake and the rooms. May not touch:
//! what events mean (`handlers` call services) or storage.

mod addresses;
mod conn;
mod drain;
mod expiry;
mod handlers;
mod memory;
mod messaging_handlers;
mod request_head;
mod socket_fanout;

pub use request_head::own_request_head;
pub use socket_fanout::SocketFanout;

use crate::domain::{ConnectionId, TokenId, UserId};
use crate::state::AppState;
use conn::Conn;
pub use drain::Drain;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide_core::adapter::DefinedAdapter;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn user_room(u: UserId) -> String {
    format!("u:{u}")
}

pub(crate) fn token_room(t: TokenId) -> String {
    format!("t:{t}")
}

pub(crate) fn socket_room(c: &ConnectionId) -> String {
    format!("s:{}", c.0)
}

/// Builds the Socket.IO layer for the router and registers the namespace.
/// `A` is the adapter: socketioxide's in-process one for a single node, the
/// Redis adapter in cluster mode (`adapter` is its state). The third value
/// is the adapter's start-up (for Redis: subscribing), for the caller to run.
pub fn build<A: Adapter + DefinedAdapter>(
    state: AppState,
    adapter: A::State,
    drain: Arc<Drain>,
) -> (SocketIoLayer<A>, SocketIo<A>, A::InitRes) {
    let limits = &state.config.limits;
    // The same packet limit on both transports (socketioxide's max_payload
    // only covers polling), and room for a burst's worth of replies per socket.
    let max_packet = usize::try_from(limits.socket_max_payload).unwrap_or(usize::MAX);
    let (layer, io) = SocketIo::builder()
        .max_payload(limits.socket_max_payload)
        .ws_max_message_size(max_packet)
        .ws_max_frame_size(max_packet)
        .max_buffer_size(limits.socket_buffer)
        // Each open socket keeps its read buffer for life: a small one is
        // most of what an idle connection saves (engineioxide's default is 4 KiB).
        .ws_read_buffer_size(limits.socket_read_buffer)
        .ping_interval(Duration::from_millis(limits.heartbeat_interval_ms))
        .ping_timeout(Duration::from_millis(limits.heartbeat_timeout_ms))
        .with_state(addresses::AddressLimit::new(limits.connections_per_address))
        .with_state(Arc::new(conn::UserRates::new(limits)))
        .with_state(drain)
        .with_state(Handshakes::new(limits.handshakes_at_once))
        .with_state(memory::Giveback::start())
        .with_state(state)
        .with_adapter::<A>(adapter)
        .build_layer();
    let init = io.ns("/", on_connect::<A>.with(authenticate::<A>));
    (layer, io, init)
}

/// Admission control: the handshakes this node works on at once
/// (`limits.handshakes_at_once`). Past that a handshake is refused at once
/// rather than queued: under a reconnect storm, queued handshakes would
/// time out on the client anyway while holding memory and delaying
/// presence updates for everyone.
#[derive(Clone)]
struct Handshakes(Arc<tokio::sync::Semaphore>);

impl Handshakes {
    fn new(at_once: usize) -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(at_once.min(tokio::sync::Semaphore::MAX_PERMITS))))
    }
}

/// The retry hint of a busy refusal, in milliseconds: spread out so that
/// the refused clients of one storm do not all come back together.
const BUSY_RETRY_MS: std::ops::RangeInclusive<u64> = 250..=1000;

/// The refusal sent as `connect_error`; its message starts with an error
/// code (`unauthorized`, `rate_limited` past a connection limit, or
/// `unavailable`) so clients can tell it apart from network failures.
#[derive(Debug)]
enum Refused {
    Unauthorized(&'static str),
    TooManyConnections,
    TooManyFromAddress,
    ShuttingDown,
    /// `limits.handshakes_at_once` handshakes are in progress.
    Busy {
        retry_after_ms: u64,
    },
}

impl Refused {
    /// The refusal's label in `confab_handshakes_total`.
    fn label(&self) -> crate::telemetry::Refusal {
        use crate::telemetry::Refusal as R;
        match self {
            Refused::Unauthorized(_) => R::Unauthorized,
            Refused::TooManyConnections => R::ConnectionsPerUser,
            Refused::TooManyFromAddress => R::ConnectionsPerAddress,
            Refused::ShuttingDown => R::ShuttingDown,
            Refused::Busy { .. } => R::HandshakesAtOnce,
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Unauthorized(why) => write!(f, "unauthorized: {why}"),
            Refused::TooManyConnections => f.write_str(
                "rate_limited: too many open connections for this user (limits.connections_per_user)",
            ),
            Refused::TooManyFromAddress => f.write_str(
                "rate_limited: too many open connections from this address (limits.connections_per_address)",
            ),
            Refused::ShuttingDown => f.write_str("unavailable: the server is shutting down"),
            Refused::Busy { retry_after_ms } => write!(
                f,
                "unavailable: too many connections being set up (limits.handshakes_at_once); retryAfterMs={retry_after_ms}"
            ),
        }
    }
}

/// Handshake middleware: finds the token (`auth.token`, else an
/// `Authorization: Bearer` header, else a `token` query parameter), attaches
/// the session, and sets the socket up completely — event handlers, rooms,
/// presence — *before* the client is told it is connected, so an event sent
/// (or a message for this user) right after the handshake is never missed,
/// and a second device is counted before the first one can leave.
async fn authenticate<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    State(addresses): State<addresses::AddressLimit>,
    State(user_rates): State<Arc<conn::UserRates>>,
    State(drain): State<Arc<Drain>>,
    State(handshakes): State<Handshakes>,
    TryData(auth): TryData<Value>,
) -> Result<(), Refused> {
    let metrics = app.metrics.clone();
    // Held for the whole handshake, given back on any outcome.
    let result = match handshakes.0.try_acquire() {
        Ok(_permit) => admit(s, app, addresses, user_rates, drain, auth).await,
        Err(_) => Err(Refused::Busy { retry_after_ms: rand::random_range(BUSY_RETRY_MS) }),
    };
    match &result {
        Ok(user) => metrics.socket_opened(user.0),
        Err(refused) => {
            metrics.handshake_refused(refused.label());
            match refused {
                Refused::TooManyConnections => {
                    metrics.rate_limited(crate::telemetry::Limit::ConnectionsPerUser)
                }
                Refused::TooManyFromAddress => {
                    metrics.rate_limited(crate::telemetry::Limit::ConnectionsPerAddress)
                }
                _ => {}
            }
        }
    }
    result.map(|_| ())
}

/// [`authenticate`]'s work; the user on success.
async fn admit<A: Adapter>(
    s: SocketRef<A>,
    app: AppState,
    addresses: addresses::AddressLimit,
    user_rates: Arc<conn::UserRates>,
    drain: Arc<Drain>,
    auth: Result<Value, socketioxide::ParserError>,
) -> Result<UserId, Refused> {
    if drain.is_closing() {
        return Err(Refused::ShuttingDown);
    }
    // Taken first and given back when dropped: on any refusal below, or
    // with the socket once it is gone.
    let parts = s.req_parts();
    let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
    let slot = match peer {
        Some(peer) => {
            let client = crate::http::client_ip(peer.0.ip(), &parts.headers, &app.config.trusted_proxies);
            Some(addresses.take(client).ok_or(Refused::TooManyFromAddress)?)
        }
        None => None,
    };
    let token = auth
        .ok()
        .and_then(|a| a.get("token").and_then(Value::as_str).map(str::to_owned))
        .or_else(|| bearer(s.req_parts()))
        .ok_or(Refused::Unauthorized("missing token"))?;
    let session = app.users.authenticate(&token).await.map_err(|e| match e {
        crate::domain::Error::Unauthorized(why) => Refused::Unauthorized(why),
        _ => Refused::Unauthorized("cannot check the token right now"),
    })?;
    if app.presence.devices(session.user_id).await >= app.config.limits.connections_per_user {
        return Err(Refused::TooManyConnections);
    }
    let session_user = session.user_id;
    let id = ConnectionId(s.id.to_string());
    s.join([user_room(session.user_id), token_room(session.token_id), socket_room(&id)]);
    handlers::register(&s);
    messaging_handlers::register(&s);
    let first_device = app.presence.register(session.user_id, &id).await;
    s.extensions.insert(Arc::new(Conn::new(
        session,
        id,
        first_device,
        &app.config.limits,
        user_rates,
        drain,
    )));
    if let Some(slot) = slot {
        s.extensions.insert(Arc::new(slot));
    }
    Ok(session_user)
}

fn bearer(parts: &http::request::Parts) -> Option<String> {
    if let Some(h) = parts.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(t) = h.strip_prefix("Bearer ") {
            return Some(t.trim().to_owned());
        }
    }
    parts.uri.query()?.split('&').find_map(|kv| kv.strip_prefix("token=").map(str::to_owned))
}

/// Runs once the client knows it is connected: tells contacts it came online.
async fn on_connect<A: Adapter>(s: SocketRef<A>, State(app): State<AppState>) {
    let Some(conn) = s.extensions.get::<Arc<Conn>>() else {
        // The middleware always attaches a session; without one, refuse service.
        let _ = s.disconnect();
        return;
    };
    tracing::debug!(user = %conn.session.user_id, sid = %s.id, "socket connected");
    expiry::watch(s.clone(), app.users.clone(), conn.clone());
    if conn.first_device {
        if let Err(e) = app.presence.announce(conn.session.user_id, true).await {
            tracing::warn!(error = %e, "presence announcement failed on connect");
        }
    }
}
