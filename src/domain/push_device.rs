//! Push devices and mutes, as the notification service and the API see them.
//!
//! Owns: [`Subscription`], [`Mute`] and [`PushKind`]. May not touch: anything
//! outside `domain`.

use super::{ConversationId, Millis, SubscriptionId, UserId};

/// A push provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushKind {
    /// Web Push (browsers), RFC 8030/8291 with VAPID.
    WebPush,
    /// Firebase Cloud Messaging (Android).
    Fcm,
    /// Apple Push Notification service (iOS).
    Apns,
}

impl PushKind {
    /// The API's and the database's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::WebPush => "webpush",
            PushKind::Fcm => "fcm",
            PushKind::Apns => "apns",
        }
    }

    /// The provider with this name, if there is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webpush" => Some(PushKind::WebPush),
            "fcm" => Some(PushKind::Fcm),
            "apns" => Some(PushKind::Apns),
            _ => None,
        }
    }
}

/// A device registered for push.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// Whose pushes it receives.
    pub user_id: UserId,
    /// Which provider.
    pub kind: PushKind,
    /// Web Push: the endpoint URL. FCM and APNs: the device token.
    pub address: String,
    /// Web Push: the browser's P-256 public key, base64url.
    pub p256dh: Option<String>,
    /// Web Push: the 16-byte auth secret, base64url.
    pub auth: Option<String>,
    /// APNs: `sandbox` or `production`.
    pub environment: Option<String>,
    /// When it was registered.
    pub created_at: Millis,
}

/// A mute: pushes for one conversation (or all, when `conversation` is
/// `None`) are held back until `until` (forever when `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mute {
    /// The muted conversation; `None`: every conversation.
    pub conversation: Option<ConversationId>,
    /// When it ends; `None`: when it is removed.
    pub until: Option<Millis>,
}
