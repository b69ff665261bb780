//! The REST API under `/api`, plus `/healthz` and the bundled web client at `/`.
//!
//! One module per resource. Handlers decode the request, authenticate it
//! ([`extract::Auth`]) and call a domain service; they hold no rules of
//! their own, so REST and Socket.IO cannot drift apart.

mod auth;
mod conversations;
mod error;
mod extract;
mod groups;
mod media;
mod messages;
mod push;
mod users;
mod web;

pub use error::ApiError;

use crate::app::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

pub fn router(state: AppState) -> Router {
    let body_max = state.config.limits.http_body_max;
    let api = Router::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(messages::routes())
        .merge(conversations::routes())
        .merge(groups::routes())
        .merge(push::routes())
        .merge(media::routes())
        .fallback(|| async { ApiError(crate::domain::Error::NotFound("route")) });
    Router::new()
        .nest("/api", api)
        .route("/healthz", get(|| async { "ok" }))
        .merge(web::routes())
        .layer(DefaultBodyLimit::max(body_max))
        .with_state(state)
}
