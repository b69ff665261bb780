//! The media service: uploads, who may fetch them, and attachments on
//! messages.
//!
//! Local storage is the default: uploads stream to disk
//! (`local::LocalFiles`), their type is sniffed from the bytes
//! ([`sniff`]), images get a thumbnail. A media item is visible to its
//! uploader and to the members of every conversation it was sent in.
//! With Cloudinary configured, clients may instead upload straight to
//! Cloudinary with parameters this server signs ([`cloudinary`]), and send
//! the signed upload result as the attachment.
//!
//! Local uploads are limited per user: in rate (`media.uploads_per_minute`,
//! per node, checked by [`Media::admit_upload`] before the body is read) and
//! in the bytes kept (`media.quota_bytes_per_user`, checked before and after
//! the file is stored).
//!
//! Owns: the media rules (limits, quotas, visibility, orphans, signed links).
//! May not touch: HTTP — `http::media` streams the bytes — or SQL.

pub mod cloudinary;
mod local;
pub mod sniff;
mod upload;

use crate::config::MediaConfig;
use crate::domain::{Attachment, Error, MediaItem, Millis, UserId, now_millis};
use crate::store::Store;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sniff::Kind;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// An attachment as a client sends it with `send_message`.
#[derive(Debug, Clone)]
pub enum AttachmentRequest {
    /// A media item uploaded to `POST /api/media`.
    Uploaded(String),
    /// A direct upload to Cloudinary, as Cloudinary answered it.
    Cloudinary(cloudinary::Upload),
}

/// A file to serve: where it is and how to label it.
pub struct Download {
    /// The file on disk.
    pub path: PathBuf,
    /// The content type to serve it with.
    pub mime: String,
    /// The file name to offer.
    pub name: String,
    /// Whether browsers may show it inline (else it is a download).
    pub inline: bool,
}

/// See the module docs.
pub struct Media {
    store: Arc<dyn Store>,
    files: local::LocalFiles,
    settings: MediaConfig,
    cloudinary: Option<cloudinary::Cloudinary>,
    /// Signs media links; its key is shared by every node through the database.
    link_mac: Hmac<Sha256>,
    /// Uploads per user and minute; `None`: unlimited.
    upload_rate: Option<governor::DefaultKeyedRateLimiter<UserId>>,
    /// Thumbnails decoded at once (one per core): each may hold up to
    /// `media.max_image_pixels` × 4 bytes while it runs.
    thumbnails: Arc<tokio::sync::Semaphore>,
}

impl Media {
    /// The service over `settings`, keeping local uploads under `dir`.
    pub async fn new(settings: &MediaConfig, dir: PathBuf, store: Arc<dyn Store>) -> Result<Self, Error> {
        let settings = settings.clone();
        let files = local::LocalFiles::new(dir.clone()).map_err(|e| {
            tracing::error!(dir = %dir.display(), error = %e, "cannot create the media directory");
            Error::Internal
        })?;
        let candidate = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let key = store.secret("media_links", &candidate).await?;
        let cloudinary = cloudinary::Cloudinary::new(&settings.cloudinary);
        let link_mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).map_err(|_| Error::Internal)?;
        let upload_rate = std::num::NonZeroU32::new(settings.uploads_per_minute)
            .map(|n| governor::RateLimiter::keyed(governor::Quota::per_minute(n)));
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let thumbnails = Arc::new(tokio::sync::Semaphore::new(cores));
        Ok(Self { store, files, settings, cloudinary, link_mac, upload_rate, thumbnails })
    }

    /// Counts an upload `user` is starting against their rate; `Err` says
    /// how long until one more is allowed.
    pub fn admit_upload(&self, user: UserId) -> Result<(), Duration> {
        use governor::clock::Clock;
        let Some(limiter) = &self.upload_rate else { return Ok(()) };
        if limiter.len() > 100_000 {
            limiter.retain_recent(); // forget users whose allowance is full again
        }
        limiter.check_key(&user).map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// Bytes of local uploads `owner` keeps, if a quota applies.
    async fn quota_use(&self, owner: UserId) -> Result<Option<u64>, Error> {
        if self.settings.quota_bytes_per_user == 0 {
            return Ok(None);
        }
        Ok(Some(u64::try_from(self.store.media_bytes_of(owner).await?).unwrap_or(0)))
    }

    fn over_quota(&self) -> Error {
        Error::QuotaExceeded(format!(
            "this upload would pass your media quota of {} bytes (media.quota_bytes_per_user); delete some first",
            self.settings.quota_bytes_per_user
        ))
    }

    fn limit(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Image => self.settings.max_image_bytes,
            Kind::Video => self.settings.max_video_bytes,
            Kind::Audio => self.settings.max_audio_bytes,
            Kind::File => self.settings.max_file_bytes,
        }
    }

    /// The item if `user` may see it; "not found" otherwise, so ids cannot be probed.
    pub async fn visible(&self, user: UserId, id: &str) -> Result<MediaItem, Error> {
        match self.store.media(id).await? {
            Some(m) if self.store.media_visible_to(id, user).await? => Ok(m),
            _ => Err(Error::NotFound("media")),
        }
    }

    /// The item for a signed link, if the signature is right and fresh.
    pub async fn by_link(&self, id: &str, exp: i64, sig: &str) -> Result<MediaItem, Error> {
        let valid = exp > now_millis() / 1000 && self.link_mac(id, exp).verify_slice(&decode(sig)).is_ok();
        match self.store.media(id).await? {
            Some(m) if valid => Ok(m),
            _ => Err(Error::NotFound("media")),
        }
    }

    fn link_mac(&self, id: &str, exp: i64) -> Hmac<Sha256> {
        let mut mac = self.link_mac.clone();
        mac.update(format!("{id}\n{exp}").as_bytes());
        mac
    }

    /// Short-lived URLs (no `Authorization` needed) for `<img>` and `<video>`.
    pub fn signed_links(&self, m: &MediaItem) -> (String, Option<String>, Millis) {
        let exp = now_millis() / 1000 + self.settings.link_ttl_secs as i64;
        let sig = URL_SAFE_NO_PAD.encode(self.link_mac(&m.id, exp).finalize().into_bytes());
        let url = format!("/api/media/{}?exp={exp}&sig={sig}", m.id);
        let thumb =
            m.thumb_sha256.as_ref().map(|_| format!("/api/media/{}/thumbnail?exp={exp}&sig={sig}", m.id));
        (url, thumb, exp * 1000)
    }

    /// The file behind an item (or its thumbnail).
    pub fn download(&self, m: &MediaItem, thumbnail: bool) -> Result<Download, Error> {
        let sha = if thumbnail { &m.thumb_sha256 } else { &m.sha256 };
        let Some(sha) = sha else { return Err(Error::NotFound("media")) };
        Ok(Download {
            path: self.files.path(sha),
            mime: if thumbnail { "image/jpeg".into() } else { m.mime.clone() },
            name: m.name.clone(),
            inline: thumbnail || sniff::inline(&m.kind, &m.mime),
        })
    }

    /// Resolves what a sender attaches: their own uploads, or Cloudinary
    /// uploads whose signature checks out (registered as media here).
    pub async fn attachments(
        &self,
        sender: UserId,
        requests: &[AttachmentRequest],
    ) -> Result<Vec<Attachment>, Error> {
        if requests.len() > self.settings.max_attachments {
            return Err(Error::invalid(format!(
                "at most {} attachments per message",
                self.settings.max_attachments
            )));
        }
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            out.push(match r {
                AttachmentRequest::Uploaded(id) => {
                    let m = match self.store.media(id).await? {
                        Some(m) if m.owner_id == sender => m,
                        _ => {
                            return Err(Error::invalid(format!(
                                "attachment {id} is not one of your uploads"
                            )));
                        }
                    };
                    attachment_of(&m)
                }
                AttachmentRequest::Cloudinary(upload) => self.register_cloudinary(sender, upload).await?,
            });
        }
        Ok(out)
    }

    async fn register_cloudinary(&self, sender: UserId, u: &cloudinary::Upload) -> Result<Attachment, Error> {
        let Some(c) = &self.cloudinary else {
            return Err(Error::invalid("Cloudinary is not configured on this server"));
        };
        let a = c.verify(u, URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()))?;
        let remote = cloudinary::RemoteAsset {
            public_id: u.public_id.clone(),
            version: u.version,
            resource_type: u.resource_type.clone(),
            format: u.format.clone(),
            url: a.url.clone(),
            thumbnail_url: a.thumbnail_url.clone(),
        };
        self.store
            .insert_media(&MediaItem {
                id: a.id.clone(),
                owner_id: sender,
                backend: "cloudinary".into(),
                kind: a.kind.clone(),
                mime: a.mime.clone(),
                size: a.size,
                name: a.name.clone(),
                width: a.width,
                height: a.height,
                sha256: None,
                thumb_sha256: None,
                remote: Some(remote.to_json()),
                created_at: now_millis(),
                attached_at: None,
            })
            .await?;
        Ok(a)
    }

    /// Signed parameters for a direct upload to Cloudinary.
    pub fn cloudinary_signature(&self) -> Result<cloudinary::UploadSignature, Error> {
        match &self.cloudinary {
            Some(c) => Ok(c.upload_signature(now_millis() / 1000)),
            None => Err(Error::NotFound("Cloudinary configuration")),
        }
    }

    /// The uploader deletes an item: the row, its file once no other item
    /// uses it, and its Cloudinary asset. Messages that carried it keep
    /// their text; fetching the attachment then answers 404.
    pub async fn delete(&self, user: UserId, id: &str) -> Result<(), Error> {
        match self.store.media(id).await? {
            Some(m) if m.owner_id == user => self.remove(&m, true).await,
            _ => Err(Error::NotFound("media")),
        }
    }

    /// `destroy_remote`: also destroy a Cloudinary asset. Orphans never
    /// destroy theirs: an unattached Cloudinary row is a client's retry of
    /// an upload a sent message may still use.
    async fn remove(&self, m: &MediaItem, destroy_remote: bool) -> Result<(), Error> {
        if let (Some(c), Some(r), true) = (&self.cloudinary, cloudinary::RemoteAsset::of(m), destroy_remote) {
            c.destroy(&r.public_id, &r.resource_type, now_millis() / 1000).await?;
        }
        self.store.delete_media(&m.id).await?;
        for sha in [&m.sha256, &m.thumb_sha256].into_iter().flatten() {
            if self.store.files_in_use(sha).await? == 0 {
                // Counted again once the file is aside: an identical upload may be committing now.
                self.files.retire(sha, || async { Ok(self.store.files_in_use(sha).await?) }).await;
            }
        }
        Ok(())
    }

    /// Deletes uploads never sent within `media.orphan_hours`.
    pub async fn sweep_orphans(&self) -> Result<usize, Error> {
        let before = now_millis() - (self.settings.orphan_hours as Millis) * 3_600_000;
        let orphans = self.store.unattached_media(before, 500).await?;
        for m in &orphans {
            self.remove(m, false).await?;
        }
        if !orphans.is_empty() {
            tracing::info!(count = orphans.len(), "deleted uploads that were never sent");
        }
        Ok(orphans.len())
    }

    /// Runs [`Media::sweep_orphans`] every `every` until the handle is aborted.
    pub fn spawn_sweeper(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let media = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = media.sweep_orphans().await {
                    tracing::warn!(error = %e, "orphan sweep failed");
                }
            }
        })
    }
}

fn decode(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap_or_default()
}

/// How a message carries a local upload.
pub fn attachment_of(m: &MediaItem) -> Attachment {
    Attachment {
        id: m.id.clone(),
        kind: m.kind.clone(),
        mime: m.mime.clone(),
        size: m.size,
        name: m.name.clone(),
        width: m.width,
        height: m.height,
        url: None,
        thumbnail_url: None,
        has_thumbnail: m.thumb_sha256.is_some(),
    }
}

/// A file name safe to store and echo: no path, no control characters, no
/// bidirectional formatting (which can make `exe.png` display as
/// `png.exe`), at most 200 characters.
pub(crate) fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String =
        base.chars().filter(|&c| !c.is_control() && !is_bidi_control(c)).take(200).collect();
    if cleaned.trim().is_empty() { "file".into() } else { cleaned }
}

/// Unicode's bidirectional formatting characters (UAX #9): marks,
/// embeddings, overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The label a push shows for a message with no text.
pub fn preview_label(a: &[Attachment]) -> Option<&'static str> {
    a.first().map(|a| match a.kind.as_str() {
        "image" => "📷 Photo",
        "video" => "🎥 Video",
        "audio" => "🎵 Audio",
        _ => "📎 File",
    })
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn names_are_labels_not_paths() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\x\\photo.png"), "photo.png");
        assert_eq!(clean_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_name("invoice\u{202E}gnp.exe"), "invoicegnp.exe");
        assert_eq!(clean_name("\u{2066}\u{200F}"), "file");
        assert_eq!(clean_name(""), "file");
    }
}
