//! Files on local disk, content-addressed: `DIR/ab/cdef…` where the name
//! is the SHA-256 of the bytes. An upload is streamed to a temporary file
//! while it is hashed and measured ([`LocalFiles::store`]), and renamed into
//! place ([`LocalFiles::place`]) only once the media row that references it
//! is committed; the same bytes uploaded twice are one file.
//!
//! Several rows may share a file, so removing one is a race with a
//! concurrent upload of the same bytes: that upload may find the file, keep
//! it, and insert its row just after the remover counted none. So the remover
//! moves the file aside, counts the references again, and puts it back if
//! one appeared ([`LocalFiles::retire`]). With the uploader's order (row
//! first, then file), every interleaving keeps a referenced file: if the
//! second count misses the new row, the uploader places its own copy after
//! the file was moved aside. This holds across nodes sharing the directory
//! (it relies only on atomic renames and the database), unlike a lock.
//!
//! Owns: the files under the media directory and thumbnails. May not touch:
//! the database — the media service records what this stores.

use super::sniff::{Kind, SNIFF_BYTES, sniff};
use crate::domain::Error;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// An upload written to a temporary file, not yet in place.
pub struct Stored {
    pub sha256: String,
    pub size: i64,
    pub kind: Kind,
    pub mime: String,
    /// The temporary file; [`LocalFiles::place`] or [`LocalFiles::discard`] it.
    pub tmp: PathBuf,
}

pub struct LocalFiles {
    root: PathBuf,
}

impl LocalFiles {
    pub fn new(root: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Self { root })
    }

    /// Where the file with this hash lives.
    pub fn path(&self, sha256: &str) -> PathBuf {
        let (dir, _) = sha256.split_at(2.min(sha256.len()));
        self.root.join(dir).join(sha256)
    }

    /// Streams `body` to a temporary file. `limit` says, per sniffed kind, how
    /// big it may be; past it the upload stops with `TooLarge` and nothing stays.
    pub async fn store<S, E>(&self, mut body: S, limit: impl Fn(Kind) -> u64) -> Result<Stored, Error>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let tmp = self.tmp_path("part");
        let result = self.write(&mut body, &tmp, limit).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn write<S, E>(
        &self,
        body: &mut S,
        tmp: &Path,
        limit: impl Fn(Kind) -> u64,
    ) -> Result<Stored, Error>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut file = tokio::fs::File::create(tmp).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        let mut sniffed: Option<(Kind, String)> = None;
        let mut max = u64::MAX;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::invalid(format!("upload interrupted: {e}")))?;
            size += chunk.len() as u64;
            if sniffed.is_none() {
                let take = (SNIFF_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
                if head.len() >= SNIFF_BYTES {
                    let s = sniff(&head);
                    max = limit(s.0);
                    sniffed = Some(s);
                }
            }
            if size > max {
                return Err(too_large(max));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(io)?;
        }
        let (kind, mime) = match sniffed {
            Some(s) => s,
            None => sniff(&head),
        };
        if size > limit(kind) {
            return Err(too_large(limit(kind)));
        }
        if size == 0 {
            return Err(Error::invalid("the upload is empty"));
        }
        file.sync_all().await.map_err(io)?;
        drop(file);
        let sha256 = hex(&hasher.finalize());
        Ok(Stored { sha256, size: size as i64, kind, mime, tmp: tmp.to_path_buf() })
    }

    fn tmp_path(&self, ext: &str) -> PathBuf {
        self.root.join("tmp").join(format!("{:016x}.{ext}", rand::random::<u64>()))
    }

    /// Moves a finished temporary file to its content address (call once
    /// the row referencing it is committed, see the module docs).
    pub async fn place(&self, tmp: &Path, sha256: &str) -> Result<PathBuf, Error> {
        let path = self.path(sha256);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            let _ = tokio::fs::remove_file(tmp).await;
        } else {
            tokio::fs::rename(tmp, &path).await.map_err(io)?;
        }
        Ok(path)
    }

    /// Writes bytes made by the server (thumbnails) to a temporary file:
    /// their hash and the file, to place like an upload.
    pub async fn store_bytes(&self, bytes: Vec<u8>) -> Result<(String, PathBuf), Error> {
        let sha256 = hex(&Sha256::digest(&bytes));
        let tmp = self.tmp_path("part");
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        Ok((sha256, tmp))
    }

    /// Drops a temporary file that will not be placed.
    pub async fn discard(&self, tmp: &Path) {
        let _ = tokio::fs::remove_file(tmp).await;
    }

    /// Deletes the file with this hash unless `references` (asked again
    /// after the file was moved aside) finds a row using it; then it is
    /// put back. See the module docs.
    pub async fn retire<F, Fut>(&self, sha256: &str, references: F)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<i64, Error>>,
    {
        let path = self.path(sha256);
        let aside = self.tmp_path("gone");
        if tokio::fs::rename(&path, &aside).await.is_err() {
            return; // already gone
        }
        match references().await {
            Ok(0) => {
                let _ = tokio::fs::remove_file(&aside).await;
            }
            // In use again, or unknown (database trouble): keep the file.
            _ => {
                if let Err(e) = tokio::fs::rename(&aside, &path).await {
                    tracing::error!(error = %e, "could not put back a media file still in use");
                }
            }
        }
    }
}

fn too_large(max: u64) -> Error {
    Error::TooLarge(format!("the upload is larger than {max} bytes, the limit for its kind"))
}

fn io(e: std::io::Error) -> Error {
    tracing::error!(error = %e, "media storage failed");
    Error::Internal
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An image's width and height, read from its header alone (nothing is
/// decoded); `None` if it cannot be read.
pub fn dimensions(path: &Path) -> Option<(u32, u32)> {
    image::ImageReader::open(path).ok()?.with_guessed_format().ok()?.into_dimensions().ok()
}

/// Dimensions and a JPEG thumbnail (longest side `px`) of an image file of
/// at most `max_pixels` pixels (checked from the header by the caller).
/// Decoding is bounded by the same numbers, so an image whose header lies
/// fails to decode instead of allocating more.
pub fn thumbnail(path: &Path, px: u32, max_pixels: u64) -> Option<(u32, u32, Vec<u8>)> {
    let mut reader = image::ImageReader::open(path).ok()?.with_guessed_format().ok()?;
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    // RGBA with 16 bits per channel is the largest decoded form, plus room for the thumbnail.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 * 1024 * 1024));
    reader.limits(limits);
    let img = reader.decode().ok()?;
    let (w, h) = (img.width(), img.height());
    let thumb = img.thumbnail(px, px).to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    thumb.write_to(&mut out, image::ImageFormat::Jpeg).ok()?;
    Some((w, h, out.into_inner()))
}
