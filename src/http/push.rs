//! `/api/push`: push devices, the VAPID public key, and mutes (for every
//! conversation here, for one under `/api/conversations/{id}/mute`).
//!
//! Owns: these routes. May not touch: devices or mutes beyond calling
//! `notify`.

use super::ApiError;
use super::extract::{Auth, JsonBody};
use super::group_routes::path_id;
use crate::domain::{ConversationId, Error, Millis, SubscriptionId};
use crate::notify::NewDevice;
use crate::state::AppState;
use crate::wire::input::{self, MuteRequest, NewDeviceRequest};
use crate::wire::replies::{MuteReply, MutesReply, SubscriptionReply, SubscriptionsReply, VapidKeyReply};
use crate::wire::{MuteView, SubscriptionView};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::Value;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/push/vapid-public-key", get(vapid_public_key))
        .route("/push/subscriptions", get(list).post(subscribe))
        .route("/push/subscriptions/{id}", axum::routing::delete(unsubscribe))
        .route("/push/mutes", get(mutes))
        .route("/push/mute", put(mute_all).delete(unmute_all))
        .route("/conversations/{id}/mute", put(mute_one).delete(unmute_one))
}

async fn vapid_public_key(State(app): State<AppState>) -> Json<VapidKeyReply> {
    Json(VapidKeyReply { public_key: app.push.vapid_public_key().to_string() })
}

/// The body of `POST /api/push/subscriptions`, checked for shape here and
/// for meaning (URL, key sizes) by the notification service.
fn new_device(body: &Value) -> Result<NewDevice, Error> {
    NewDevice::try_from(input::parse::<NewDeviceRequest>(body)?)
}

async fn subscribe(
    State(app): State<AppState>,
    Auth(s): Auth,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<SubscriptionReply>), ApiError> {
    let row = app.push.subscribe(s.user_id, new_device(&body)?).await?;
    Ok((StatusCode::CREATED, Json(SubscriptionReply { subscription: SubscriptionView::new(&row) })))
}

async fn list(State(app): State<AppState>, Auth(s): Auth) -> Result<Json<SubscriptionsReply>, ApiError> {
    let subs = app.push.subscriptions(s.user_id).await?;
    Ok(Json(SubscriptionsReply { subscriptions: subs.iter().map(SubscriptionView::new).collect() }))
}

async fn unsubscribe(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = SubscriptionId(path_id(&id, "subscription")?);
    app.push.unsubscribe(s.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A mute's end from an optional JSON body: none (or blank) mutes until
/// unmuted; otherwise a [`MuteRequest`].
fn until(body: &axum::body::Bytes) -> Result<Option<Millis>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|e| Error::invalid(format!("malformed JSON body: {e}")))?;
    Ok(input::parse::<MuteRequest>(&v)?.until.0)
}

async fn mutes(State(app): State<AppState>, Auth(s): Auth) -> Result<Json<MutesReply>, ApiError> {
    let mutes = app.push.mutes(s.user_id).await?;
    Ok(Json(MutesReply { mutes: mutes.iter().map(MuteView::new).collect() }))
}

async fn mute_all(
    State(app): State<AppState>,
    Auth(s): Auth,
    body: axum::body::Bytes,
) -> Result<Json<MuteReply>, ApiError> {
    let until = until(&body)?;
    let mute = app.push.mute(s.user_id, None, until).await?;
    Ok(Json(MuteReply { mute: MuteView::new(&mute) }))
}

async fn unmute_all(State(app): State<AppState>, Auth(s): Auth) -> Result<StatusCode, ApiError> {
    app.push.unmute(s.user_id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn mute_one(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<MuteReply>, ApiError> {
    let id = ConversationId(path_id(&id, "conversation")?);
    let until = until(&body)?;
    app.chat.conversation(s.user_id, id).await?; // members only
    let mute = app.push.mute(s.user_id, Some(id), until).await?;
    Ok(Json(MuteReply { mute: MuteView::new(&mute) }))
}

async fn unmute_one(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = ConversationId(path_id(&id, "conversation")?);
    app.chat.conversation(s.user_id, id).await?;
    app.push.unmute(s.user_id, Some(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
