//! Files on local disk, content-addressed: `DIR/ab/cdef…` where the name
//! is the SHA-256 of the bytes. An upload is streamed to a temporary file
//! while it is hashed and measured, then renamed into place; the same
//! bytes uploaded twice are one file.
//!
//! Owns: the files under the media directory and thumbnails. May not touch:
//! the database — the media service records what this stores.

use super::sniff::{Kind, SNIFF_BYTES, sniff};
use crate::domain::Error;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// A stored upload.
pub struct Stored {
    pub sha256: String,
    pub size: i64,
    pub kind: Kind,
    pub mime: String,
    pub path: PathBuf,
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

    /// Streams `body` to disk. `limit` says, per sniffed kind, how big it
    /// may be; past it the upload stops with `TooLarge` and nothing stays.
    pub async fn store<S, E>(&self, mut body: S, limit: impl Fn(Kind) -> u64) -> Result<Stored, Error>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let tmp = self.root.join("tmp").join(format!("{:016x}.part", rand::random::<u64>()));
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
        let path = self.place(tmp, &sha256).await?;
        Ok(Stored { sha256, size: size as i64, kind, mime, path })
    }

    /// Moves a finished temporary file to its content address.
    async fn place(&self, tmp: &Path, sha256: &str) -> Result<PathBuf, Error> {
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

    /// Stores bytes made by the server (thumbnails).
    pub async fn store_bytes(&self, bytes: Vec<u8>) -> Result<String, Error> {
        let sha256 = hex(&Sha256::digest(&bytes));
        let tmp = self.root.join("tmp").join(format!("{:016x}.part", rand::random::<u64>()));
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        self.place(&tmp, &sha256).await?;
        Ok(sha256)
    }

    pub async fn remove(&self, sha256: &str) {
        let _ = tokio::fs::remove_file(self.path(sha256)).await;
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

/// Dimensions and a JPEG thumbnail (longest side `px`) of an image file.
/// Decoding is bounded (dimensions and memory), so a decompression bomb is
/// refused, not decoded.
pub fn thumbnail(path: &Path, px: u32) -> Option<(u32, u32, Vec<u8>)> {
    let mut reader = image::ImageReader::open(path).ok()?.with_guessed_format().ok()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().ok()?;
    let (w, h) = (img.width(), img.height());
    let thumb = img.thumbnail(px, px).to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    thumb.write_to(&mut out, image::ImageFormat::Jpeg).ok()?;
    Some((w, h, out.into_inner()))
}
