//! The body of an FCM HTTP v1 `messages:send` request, as `Serialize`
//! structs.
//!
//! Owns: FCM's JSON shape. May not touch: HTTP or keys (`fcm` sends it).

use super::Notification;
use super::payloads::{Alert, Aps};
use serde::Serialize;
use std::time::Duration;

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
