//! `/api/users/me` as an account: deleting it (`DELETE`, with the password)
//! and exporting its data (`GET /api/users/me/export`).
//!
//! Owns: these routes. May not touch: the deletion's steps (`accounts`).

use super::ApiError;
use super::extract::{Auth, JsonBody};
use crate::accounts::MessagesOnDelete;
use crate::domain::{Envelope, Error, now_millis};
use crate::media::attachment_of;
use crate::state::AppState;
use crate::wire::{ConversationView, MediaView, MessageView, UserView};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub(super) struct DeleteQuery {
    messages: Option<String>,
}

/// `DELETE /api/users/me` `{"password": …}` → 204.
pub(super) async fn delete_me(
    State(app): State<AppState>,
    Auth(session): Auth,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    let Query(q) = query.map_err(|_| Error::invalid("`messages` must be `keep` or `delete`"))?;
    let policy = match q.messages.as_deref() {
        None | Some("keep") => MessagesOnDelete::Keep,
        Some("delete") => MessagesOnDelete::Delete,
        Some(_) => return Err(Error::invalid("`messages` must be `keep` or `delete`").into()),
    };
    let password = body
        .get("password")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| Error::invalid("`password` is required to delete the account"))?;
    app.users.verify_password(session.user_id, password).await?;
    app.accounts.delete(session.user_id, policy).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExportReply {
    exported_at: i64,
    profile: UserView,
    conversations: Vec<ConversationView>,
    messages: Vec<MessageView>,
    media: Vec<MediaView>,
}

/// `GET /api/users/me/export`: the caller's data as one JSON document.
pub(super) async fn export(
    State(app): State<AppState>,
    Auth(session): Auth,
) -> Result<Json<ExportReply>, ApiError> {
    let me = session.user_id;
    let data = app.accounts.export(me).await?;
    let messages = data.messages.into_iter().map(|(m, c)| MessageView::new(&Envelope::new(m, &c))).collect();
    Ok(Json(ExportReply {
        exported_at: now_millis(),
        profile: UserView::new(&data.profile),
        conversations: data.conversations.iter().map(|c| ConversationView::new(c, Some(me))).collect(),
        messages,
        media: data.media.iter().map(|m| MediaView::new(m, &attachment_of(m))).collect(),
    }))
}
