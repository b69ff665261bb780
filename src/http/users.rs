//! `/api/users`: the caller, search by username prefix, and profiles with presence.
//!
//! Owns: these routes. May not touch: accounts beyond calling `users` and
//! `presence`.

use super::ApiError;
use super::extract::Auth;
use crate::domain::{Error, UserId};
use crate::state::AppState;
use crate::wire::UserView;
use crate::wire::replies::{UserReply, UsersReply};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users/me", get(me).delete(super::account::delete_me))
        .route("/users/me/export", get(super::account::export))
        .route("/users", get(search))
        .route("/users/{id}", get(profile))
}

async fn me(State(app): State<AppState>, Auth(session): Auth) -> Result<Json<UserReply>, ApiError> {
    let user = app.users.user(session.user_id).await?;
    Ok(Json(UserReply { user: UserView::new(&user) }))
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    limit: Option<i64>,
}

async fn search(
    State(app): State<AppState>,
    Auth(_): Auth,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UsersReply>, ApiError> {
    let Query(q) = query.map_err(|_| Error::invalid("`q` must be text and `limit` a number"))?;
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let users = app.users.search(&q.q, limit).await?;
    Ok(Json(UsersReply { users: users.iter().map(UserView::new).collect() }))
}

async fn profile(
    State(app): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
) -> Result<Json<UserReply>, ApiError> {
    let id = id.parse::<i64>().ok().filter(|&n| n > 0).ok_or(Error::NotFound("user"))?;
    let user = app.users.user(UserId(id)).await?;
    // Blocked either way: no presence.
    if app.chat.blocked_either_way(session.user_id, user.id).await? {
        return Ok(Json(UserReply { user: UserView::new(&user) }));
    }
    let presence = app.presence.status(user.id, user.last_seen_at).await;
    Ok(Json(UserReply { user: UserView::with_presence(&user, presence) }))
}
