//! An uploaded (or Cloudinary-registered) media item.
//!
//! Owns: [`MediaItem`]. May not touch: anything outside `domain`.

use super::{Millis, UserId};

/// A media item; messages carry it as an [`super::Attachment`].
#[derive(Debug, Clone, PartialEq)]
pub struct MediaItem {
    /// 128-bit random, base64url.
    pub id: String,
    /// Who uploaded it.
    pub owner_id: UserId,
    /// `local` or `cloudinary`.
    pub backend: String,
    /// `image`, `video`, `audio` or `file`.
    pub kind: String,
    /// Its content type.
    pub mime: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its file name (a label only).
    pub name: String,
    /// Images: width in pixels.
    pub width: Option<i64>,
    /// Images: height in pixels.
    pub height: Option<i64>,
    /// Local: the content hash naming its file.
    pub sha256: Option<String>,
    /// Local images: the content hash of its thumbnail.
    pub thumb_sha256: Option<String>,
    /// Cloudinary: `{publicId, version, resourceType, format}` as JSON.
    pub remote: Option<String>,
    /// When it was uploaded.
    pub created_at: Millis,
    /// When it was first sent in a message; `None`: an orphan so far.
    pub attached_at: Option<Millis>,
}
