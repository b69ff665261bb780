//! What Confab sends to the push providers, as `Serialize` structs: the
//! Web Push payload a service worker receives and the APNs body (FCM's is
//! in `fcm_payload`, the claims of the JWTs that authorize them in `jwt`).
//!
//! Owns: the providers' JSON shapes. May not touch: HTTP or keys — the
//! provider files send these.

use super::Notification;
use crate::domain::{ConversationId, MessageId};
use serde::Serialize;

/// The JSON a service worker receives (the web client shows it with
/// `registration.showNotification(title, {body, tag, data})`).
#[derive(Serialize)]
pub(super) struct WebPayload<'a> {
    title: &'a str,
    body: &'a str,
    badge: i64,
    count: i64,
    tag: &'a str,
    data: WebData,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebData {
    conversation_id: ConversationId,
    message_id: MessageId,
    url: String,
}

impl<'a> WebPayload<'a> {
    pub(super) fn new(n: &'a Notification) -> Self {
        Self {
            title: &n.title,
            body: &n.body,
            badge: n.badge,
            count: n.count,
            tag: &n.collapse_key,
            data: WebData {
                conversation_id: n.conversation_id,
                message_id: n.message_id,
                url: format!("/#/c/{}", n.conversation_id),
            },
        }
    }
}

/// An alert's title and text.
#[derive(Serialize)]
pub(super) struct Alert<'a> {
    pub(super) title: &'a str,
    pub(super) body: &'a str,
}

/// The APNs payload: the alert, the badge, and the ids for the app.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ApnsPayload<'a> {
    aps: Aps<'a>,
    conversation_id: ConversationId,
    message_id: MessageId,
}

#[derive(Serialize)]
pub(super) struct Aps<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) alert: Option<Alert<'a>>,
    pub(super) badge: i64,
    pub(super) sound: &'static str,
    #[serde(rename = "thread-id")]
    pub(super) thread_id: &'a str,
}

impl<'a> ApnsPayload<'a> {
    pub(super) fn new(n: &'a Notification) -> Self {
        Self {
            aps: Aps {
                alert: Some(Alert { title: &n.title, body: &n.body }),
                badge: n.badge,
                sound: "default",
                thread_id: &n.collapse_key,
            },
            conversation_id: n.conversation_id,
            message_id: n.message_id,
        }
    }
}
