//! Local uploads: streamed to a temporary file, checked, thumbnailed, and
//! put in place only once their row is committed (see [`super::local`] for
//! why that order keeps shared files safe from a concurrent delete).
//!
//! Images are measured from their header before anything is decoded: one
//! above `media.max_image_pixels` is refused (a small PNG can decode to
//! gigabytes), and at most one thumbnail per core is decoded at once.

use super::local::{self, Stored};
use super::sniff::Kind;
use super::{Media, clean_name};
use crate::domain::MediaItem;
use crate::domain::{Error, UserId, now_millis};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::Stream;
use std::path::PathBuf;

/// A thumbnail made for an upload, not yet in place.
struct Thumb {
    width: u32,
    height: u32,
    sha256: String,
    tmp: PathBuf,
}

impl Media {
    /// Stores an upload from `owner`. The name is only a label; the type
    /// comes from the bytes.
    pub async fn upload<S, E>(&self, owner: UserId, name: &str, body: S) -> Result<MediaItem, Error>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        // Full already: refuse before reading the body.
        if self.quota_use(owner).await?.is_some_and(|used| used >= self.settings.quota_bytes_per_user) {
            return Err(self.over_quota());
        }
        let stored = self.files.store(body, |k| self.limit(k)).await?;
        let thumb = match self.thumbnail_of(&stored).await {
            Ok(thumb) => thumb,
            Err(e) => {
                self.files.discard(&stored.tmp).await;
                return Err(e);
            }
        };
        let row = MediaItem {
            id: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
            owner_id: owner,
            backend: "local".into(),
            kind: stored.kind.as_str().into(),
            mime: stored.mime.clone(),
            size: stored.size,
            name: clean_name(name),
            width: thumb.as_ref().map(|t| i64::from(t.width)),
            height: thumb.as_ref().map(|t| i64::from(t.height)),
            sha256: Some(stored.sha256.clone()),
            thumb_sha256: thumb.as_ref().map(|t| t.sha256.clone()),
            remote: None,
            created_at: now_millis(),
            attached_at: None,
        };
        // The row first, then the files: a concurrent delete of the same
        // content then either sees this row or leaves our copy in place.
        let mut files = vec![(&stored.tmp, &stored.sha256)];
        if let Some(t) = &thumb {
            files.push((&t.tmp, &t.sha256));
        }
        if let Err(e) = self.store.insert_media(&row).await {
            for (tmp, _) in files {
                self.files.discard(tmp).await;
            }
            return Err(e.into());
        }
        let mut placed = Ok(());
        for (tmp, sha) in files {
            if placed.is_ok() {
                placed = self.files.place(tmp, sha).await.map(drop);
            } else {
                self.files.discard(tmp).await;
            }
        }
        if let Err(e) = placed {
            // The row must not outlive a file that never arrived.
            let _ = self.remove(&row, false).await;
            return Err(e);
        }
        // Counted with the new item, so content the owner already has adds
        // nothing, and concurrent uploads cannot pass the quota together.
        if self.quota_use(owner).await?.is_some_and(|used| used > self.settings.quota_bytes_per_user) {
            self.remove(&row, false).await?;
            return Err(self.over_quota());
        }
        Ok(row)
    }

    /// The thumbnail of an image upload: `TooLarge` above the pixel limit
    /// (read from the header), `None` if it is not an image or cannot be decoded.
    async fn thumbnail_of(&self, stored: &Stored) -> Result<Option<Thumb>, Error> {
        if stored.kind != Kind::Image {
            return Ok(None);
        }
        let max = self.settings.max_image_pixels;
        let path = stored.tmp.clone();
        let Ok(Some((w, h))) = tokio::task::spawn_blocking(move || local::dimensions(&path)).await else {
            return Ok(None);
        };
        if u64::from(w) * u64::from(h) > max {
            return Err(Error::TooLarge(format!(
                "the image is {w}×{h} pixels; at most {max} pixels are accepted (media.max_image_pixels)"
            )));
        }
        // Held by the decoding thread itself, so a dropped request cannot free its place early.
        let permit = self.thumbnails.clone().acquire_owned().await.map_err(|_| Error::Internal)?;
        let (path, px) = (stored.tmp.clone(), self.settings.thumbnail_px);
        let made = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            local::thumbnail(&path, px, max)
        })
        .await;
        let Ok(Some((width, height, jpeg))) = made else { return Ok(None) };
        let (sha256, tmp) = self.files.store_bytes(jpeg).await?;
        Ok(Some(Thumb { width, height, sha256, tmp }))
    }
}
