//! The REST API under `/api`, plus `/healthz`, `/readyz` and the bundled web client at `/`.
//!
//! One module per resource. Handlers decode the request, authenticate it
//! (`extract::Auth`) and call a domain service; they hold no rules of
//! their own, so REST and Socket.IO cannot drift apart.
//!
//! Owns: the router, CORS and the headers every response carries. May not
//! touch: services' rules or storage.

mod account;
mod api_error;
mod auth;
mod client_addr;
mod conversations;
mod extract;
mod group_routes;
mod media;
mod messages;
mod messaging;
mod ops;
mod push;
mod users;
mod web;

pub use api_error::ApiError;
pub use client_addr::client_ip;
pub use ops::serve_metrics;

use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The REST API, the health check and the web client, over `state`.
pub fn router(state: AppState) -> Router {
    let body_max = state.config.limits.http_body_max;
    let api = Router::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(messages::routes())
        .merge(messaging::routes())
        .merge(conversations::routes())
        .merge(group_routes::routes())
        .merge(push::routes())
        .merge(media::routes())
        .fallback(|| async { ApiError(crate::domain::Error::NotFound("route")) });
    Router::new()
        .nest("/api", api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ops::readyz))
        .merge(web::routes())
        .layer(DefaultBodyLimit::max(body_max))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::map_response_with_state(state.clone(), ops::count_internal))
        .with_state(state)
}

/// The span of one HTTP request: an id (the client's `X-Request-Id` if it
/// sent a plain one, else a random one), the method and the path — never the
/// query, which may carry a token (`?token=` on Socket.IO polling) or a
/// media link's signature. `user` is filled in once the request is
/// authenticated.
pub fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let given = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).filter(|v| {
        !v.is_empty()
            && v.len() <= 64
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let id = match given {
        Some(id) => id.to_string(),
        None => format!("{:016x}", rand::random::<u64>()),
    };
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        user = tracing::field::Empty,
    )
}

/// Headers every response carries (the web client's pages add a CSP).
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("no-referrer"));
    res
}

/// CORS only for the configured origins; none by default. Applied around
/// the Socket.IO layer too (its polling transport is plain HTTP).
pub fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> =
        origins.iter().filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::RANGE])
        .max_age(std::time::Duration::from_secs(600))
}
