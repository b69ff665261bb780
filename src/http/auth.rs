//! `/api/auth`: register, login, logout.
//!
//! Owns: these routes. May not touch: credentials or tokens — `users` checks
//! and issues them.

use super::ApiError;
use super::extract::{Auth, JsonBody};
use crate::domain::User;
use crate::state::AppState;
use crate::wire::UserView;
use crate::wire::input::{self, LoginRequest, RegisterRequest, Registration};
use crate::wire::replies::{SessionReply, SessionsEnded};
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router, extract::State};
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-all", post(logout_all))
}

fn authenticated(user: &User, token: String) -> Json<SessionReply> {
    Json(SessionReply { user: UserView::new(user), token })
}

async fn register(
    State(app): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<SessionReply>), ApiError> {
    let r = Registration::try_from(input::parse::<RegisterRequest>(&body)?)?;
    let (user, token) = app.users.register(r.username, r.password, r.display_name).await?;
    Ok((StatusCode::CREATED, authenticated(&user, token)))
}

async fn login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Json<SessionReply>, ApiError> {
    let login: LoginRequest = input::parse(&body)?;
    let from = super::client_ip(peer.ip(), &headers, &app.config.trusted_proxies);
    let (user, token) =
        app.users.login(&login.username, &login.password, Some(from)).await.inspect_err(|e| {
            if matches!(e, crate::domain::Error::RateLimited) {
                app.metrics.rate_limited(crate::telemetry::Limit::Login);
            }
        })?;
    Ok(authenticated(&user, token))
}

async fn logout(State(app): State<AppState>, Auth(session): Auth) -> Result<StatusCode, ApiError> {
    app.users.logout(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the caller (all devices), this one included.
async fn logout_all(
    State(app): State<AppState>,
    Auth(session): Auth,
) -> Result<Json<SessionsEnded>, ApiError> {
    let sessions = app.users.logout_everywhere(session.user_id).await?;
    Ok(Json(SessionsEnded { sessions }))
}
