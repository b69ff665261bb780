//! The objects around an account: push devices, mutes, uploads, the
//! Cloudinary upload signature, and the error body every failure carries.
//!
//! Owns: how these look on the wire. May not touch: services or storage.

use super::timestamp;
use super::views::AttachmentView;
use crate::domain::{Attachment, Error, MediaItem, Mute, PushKind, Subscription};
use crate::media::cloudinary::UploadSignature;
use serde::Serialize;

/// A push device. The address is `endpoint` for Web Push and `token` for
/// FCM and APNs; APNs devices also say their `environment`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    /// Its id (for `DELETE /api/push/subscriptions/{id}`).
    pub id: i64,
    /// `webpush`, `fcm` or `apns`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When it was registered, RFC 3339.
    pub created_at: String,
    /// Web Push: the endpoint URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// FCM and APNs: the device token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// APNs: `sandbox` or `production`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Option<String>>,
}

impl SubscriptionView {
    /// The device as its owner sees it.
    pub fn new(s: &Subscription) -> Self {
        let (endpoint, token, environment) = match s.kind {
            PushKind::WebPush => (Some(s.address.clone()), None, None),
            PushKind::Fcm => (None, Some(s.address.clone()), None),
            PushKind::Apns => (None, Some(s.address.clone()), Some(s.environment.clone())),
        };
        Self {
            id: s.id.0,
            kind: s.kind.as_str(),
            created_at: timestamp(s.created_at),
            endpoint,
            token,
            environment,
        }
    }
}

/// A mute: one conversation (or all, `conversationId: null`) until a time
/// (or `null`: until unmuted).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MuteView {
    /// The muted conversation; `null`: every conversation.
    pub conversation_id: Option<i64>,
    /// When the mute ends, RFC 3339; `null`: when it is removed.
    pub until: Option<String>,
}

impl MuteView {
    /// The mute as its owner sees it.
    pub fn new(m: &Mute) -> Self {
        Self { conversation_id: m.conversation.map(|c| c.0), until: m.until.map(timestamp) }
    }
}

/// An uploaded media item: the attachment view plus when it was uploaded.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaView {
    /// The item as a message would carry it.
    #[serde(flatten)]
    pub attachment: AttachmentView,
    /// When it was uploaded, RFC 3339.
    pub created_at: String,
}

impl MediaView {
    /// `attachment` is the item as a message would carry it.
    pub fn new(m: &MediaItem, attachment: &Attachment) -> Self {
        Self { attachment: AttachmentView::new(attachment), created_at: timestamp(m.created_at) }
    }
}

/// Signed parameters for a direct upload to Cloudinary.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSignatureView {
    /// The account to upload to.
    pub cloud_name: String,
    /// The public API key.
    pub api_key: String,
    /// Where the browser posts the file.
    pub upload_url: String,
    /// The signed time, in seconds.
    pub timestamp: i64,
    /// The folder the upload must go to.
    pub folder: String,
    /// The formats it may have, comma-separated.
    pub allowed_formats: String,
    /// The signature over these parameters.
    pub signature: String,
}

impl From<UploadSignature> for UploadSignatureView {
    fn from(s: UploadSignature) -> Self {
        Self {
            cloud_name: s.cloud_name,
            api_key: s.api_key,
            upload_url: s.upload_url,
            timestamp: s.timestamp,
            folder: s.folder,
            allowed_formats: s.allowed_formats,
            signature: s.signature,
        }
    }
}

/// `{"code","message"}`: the body of every error, on every transport.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// One of the documented error codes (`invalid`, `forbidden`, …).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl ErrorBody {
    /// The body of a domain error.
    pub fn new(e: &Error) -> Self {
        Self { code: e.code().as_str(), message: e.to_string() }
    }
}
