//! Cloudinary: signed direct uploads (the browser sends the file straight
//! to Cloudinary with parameters Confab signed), verification of the upload
//! result Cloudinary signed back, delivery URLs, and destroying assets.
//!
//! Signatures are Cloudinary's documented scheme: the parameters sorted by
//! name, `k=v` joined with `&`, the API secret appended, SHA-1, hex.
//!
//! Owns: talking to Cloudinary and the JSON kept of its assets. May not
//! touch: storage — the media service records what this returns.

use crate::config::CloudinaryConfig;
use crate::domain::{Attachment, Error, MediaItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;

/// Largest width or height reported for an upload that is taken as plausible.
const MAX_SIDE: i64 = 100_000;

/// Parameters that are never part of a signature.
const UNSIGNED: [&str; 5] = ["file", "cloud_name", "resource_type", "api_key", "signature"];

/// Cloudinary's signature over `params` (empty values are left out, as Cloudinary does).
pub fn sign(params: &BTreeMap<String, String>, secret: &str) -> String {
    let joined: Vec<String> = params
        .iter()
        .filter(|(k, v)| !v.is_empty() && !UNSIGNED.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let digest = Sha1::digest(format!("{}{secret}", joined.join("&")).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signed parameters for a direct upload (`POST /api/media/cloudinary/signature`).
#[derive(Debug, Clone, PartialEq)]
pub struct UploadSignature {
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

/// What is stored of a Cloudinary asset, as JSON in `MediaItem::remote`:
/// enough to redirect to it and to destroy it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteAsset {
    /// Cloudinary's id of the asset.
    pub public_id: String,
    /// Its version.
    pub version: i64,
    /// `image`, `video` or `raw`.
    pub resource_type: String,
    /// Its file format.
    pub format: String,
    /// Where it is delivered.
    #[serde(default)]
    pub url: Option<String>,
    /// Where its thumbnail is delivered.
    #[serde(default)]
    pub thumbnail_url: Option<String>,
}

impl RemoteAsset {
    /// The asset of a Cloudinary item (`None` for local media or an unreadable row).
    pub fn of(m: &MediaItem) -> Option<Self> {
        m.remote.as_deref().and_then(|r| serde_json::from_str(r).ok())
    }

    /// The JSON stored in `MediaItem::remote`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What the client reports of a finished upload (Cloudinary's response fields).
#[derive(Debug, Clone)]
pub struct Upload {
    /// The asset's public id.
    pub public_id: String,
    /// Its version.
    pub version: i64,
    /// Cloudinary's signature over `public_id` and `version`.
    pub signature: String,
    /// `image`, `video` or `raw`.
    pub resource_type: String,
    /// Its file format.
    pub format: String,
    /// Its size in bytes.
    pub bytes: i64,
    /// Images and videos: width in pixels.
    pub width: Option<i64>,
    /// Images and videos: height in pixels.
    pub height: Option<i64>,
    /// The uploaded file's name.
    pub original_filename: Option<String>,
}

/// Cloudinary for one account: signs uploads, verifies results, builds URLs, destroys assets.
pub struct Cloudinary {
    cloud: String,
    api_key: String,
    secret: String,
    api_url: String,
    delivery_url: String,
    folder: String,
    formats: Vec<String>,
    http: reqwest::Client,
}

impl Cloudinary {
    /// `None` unless cloud name, key and secret are all configured.
    pub fn new(c: &CloudinaryConfig) -> Option<Self> {
        Some(Self {
            cloud: c.cloud_name.clone()?,
            api_key: c.api_key.clone()?,
            secret: c.api_secret.clone()?,
            api_url: c.api_url.trim_end_matches('/').into(),
            delivery_url: c.delivery_url.trim_end_matches('/').into(),
            folder: c.folder.clone(),
            formats: c.allowed_formats.clone(),
            http: reqwest::Client::new(),
        })
    }

    /// The signed parameters a client uploads with, plus where to.
    pub fn upload_signature(&self, now_secs: i64) -> UploadSignature {
        let mut params = BTreeMap::new();
        params.insert("timestamp".to_string(), now_secs.to_string());
        params.insert("folder".to_string(), self.folder.clone());
        params.insert("allowed_formats".to_string(), self.formats.join(","));
        let signature = sign(&params, &self.secret);
        UploadSignature {
            cloud_name: self.cloud.clone(),
            api_key: self.api_key.clone(),
            upload_url: format!("{}/v1_1/{}/auto/upload", self.api_url, self.cloud),
            timestamp: now_secs,
            folder: self.folder.clone(),
            allowed_formats: params.remove("allowed_formats").unwrap_or_default(),
            signature,
        }
    }

    /// Checks Cloudinary's signature on an upload result (over `public_id`
    /// and `version`) and that it is in our folder; builds the attachment.
    pub fn verify(&self, u: &Upload, media_id: String) -> Result<Attachment, Error> {
        let mut params = BTreeMap::new();
        params.insert("public_id".to_string(), u.public_id.clone());
        params.insert("version".to_string(), u.version.to_string());
        let expected = sign(&params, &self.secret);
        let given = u.signature.to_ascii_lowercase();
        let same = expected.len() == given.len()
            && expected.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if !same {
            return Err(Error::Forbidden("the upload result's signature is not Cloudinary's"));
        }
        if !u.public_id.starts_with(&format!("{}/", self.folder)) {
            return Err(Error::Forbidden("the upload is not in this server's folder"));
        }
        let format = u.format.to_ascii_lowercase();
        if !self.formats.contains(&format) || !matches!(u.resource_type.as_str(), "image" | "video" | "raw") {
            return Err(Error::invalid("the upload's format is not allowed"));
        }
        let kind = match (u.resource_type.as_str(), format.as_str()) {
            ("image", _) => "image",
            ("video", "mp3" | "m4a" | "ogg" | "wav") => "audio",
            ("video", _) => "video",
            _ => "file",
        };
        let base = format!("{}/{}/{}/upload", self.delivery_url, self.cloud, u.resource_type);
        let asset = format!("v{}/{}.{format}", u.version, u.public_id);
        let thumbnail_url = match kind {
            "image" => Some(format!("{base}/c_limit,w_320,h_320/{asset}")),
            // Cloudinary makes a poster frame when a video is asked for as .jpg.
            "video" => Some(format!("{base}/c_limit,w_320,h_320/v{}/{}.jpg", u.version, u.public_id)),
            _ => None,
        };
        // Only `public_id` and `version` are signed: everything else in the
        // result is the client's word. Those fields are labels for display,
        // cleaned and bounded here, and never used for a decision (quotas
        // count local uploads only; the format was checked against the list).
        let name = super::clean_name(u.original_filename.as_deref().unwrap_or("file"));
        let plausible = |v: Option<i64>| v.filter(|n| (1..=MAX_SIDE).contains(n));
        Ok(Attachment {
            id: media_id,
            kind: kind.into(),
            mime: mime_of(&format).into(),
            size: u.bytes.max(0),
            name: format!("{name}.{format}"),
            width: plausible(u.width),
            height: plausible(u.height),
            url: Some(format!("{base}/{asset}")),
            thumbnail_url,
            has_thumbnail: false,
        })
    }

    /// Destroys an asset through the Upload API.
    pub async fn destroy(&self, public_id: &str, resource_type: &str, now_secs: i64) -> Result<(), Error> {
        let mut params = BTreeMap::new();
        params.insert("public_id".to_string(), public_id.to_string());
        params.insert("timestamp".to_string(), now_secs.to_string());
        let signature = sign(&params, &self.secret);
        let url = format!("{}/v1_1/{}/{resource_type}/destroy", self.api_url, self.cloud);
        let form = [
            ("public_id", public_id.to_string()),
            ("timestamp", now_secs.to_string()),
            ("api_key", self.api_key.clone()),
            ("signature", signature),
        ];
        let res = self.http.post(url).form(&form).send().await.map_err(|e| {
            tracing::warn!(error = %e, "Cloudinary destroy failed");
            Error::Unavailable("Cloudinary is unreachable")
        })?;
        let body: Value = res.json().await.unwrap_or(Value::Null);
        match body["result"].as_str() {
            Some("ok" | "not found") => Ok(()),
            _ => {
                tracing::warn!(answer = %body, "Cloudinary refused to destroy an asset");
                Err(Error::Unavailable("Cloudinary refused to destroy the asset"))
            }
        }
    }
}

fn mime_of(format: &str) -> &'static str {
    match format {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in Cloudinary's "Generating authentication signatures" documentation.
    #[test]
    fn signature_matches_the_documented_example() {
        let params: BTreeMap<String, String> = [
            ("public_id", "sample_image"),
            ("timestamp", "1315060510"),
            ("eager", "w_400,h_300,c_pad|w_260,h_200,c_crop"),
            ("api_key", "1234"),
            ("file", "sample.jpg"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(sign(&params, "abcd"), "bfd09f95f331f558cbd1320e67aa8d488770583e");
    }
}
