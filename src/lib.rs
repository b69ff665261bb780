//! Confab: a self-hosted real-time chat server that speaks Socket.IO v4.
//!
//! A message flows one way through the layers below: a transport decodes it,
//! a service decides what it means, storage makes it durable, and the
//! fan-out hands it to whoever is online.
//!
//! # Layers
//! Each module imports only from the layers below it (and its own); nothing
//! imports upwards, so there are no import cycles. `docs/ARCHITECTURE.md`
//! draws the same picture.
//!
//! 1. Composition: [`app`] builds everything and runs the server; [`admin`]
//!    is the `confab admin` commands. Nothing imports them (but `admin`, for
//!    opening the store as the server does).
//! 2. Transports and adapters: [`http`] (REST) and [`realtime`] (Socket.IO)
//!    decode, authenticate and call a service; [`cluster`] implements the
//!    presence and revocation ports on Redis. They do not import each other.
//! 3. [`state`]: [`state::AppState`], the services the transports share.
//! 4. [`wire`]: the JSON of `docs/API.md`, in (requests → commands) and out
//!    (views, replies, events).
//! 5. Services: [`chat`], [`users`], [`notify`], then [`presence`] and
//!    [`media`], which `chat` and `notify` use.
//! 6. Ports: [`store`] (storage on SQLite or PostgreSQL) and [`fanout`]
//!    (live connections, implemented by `realtime`).
//! 7. Vocabulary: [`domain`] (the model, validated values, the error) and
//!    [`config`] (the settings). They import nothing of the crate, not
//!    even each other.

#![warn(missing_docs)]

pub mod accounts;
pub mod admin;
pub mod app;
pub mod chat;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod fanout;
pub mod http;
pub mod media;
pub mod notify;
pub mod presence;
pub mod realtime;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod users;
pub mod wire;

/// Makes ring the process's TLS crypto provider (the HTTP clients of the
/// push providers are built without one, so that exactly one is compiled
/// in). Safe to call many times; [`app::App::build`] calls it.
pub fn install_tls_provider() {
    // An error only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
