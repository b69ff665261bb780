//! `/api/conversations`: the caller's conversations and their history.
//!
//! Owns: these routes. May not touch: who may read what — `chat` decides.

use super::ApiError;
use super::extract::Auth;
use crate::domain::{CONVERSATIONS_PER_PAGE, ConversationCursor, ConversationId, Error, MessageId};
use crate::state::AppState;
use crate::wire::replies::{ConversationsReply, MessagesReply};
use crate::wire::{ConversationView, MessageView};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new().route("/conversations", get(list)).route("/conversations/{id}/messages", get(history))
}

/// `?before=&limit=` of the conversation list.
#[derive(Deserialize)]
struct ListPage {
    /// The `nextBefore` of the previous page.
    before: Option<String>,
    limit: Option<i64>,
}

async fn list(
    State(app): State<AppState>,
    Auth(session): Auth,
    page: Result<Query<ListPage>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ConversationsReply>, ApiError> {
    let Query(page) = page.map_err(|_| Error::invalid("`limit` must be an integer"))?;
    let before = page.before.as_deref().map(ConversationCursor::parse).transpose()?;
    let limit = page.limit.unwrap_or(CONVERSATIONS_PER_PAGE).clamp(1, CONVERSATIONS_PER_PAGE);
    let page = app.chat.conversations(session.user_id, before, limit).await?;
    let conversations = page
        .conversations
        .iter()
        .map(|c| ConversationView::summary(c, page.last_messages.get(&c.conversation.id), session.user_id))
        .collect();
    Ok(Json(ConversationsReply {
        conversations,
        has_more: page.next.is_some(),
        next_before: page.next.map(|n| n.to_string()),
    }))
}

#[derive(Deserialize)]
struct Page {
    /// Return messages older than this message id (the oldest one already shown).
    before: Option<i64>,
    limit: Option<i64>,
}

async fn history(
    State(app): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<MessagesReply>, ApiError> {
    let id = id.parse::<i64>().ok().filter(|&n| n > 0).ok_or(Error::NotFound("conversation"))?;
    let Query(page) = page.map_err(|_| Error::invalid("`before` and `limit` must be integers"))?;
    let limit = page.limit.unwrap_or(50).clamp(1, app.config.limits.page_max);
    let messages =
        app.chat.history(session.user_id, ConversationId(id), page.before.map(MessageId), limit).await?;
    let messages: Vec<_> = messages.iter().map(MessageView::new).collect();
    let has_more = messages.len() as i64 == limit && messages.last().is_some_and(|m| m.seq > 1);
    Ok(Json(MessagesReply { messages, has_more }))
}
