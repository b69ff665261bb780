//! Confab: a self-hosted real-time chat server that speaks Socket.IO v4.
//!
//! A message flows one way through the layers below: a transport decodes it,
//! a domain service decides what it means, storage makes it durable, and the
//! fan-out hands it to whoever is online.
//!
//! # Layout
//! - [`config`]: one typed configuration (defaults → `confab.toml` → `CONFAB_*` → flags).
//! - [`app`]: [`app::AppState`] and start-up/shutdown of the whole server.
//! - [`admin`]: the `confab admin` commands (disable or enable an account).
//! - [`http`] and [`realtime`]: the two transports (REST and Socket.IO). They only
//!   decode input, authenticate and call a service.
//! - [`users`], [`chat`], [`presence`]: the domain services.
//! - [`media`]: uploads (local disk or Cloudinary) and attachments.
//! - [`notify`]: push notifications (Web Push, FCM, APNs) from an outbox.
//! - [`store`]: the storage traits with SQLite and PostgreSQL implementations.
//! - [`cluster`]: Redis-backed presence, revocations and the Socket.IO adapter driver.
//! - [`domain`]: validated newtypes (ids, usernames, message text) and the domain error.

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
pub mod users;
pub mod wire;

/// Makes ring the process's TLS crypto provider (the HTTP clients of the
/// push providers are built without one, so that exactly one is compiled
/// in). Safe to call many times; [`app::App::build`] calls it.
pub fn install_tls_provider() {
    // An error only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
