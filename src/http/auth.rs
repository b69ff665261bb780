//! `/api/auth`: register, login, logout.

use super::ApiError;
use super::extract::{Auth, JsonBody};
use crate::app::AppState;
use crate::domain::{DisplayName, Error, Password, Username};
use crate::store::UserRow;
use crate::wire::UserView;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router, extract::State};
use serde_json::{Value, json};
use std::net::SocketAddr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-all", post(logout_all))
}

fn text<'a>(body: &'a Value, field: &str) -> Result<&'a str, Error> {
    body.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid(format!("`{field}` must be a string")))
}

fn authenticated(user: &UserRow, token: String) -> Json<Value> {
    Json(json!({ "user": UserView::new(user), "token": token }))
}

async fn register(
    State(app): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let username = Username::parse(text(&body, "username")?)?;
    let password = Password::parse(text(&body, "password")?)?;
    let display_name = match body.get("displayName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(DisplayName::parse(s)?),
        Some(_) => return Err(Error::invalid("`displayName` must be a string").into()),
    };
    let (user, token) = app.users.register(username, password, display_name).await?;
    Ok((StatusCode::CREATED, authenticated(&user, token)))
}

async fn login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let from = super::client_ip(peer.ip(), &headers, &app.config.trusted_proxies);
    let (user, token) =
        app.users.login(text(&body, "username")?, text(&body, "password")?, Some(from)).await?;
    Ok(authenticated(&user, token))
}

async fn logout(State(app): State<AppState>, Auth(session): Auth) -> Result<StatusCode, ApiError> {
    app.users.logout(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the caller (all devices), this one included.
async fn logout_all(State(app): State<AppState>, Auth(session): Auth) -> Result<Json<Value>, ApiError> {
    let sessions = app.users.logout_everywhere(session.user_id).await?;
    Ok(Json(json!({ "sessions": sessions })))
}
