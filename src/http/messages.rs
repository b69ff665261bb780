//! `POST /api/messages`: the design's "send via API", the same send path
//! (rules, idempotency, delivery) as the `send_message` event.
//!
//! Owns: this route. May not touch: the send rules — `chat` holds them.

use super::ApiError;
use super::extract::{Auth, JsonBody};
use crate::state::AppState;
use crate::wire::replies::MessageReply;
use crate::wire::{MessageView, input};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router, extract::State};

pub fn routes() -> Router<AppState> {
    Router::new().route("/messages", post(send))
}

async fn send(
    State(app): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<MessageReply>), ApiError> {
    let max = app.config.limits.message_max_chars;
    let cmd = input::send_message(&body, session.user_id, None, max)?;
    let message = app.chat.send(cmd).await?;
    Ok((StatusCode::CREATED, Json(MessageReply { message: MessageView::new(&message) })))
}
