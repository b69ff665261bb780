//! The REST API under `/api`, plus `/healthz` and the landing page.
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

pub use error::ApiError;

use crate::app::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Html;
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
        .route("/", get(|| async { Html(INDEX) }))
        .layer(DefaultBodyLimit::max(body_max))
        .with_state(state)
}

const INDEX: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Confab</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Confab is running</h1>
<p>This is a Confab chat server. Clients connect with <code>socket.io-client</code> 4.x at
<code>/socket.io/</code> and use the REST API under <code>/api</code>.</p>
<p>The API is documented in <code>docs/API.md</code> in the Confab repository.
<code>GET /healthz</code> reports health.</p>
</body></html>"#;
