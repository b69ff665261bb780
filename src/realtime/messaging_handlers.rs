//! Socket.IO handlers of edits, deletions and reactions (#17):
//! `edit_message`, `delete_message`, `react`, `unreact`. Replies go out as
//! every handler's do (`handlers::run`).
//!
//! Owns: these handlers. May not touch: the rules — they parse with
//! `wire::input` and call `chat`.

use super::conn::Ctx;
use super::handlers::{required, run};
use crate::state::AppState;
use crate::telemetry::EventName;
use crate::wire::replies::{DONE, MessageReply, ReactionsReply};
use crate::wire::{MessageView, ReactionView, input};
use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};

pub(super) fn register<A: Adapter>(s: &SocketRef<A>) {
    s.on("edit_message", edit_message::<A>);
    s.on("delete_message", delete_message::<A>);
    s.on("react", react::<A>);
    s.on("unreact", unreact::<A>);
}

async fn edit_message<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    ctx: Ctx,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    run(s, app, ctx, ack, EventName::EditMessage, async |app, conn| {
        let max = app.config.limits.message_max_chars;
        let (id, text) = input::edit_message(&required(data)?, max)?;
        let message = app.chat.edit(conn.session.user_id, id, text).await?;
        Ok(MessageReply { message: MessageView::new(&message) })
    })
    .await;
}

async fn delete_message<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    ctx: Ctx,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    run(s, app, ctx, ack, EventName::DeleteMessage, async |app, conn| {
        let id = input::message_ref(&required(data)?)?;
        app.chat.delete(conn.session.user_id, id).await?;
        Ok(DONE)
    })
    .await;
}

async fn react<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    ctx: Ctx,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    set_reaction(s, app, ctx, data, ack, true).await;
}

async fn unreact<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    ctx: Ctx,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    set_reaction(s, app, ctx, data, ack, false).await;
}

async fn set_reaction<A: Adapter>(
    s: SocketRef<A>,
    app: AppState,
    ctx: Ctx,
    data: Result<Value, socketioxide::ParserError>,
    ack: AckSender<A>,
    on: bool,
) {
    run(s, app, ctx, ack, if on { EventName::React } else { EventName::Unreact }, async |app, conn| {
        let (id, emoji) = input::react(&required(data)?)?;
        let reactions = app.chat.react(conn.session.user_id, id, emoji, on).await?;
        Ok(ReactionsReply { reactions: ReactionView::list(&reactions) })
    })
    .await;
}
