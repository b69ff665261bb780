//! `[media.cloudinary]`: direct uploads to Cloudinary, signed by this
//! server.
//!
//! Owns: this section, its defaults and checks. May not touch: anything
//! outside `config`.

use super::ConfigError;
use serde::{Deserialize, Serialize};

/// Cloudinary direct uploads; on when `cloud_name`, `api_key` and `api_secret` are set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudinaryConfig {
    /// The Cloudinary account ("cloud") name.
    pub cloud_name: Option<String>,
    /// The API key (Cloudinary's are digits: read as text, never as a number).
    pub api_key: Option<String>,
    /// The API secret that signs uploads.
    pub api_secret: Option<String>,
    /// Upload/Admin API base URL.
    pub api_url: String,
    /// Delivery (CDN) base URL.
    pub delivery_url: String,
    /// Folder every signed upload goes to.
    pub folder: String,
    /// File formats a signed upload may have.
    pub allowed_formats: Vec<String>,
}

impl Default for CloudinaryConfig {
    fn default() -> Self {
        let formats = [
            "jpg", "jpeg", "png", "gif", "webp", "heic", "mp4", "mov", "webm", "mp3", "m4a", "ogg", "wav",
            "pdf",
        ];
        Self {
            cloud_name: None,
            api_key: None,
            api_secret: None,
            api_url: "https://api.cloudinary.com".into(),
            delivery_url: "https://res.cloudinary.com".into(),
            folder: "confab".into(),
            allowed_formats: formats.map(String::from).to_vec(),
        }
    }
}

impl CloudinaryConfig {
    /// `allow_http`: `push.allow_http_endpoints`, which also admits http:// provider URLs.
    pub(super) fn validate(&self, allow_http: bool) -> Result<(), ConfigError> {
        super::provider_url("media.cloudinary.api_url", &self.api_url, allow_http)?;
        super::provider_url("media.cloudinary.delivery_url", &self.delivery_url, allow_http)?;
        let set = [&self.cloud_name, &self.api_key, &self.api_secret].iter().filter(|v| v.is_some()).count();
        if set != 0 && set != 3 {
            return Err(ConfigError::new(
                "`media.cloudinary` needs all of cloud_name, api_key and api_secret (or none)",
            ));
        }
        Ok(())
    }
}
