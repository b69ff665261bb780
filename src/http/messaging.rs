//! REST routes of edits, deletions, message search and blocking (#17):
//! `PATCH`/`DELETE /api/messages/{id}`, `GET /api/search/messages`,
//! `POST`/`DELETE /api/users/{id}/block`, `GET /api/users/blocked`.
//!
//! Owns: these routes. May not touch: the rules — `chat` holds them, the
//! same ones the Socket.IO events use.

use super::ApiError;
use super::extract::{Auth, JsonBody};
use crate::domain::{Error, UserId};
use crate::state::AppState;
use crate::wire::input::{self, Search, SearchParams};
use crate::wire::replies::{MessageReply, SearchReply, UsersReply};
use crate::wire::{MessageView, UserView};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/messages/{id}", patch(edit).delete(delete))
        .route("/search/messages", get(search))
        .route("/users/blocked", get(blocked))
        .route("/users/{id}/block", post(block).delete(unblock))
}

async fn edit(
    State(app): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<MessageReply>, ApiError> {
    let id = input::path_message_id(&id)?;
    let text = input::edit_body(&body, app.config.limits.message_max_chars)?;
    let message = app.chat.edit(session.user_id, id, text).await?;
    Ok(Json(MessageReply { message: MessageView::new(&message) }))
}

async fn delete(
    State(app): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = input::path_message_id(&id)?;
    app.chat.delete(session.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn search(
    State(app): State<AppState>,
    Auth(session): Auth,
    query: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchReply>, ApiError> {
    let Query(params) = query.map_err(|_| Error::invalid("malformed query string"))?;
    let s = Search::try_from(params)?;
    let found = app.chat.search(session.user_id, &s.query, s.conversation, s.before, s.limit).await?;
    Ok(Json(SearchReply { messages: found.iter().map(MessageView::new).collect() }))
}

/// A user id in a path: anything else is no such user.
fn user_id(s: &str) -> Result<UserId, Error> {
    s.parse::<i64>().ok().filter(|&n| n > 0).map(UserId).ok_or(Error::NotFound("user"))
}

async fn block(
    State(app): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.chat.block(session.user_id, user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unblock(
    State(app): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.chat.unblock(session.user_id, user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn blocked(State(app): State<AppState>, Auth(session): Auth) -> Result<Json<UsersReply>, ApiError> {
    let users = app.chat.blocked(session.user_id).await?;
    Ok(Json(UsersReply { users: users.iter().map(UserView::new).collect() }))
}
