//! Confab: a self-hosted real-time chat server that speaks Socket.IO v4.
//!
//! A message flows one way through the layers below: a transport decodes it,
//! a domain service decides what it means, storage makes it durable, and the
//! fan-out hands it to whoever is online.
//!
//! # Layout
//! - [`config`]: one typed configuration (defaults → `confab.toml` → `CONFAB_*` → flags).
//! - [`app`]: [`app::AppState`] and start-up/shutdown of the whole server.
//! - [`http`] and [`realtime`]: the two transports (REST and Socket.IO). They only
//!   decode input, authenticate and call a service.
//! - [`users`], [`chat`], [`presence`]: the domain services.
//! - [`store`]: the storage trait and its SQLite implementation.
//! - [`domain`]: validated newtypes (ids, usernames, message text) and the domain error.

pub mod app;
pub mod chat;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod fanout;
pub mod http;
pub mod notify;
pub mod presence;
pub mod realtime;
pub mod store;
pub mod users;
pub mod wire;
