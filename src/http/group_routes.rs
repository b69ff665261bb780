//! `/api/conversations` for groups: create, read, change, delete, members,
//! roles, and per-message receipts. Rules live in `chat::groups`.
//!
//! Owns: these routes. May not touch: the group rules — `chat::groups` holds
//! them.

use super::ApiError;
use super::extract::{Auth, JsonBody};
use crate::domain::{ConversationId, Error, MessageId, UserId};
use crate::state::AppState;
use crate::wire::replies::{ConversationReply, MembersReply};
use crate::wire::{ConversationView, MemberView, ReceiptsView, input};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/conversations", post(create))
        .route("/conversations/{id}", get(show).patch(update).delete(remove))
        .route("/conversations/{id}/members", get(members).post(add_members))
        .route("/conversations/{id}/members/{user}", patch(set_role).delete(remove_member))
        .route("/conversations/{id}/messages/{message}/receipts", get(receipts))
}

/// Parses a path segment as an id; anything else is "not found".
pub(super) fn path_id(s: &str, what: &'static str) -> Result<i64, ApiError> {
    s.parse::<i64>().ok().filter(|&n| n > 0).ok_or(ApiError(Error::NotFound(what)))
}

fn conversation_json(c: &crate::domain::Conversation, me: UserId) -> Json<ConversationReply> {
    Json(ConversationReply { conversation: ConversationView::new(c, Some(me)) })
}

async fn create(
    State(app): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<ConversationReply>), ApiError> {
    let req = input::new_group(&body, session.user_id)?;
    let group = app.chat.create_group(req).await?;
    Ok((StatusCode::CREATED, conversation_json(&group, session.user_id)))
}

async fn show(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<String>,
) -> Result<Json<ConversationReply>, ApiError> {
    let id = ConversationId(path_id(&id, "conversation")?);
    Ok(conversation_json(&app.chat.conversation(s.user_id, id).await?, s.user_id))
}

async fn update(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<ConversationReply>, ApiError> {
    let id = ConversationId(path_id(&id, "conversation")?);
    let patch = input::group_patch(&body)?;
    Ok(conversation_json(&app.chat.update_group(s.user_id, id, patch).await?, s.user_id))
}

async fn remove(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = ConversationId(path_id(&id, "conversation")?);
    app.chat.delete_group(s.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<String>,
) -> Result<Json<MembersReply>, ApiError> {
    let id = ConversationId(path_id(&id, "conversation")?);
    let c = app.chat.conversation(s.user_id, id).await?;
    Ok(Json(MembersReply { members: c.members.iter().map(MemberView::new).collect() }))
}

async fn add_members(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<ConversationReply>, ApiError> {
    let id = ConversationId(path_id(&id, "conversation")?);
    let users = input::add_members(&body)?;
    Ok(conversation_json(&app.chat.add_members(s.user_id, id, users).await?, s.user_id))
}

async fn remove_member(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = ConversationId(path_id(&id, "conversation")?);
    let user = UserId(path_id(&user, "member")?);
    app.chat.remove_member(s.user_id, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_role(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path((id, user)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Json<ConversationReply>, ApiError> {
    let id = ConversationId(path_id(&id, "conversation")?);
    let user = UserId(path_id(&user, "member")?);
    let role = input::role(&body)?;
    Ok(conversation_json(&app.chat.set_role(s.user_id, id, user, role).await?, s.user_id))
}

async fn receipts(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path((id, message)): Path<(String, String)>,
) -> Result<Json<ReceiptsView>, ApiError> {
    let id = ConversationId(path_id(&id, "conversation")?);
    let message = MessageId(path_id(&message, "message")?);
    let (m, list) = app.chat.receipts(s.user_id, id, message).await?;
    Ok(Json(ReceiptsView::new(&m, &list)))
}
