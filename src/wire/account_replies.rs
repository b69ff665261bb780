//! The bodies of the account routes' answers: users, sessions, push
//! devices, mutes and uploads.
//!
//! Owns: the envelope around each of these views. May not touch: anything
//! but views.

use super::{MediaView, MuteView, SubscriptionView, UserView};
use serde::Serialize;

/// `{"user": User}`.
#[derive(Serialize)]
pub struct UserReply {
    /// The user.
    pub user: UserView,
}

/// `{"users": [User]}`.
#[derive(Serialize)]
pub struct UsersReply {
    /// Matching users, by username.
    pub users: Vec<UserView>,
}

/// `{"user": User, "token"}`: after registration or login.
#[derive(Serialize)]
pub struct SessionReply {
    /// The account.
    pub user: UserView,
    /// The bearer token (shown once).
    pub token: String,
}

/// `{"sessions": n}`: how many sessions `logout-all` ended.
#[derive(Serialize)]
pub struct SessionsEnded {
    /// How many sessions ended.
    pub sessions: usize,
}

/// `{"publicKey"}`: the VAPID key browsers subscribe with.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VapidKeyReply {
    /// Base64url, uncompressed P-256.
    pub public_key: String,
}

/// `{"subscription": Subscription}`.
#[derive(Serialize)]
pub struct SubscriptionReply {
    /// The device.
    pub subscription: SubscriptionView,
}

/// `{"subscriptions": [Subscription]}`.
#[derive(Serialize)]
pub struct SubscriptionsReply {
    /// The caller's devices.
    pub subscriptions: Vec<SubscriptionView>,
}

/// `{"mute": Mute}`.
#[derive(Serialize)]
pub struct MuteReply {
    /// The mute.
    pub mute: MuteView,
}

/// `{"mutes": [Mute]}`.
#[derive(Serialize)]
pub struct MutesReply {
    /// The caller's mutes in force.
    pub mutes: Vec<MuteView>,
}

/// `{"media": Media}`: an upload.
#[derive(Serialize)]
pub struct MediaReply {
    /// The upload.
    pub media: MediaView,
}

/// `{"url", "thumbnailUrl", "expiresAt"}`: signed links to a media item.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinksReply {
    /// The file, without `Authorization`, until `expiresAt`.
    pub url: String,
    /// Its thumbnail, if any.
    pub thumbnail_url: Option<String>,
    /// When the links stop working, RFC 3339.
    pub expires_at: String,
}
