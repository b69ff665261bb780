//! Socket.IO event handlers: payload → domain command → service call → reply.
//!
//! Every reply goes out the same way ([`reply`]): success to the ack, failure
//! to the ack as `{"error":{code,message}}` *and* as an `error` event, so
//! clients that do not ask for acks still hear about it.
//!
//! Owns: the event handlers and the reply shape. May not touch: the rules —
//! they parse with `wire::input` and call a service.

use super::conn::Ctx;
use crate::domain::{Error, ErrorCode};
use crate::state::AppState;
use crate::telemetry::{Dependency, EventName};
use crate::wire::replies::{DONE, Done, ErrorReply, MessageReply, MessagesReply};
use crate::wire::{ErrorBody, MessageView, input};
use serde::Serialize;
use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;
use std::future::Future;
use std::sync::Arc;
use tracing::Instrument;

/// The core events, the fallback for unknown ones and the disconnect hook
/// (`messaging_handlers` adds #17's events beside them).
pub fn register<A: Adapter>(s: &SocketRef<A>) {
    s.on("join", join::<A>);
    s.on("send_message", send_message::<A>);
    s.on("fetch_unread_messages", fetch_unread_messages::<A>);
    s.on("mark_read", mark_read::<A>);
    s.on("typing", typing::<A>);
    s.on_fallback(unknown_event::<A>);
    s.on_disconnect(on_disconnect::<A>);
}

/// Admits the event (rate, token, order), runs `f`, and replies.
pub(super) async fn run<A: Adapter, F, Fut, T>(
    s: SocketRef<A>,
    app: AppState,
    ctx: Ctx,
    ack: AckSender<A>,
    event: EventName,
    f: F,
) where
    F: FnOnce(AppState, Arc<super::conn::Conn>) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
    T: Serialize,
{
    let metrics = app.metrics.clone();
    // Debug level: free unless asked for (this is the message hot path).
    let span = tracing::debug_span!("event", name = ?event, user = ctx.conn.session.user_id.0);
    async move {
        // Held until the reply is written: a shutdown waits for it.
        let Some(_working) = ctx.conn.drain.enter() else {
            drop(ctx);
            metrics.event(event, Some(ErrorCode::Unavailable));
            return reply::<A, T>(&s, ack, Err(Error::Unavailable("the server is shutting down")));
        };
        let result = match ctx.admit(&app.users).await {
            Ok(()) => f(app, ctx.conn.clone()).await,
            Err(e) => {
                if let Some(limit) = ctx.limit() {
                    metrics.rate_limited(limit);
                }
                Err(e)
            }
        };
        drop(ctx); // let the next event of this socket proceed before we write the reply
        let code = result.as_ref().err().map(Error::code);
        metrics.event(event, code);
        if code == Some(ErrorCode::Internal) {
            // Storage failures are what ends an event as `internal` (each is logged with its cause).
            metrics.dependency_error(Dependency::Database);
        }
        reply(&s, ack, result);
    }
    .instrument(span)
    .await;
}

fn reply<A: Adapter, T: Serialize>(s: &SocketRef<A>, ack: AckSender<A>, result: Result<T, Error>) {
    match result {
        Ok(v) => {
            let _ = ack.send(&v);
        }
        Err(e) => {
            let reply = ErrorReply { error: ErrorBody::new(&e) };
            let _ = ack.send(&reply);
            let _ = s.emit("error", &reply.error);
            if e.code() == ErrorCode::Unauthorized {
                // The token is no longer valid: the socket must not stay open.
                let _ = s.clone().disconnect();
            }
        }
    }
}

/// The payload; `None` when the client sent none (socketioxide reports a
/// missing argument as a decoding error, while an explicit `null` decodes).
fn payload(data: Result<Value, socketioxide::ParserError>) -> Option<Value> {
    data.ok()
}

/// The payload of an event that needs one.
pub(super) fn required(data: Result<Value, socketioxide::ParserError>) -> Result<Value, Error> {
    payload(data).ok_or_else(|| Error::invalid("this event needs a JSON object payload"))
}

async fn join<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    ctx: Ctx,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    run(s, app, ctx, ack, EventName::Join, async |_, conn| {
        let user = input::join(&required(data)?)?;
        if user != conn.session.user_id {
            return Err(Error::Forbidden("you can only join as yourself"));
        }
        Ok(DONE)
    })
    .await;
}

async fn send_message<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    ctx: Ctx,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    run(s, app, ctx, ack, EventName::SendMessage, async |app, conn| {
        let max = app.config.limits.message_max_chars;
        let cmd = input::send_message(&required(data)?, conn.session.user_id, Some(conn.id.clone()), max)?;
        let message = app.chat.send(cmd).await?;
        Ok(MessageReply { message: MessageView::new(&message) })
    })
    .await;
}

async fn fetch_unread_messages<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    ctx: Ctx,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    run(s, app, ctx, ack, EventName::FetchUnread, async |app, conn| {
        let conversation = input::fetch_unread(payload(data).as_ref())?;
        let limit = app.config.limits.page_max;
        let (messages, has_more) = app.chat.fetch_unread(conn.session.user_id, conversation, limit).await?;
        app.metrics.fetched(messages.len());
        Ok(MessagesReply { messages: messages.iter().map(MessageView::new).collect(), has_more })
    })
    .await;
}

async fn mark_read<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    ctx: Ctx,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    run(s, app, ctx, ack, EventName::MarkRead, async |app, conn| {
        let (conversation, message) = input::mark_read(&required(data)?)?;
        app.chat.mark_read(conn.session.user_id, conversation, message).await?;
        Ok(DONE)
    })
    .await;
}

async fn typing<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    ctx: Ctx,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    run(s, app, ctx, ack, EventName::Typing, async |app, conn| {
        let (conversation, is_typing) = input::typing(&required(data)?)?;
        app.chat.typing(conn.session.user_id, conversation, is_typing, Some(&conn.id)).await?;
        Ok(DONE)
    })
    .await;
}

async fn unknown_event<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    ctx: Ctx,
    Event(event): Event,
    ack: AckSender<A>,
) {
    run(s, app, ctx, ack, EventName::Unknown, async |_, _| {
        let mut name = event;
        name.truncate(64);
        Err::<Done, _>(Error::invalid(format!("unknown event `{name}`")))
    })
    .await;
}

async fn on_disconnect<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<AppState>,
    State(giveback): State<Arc<super::memory::Giveback>>,
    reason: DisconnectReason,
) {
    let Some(conn) = s.extensions.get::<Arc<super::conn::Conn>>() else {
        return;
    };
    giveback.socket_closed();
    tracing::debug!(user = %conn.session.user_id, sid = %s.id, ?reason, "socket disconnected");
    conn.closed.notify_one();
    app.metrics.socket_closed(conn.session.user_id.0);
    if let Err(e) = app.presence.disconnected(conn.session.user_id, &conn.id).await {
        tracing::warn!(error = %e, "presence update failed on disconnect");
    }
}
