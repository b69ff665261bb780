//! The state every request and event handler gets: the services, shared.
//!
//! Owns: [`AppState`], one cloneable bundle of `Arc`s given to axum's router
//! and to socketioxide. `app` builds it; the transports (`http`, `realtime`)
//! import it — never `app` itself, so they depend on the services and not on
//! how the server is wired. May not touch: anything but holding the services.

use crate::accounts::Accounts;
use crate::chat::Chat;
use crate::config::Config;
use crate::media::Media;
use crate::notify::Push;
use crate::presence::PresenceService;
use crate::telemetry::{Metrics, Readiness};
use crate::users::Users;
use std::sync::Arc;

/// Everything a request or event handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The configuration the server started with (handlers read `limits`).
    pub config: Arc<Config>,
    /// Accounts, logins and tokens.
    pub users: Arc<Users>,
    /// Conversations, messages, receipts and groups.
    pub chat: Chat,
    /// Who is online.
    pub presence: Arc<PresenceService>,
    /// Push devices and mutes.
    pub push: Arc<Push>,
    /// Uploads and attachments.
    pub media: Arc<Media>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Whether the node takes new sockets (`/readyz`).
    pub readiness: Arc<Readiness>,
    /// Account deletion and export.
    pub accounts: Arc<Accounts>,
}
