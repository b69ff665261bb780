//! What Confab sends to the push providers, as `Serialize` structs: the
//! Web Push payload a service worker receives, the APNs and FCM request
//! bodies, and the claims of the JWTs that authorize them.
//!
//! Owns: the providers' JSON shapes. May not touch: HTTP or keys — the
//! provider files send these, `jwt` signs the claims.

use super::Notification;
use crate::domain::{ConversationId, MessageId};
use serde::Serialize;
use std::time::Duration;

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
struct Alert<'a> {
    title: &'a str,
    body: &'a str,
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
struct Aps<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<Alert<'a>>,
    badge: i64,
    sound: &'static str,
    #[serde(rename = "thread-id")]
    thread_id: &'a str,
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

/// The FCM `messages:send` body: a visible notification, string-only data
/// for the app, and per-platform collapse and priority settings.
#[derive(Serialize)]
pub(super) struct FcmRequest<'a> {
    message: FcmMessage<'a>,
}

#[derive(Serialize)]
struct FcmMessage<'a> {
    token: &'a str,
    notification: Alert<'a>,
    data: FcmData,
    android: Android<'a>,
    apns: FcmApns<'a>,
    webpush: FcmWebPush<'a>,
}

/// FCM data values must be strings.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FcmData {
    conversation_id: String,
    message_id: String,
    badge: String,
    count: String,
}

#[derive(Serialize)]
struct Android<'a> {
    collapse_key: &'a str,
    priority: &'static str,
    ttl: String,
    notification: AndroidNotification<'a>,
}

#[derive(Serialize)]
struct AndroidNotification<'a> {
    tag: &'a str,
    notification_count: i64,
}

#[derive(Serialize)]
struct FcmApns<'a> {
    headers: FcmApnsHeaders<'a>,
    payload: FcmApnsPayload<'a>,
}

#[derive(Serialize)]
struct FcmApnsHeaders<'a> {
    #[serde(rename = "apns-collapse-id")]
    collapse_id: &'a str,
    #[serde(rename = "apns-priority")]
    priority: &'static str,
}

#[derive(Serialize)]
struct FcmApnsPayload<'a> {
    aps: Aps<'a>,
}

#[derive(Serialize)]
struct FcmWebPush<'a> {
    headers: FcmWebPushHeaders<'a>,
    notification: FcmWebNotification<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FcmWebPushHeaders<'a> {
    urgency: &'static str,
    topic: &'a str,
    #[serde(rename = "TTL")]
    ttl: String,
}

#[derive(Serialize)]
struct FcmWebNotification<'a> {
    tag: &'a str,
    renotify: bool,
}

impl<'a> FcmRequest<'a> {
    pub(super) fn new(token: &'a str, n: &'a Notification, ttl: Duration) -> Self {
        let key = n.collapse_key.as_str();
        Self {
            message: FcmMessage {
                token,
                notification: Alert { title: &n.title, body: &n.body },
                data: FcmData {
                    conversation_id: n.conversation_id.to_string(),
                    message_id: n.message_id.to_string(),
                    badge: n.badge.to_string(),
                    count: n.count.to_string(),
                },
                android: Android {
                    collapse_key: key,
                    priority: "high",
                    ttl: format!("{}s", ttl.as_secs()),
                    notification: AndroidNotification { tag: key, notification_count: n.badge },
                },
                apns: FcmApns {
                    headers: FcmApnsHeaders { collapse_id: key, priority: "10" },
                    payload: FcmApnsPayload {
                        aps: Aps { alert: None, badge: n.badge, sound: "default", thread_id: key },
                    },
                },
                webpush: FcmWebPush {
                    headers: FcmWebPushHeaders {
                        urgency: "high",
                        topic: key,
                        ttl: ttl.as_secs().to_string(),
                    },
                    notification: FcmWebNotification { tag: key, renotify: true },
                },
            },
        }
    }
}

/// A JWT header.
#[derive(Serialize)]
pub(super) struct JwtHeader<'a> {
    pub alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<&'a str>,
}

/// The claims of a VAPID JWT (RFC 8292).
#[derive(Serialize)]
pub(super) struct VapidClaims<'a> {
    pub aud: &'a str,
    pub exp: i64,
    pub sub: &'a str,
}

/// The claims of an APNs provider token.
#[derive(Serialize)]
pub(super) struct ApnsClaims<'a> {
    pub iss: &'a str,
    pub iat: i64,
}

/// The claims of the FCM service-account grant.
#[derive(Serialize)]
pub(super) struct GrantClaims<'a> {
    pub iss: &'a str,
    pub scope: &'a str,
    pub aud: &'a str,
    pub iat: i64,
    pub exp: i64,
}
