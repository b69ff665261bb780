//! `[media]`: upload sizes, thumbnails, quotas and signed links
//! (`[media.cloudinary]` is in `cloudinary_config`). The media service
//! receives this section (and the directory resolved from it), never the
//! whole configuration.
//!
//! Owns: this section, its defaults and checks. May not touch: anything
//! outside `config`.

use super::{CloudinaryConfig, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Media attachments (see `docs/MEDIA.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Where uploaded files live. Unset: `DATA_DIR/media`.
    pub dir: Option<PathBuf>,
    /// Largest image upload, in bytes (the kind is sniffed from the bytes).
    pub max_image_bytes: u64,
    /// Largest video upload, in bytes.
    pub max_video_bytes: u64,
    /// Largest audio upload, in bytes.
    pub max_audio_bytes: u64,
    /// Largest upload of any other kind, in bytes.
    pub max_file_bytes: u64,
    /// Longest side of generated image thumbnails, in pixels.
    pub thumbnail_px: u32,
    /// Uploads never sent in a message are deleted after this many hours.
    pub orphan_hours: u64,
    /// How long a signed media link stays valid, in seconds.
    pub link_ttl_secs: u64,
    /// Most attachments on one message.
    pub max_attachments: usize,
    /// Bytes of local uploads one user may keep (the same content twice
    /// counts once); 0: unlimited.
    pub quota_bytes_per_user: u64,
    /// Uploads one user may start per minute on one node (a burst of as
    /// many is allowed); 0: unlimited.
    pub uploads_per_minute: u32,
    /// Direct uploads to Cloudinary.
    pub cloudinary: CloudinaryConfig,
    /// Largest image, in pixels (width × height), that is decoded for a
    /// thumbnail; a bigger one is refused from its header, before decoding.
    pub max_image_pixels: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        const MIB: u64 = 1024 * 1024;
        Self {
            dir: None,
            max_image_bytes: 20 * MIB,
            max_video_bytes: 200 * MIB,
            max_audio_bytes: 50 * MIB,
            max_file_bytes: 100 * MIB,
            thumbnail_px: 320,
            orphan_hours: 24,
            link_ttl_secs: 3600,
            max_attachments: 10,
            quota_bytes_per_user: 1024 * MIB,
            uploads_per_minute: 30,
            cloudinary: CloudinaryConfig::default(),
            max_image_pixels: 50_000_000,
        }
    }
}

impl MediaConfig {
    /// `allow_http`: `push.allow_http_endpoints`, which also admits http:// provider URLs.
    pub(super) fn validate(&self, allow_http: bool) -> Result<(), ConfigError> {
        super::positive(&[
            ("media.thumbnail_px", u64::from(self.thumbnail_px)),
            ("media.link_ttl_secs", self.link_ttl_secs),
            ("media.max_attachments", self.max_attachments as u64),
            ("media.max_image_pixels", self.max_image_pixels),
        ])?;
        self.cloudinary.validate(allow_http)
    }
}
