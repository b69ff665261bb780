//! `/api/media`: uploads (multipart or raw body, streamed to disk), downloads
//! with range support for members (or with a signed link), signed links,
//! deletion, and Cloudinary upload signatures. Rules live in `media`.
//!
//! Owns: these routes, range downloads and the headers files are served with.
//! May not touch: who may see an item — `media` decides.

use super::ApiError;
use super::extract::Auth;
use crate::domain::{Error, MediaItem};
use crate::media::attachment_of;
use crate::media::cloudinary::RemoteAsset;
use crate::state::AppState;
use crate::wire::replies::{LinksReply, MediaReply};
use crate::wire::{AttachmentView, MediaView, UploadSignatureView, timestamp};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tower::ServiceExt;

pub fn routes() -> Router<AppState> {
    Router::new()
        // Uploads enforce their own (per-kind) limits while streaming.
        .route("/media", post(upload).layer(DefaultBodyLimit::disable()))
        .route("/media/cloudinary/signature", post(cloudinary_signature))
        .route("/media/{id}", get(download).delete(remove))
        .route("/media/{id}/thumbnail", get(thumbnail))
        .route("/media/{id}/link", get(link))
}

fn media_json(m: &MediaItem) -> MediaReply {
    MediaReply { media: MediaView::new(m, &attachment_of(m)) }
}

#[derive(Deserialize)]
struct UploadQuery {
    name: Option<String>,
}

/// `multipart/form-data` with a `file` field, or the raw bytes as the body
/// (`?name=` gives the file name).
async fn upload(
    State(app): State<AppState>,
    Auth(s): Auth,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    if let Err(wait) = app.media.admit_upload(s.user_id) {
        app.metrics.rate_limited(crate::telemetry::Limit::Uploads);
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let retry_after = [(header::RETRY_AFTER, secs.max(1).to_string())];
        return Ok((retry_after, ApiError(Error::RateLimited)).into_response());
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let row = if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(req, &app)
            .await
            .map_err(|e| Error::invalid(format!("bad multipart body: {e}")))?;
        loop {
            let field =
                form.next_field().await.map_err(|e| Error::invalid(format!("bad multipart body: {e}")))?;
            let Some(field) = field else {
                return Err(Error::invalid("multipart body has no `file` field").into());
            };
            if field.name() == Some("file") {
                let name = field.file_name().or(q.name.as_deref()).unwrap_or("file").to_string();
                break app.media.upload(s.user_id, &name, Box::pin(field)).await?;
            }
        }
    } else if content_type.is_empty() {
        return Err(Error::invalid(
            "give the file as multipart/form-data or as the body with its Content-Type",
        )
        .into());
    } else {
        let name = q.name.unwrap_or_else(|| "file".into());
        app.media.upload(s.user_id, &name, Box::pin(req.into_body().into_data_stream())).await?
    };
    app.metrics.uploaded(u64::try_from(row.size).unwrap_or(0));
    Ok((StatusCode::CREATED, Json(media_json(&row))).into_response())
}

#[derive(Deserialize)]
struct LinkQuery {
    exp: Option<i64>,
    sig: Option<String>,
}

/// The item, for a member (`Authorization`) or a valid signed link.
async fn authorized(
    app: &AppState,
    headers: HeaderMap,
    id: &str,
    q: &LinkQuery,
) -> Result<MediaItem, ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        let mut parts = Request::new(()).into_parts().0;
        parts.headers = headers;
        let Auth(s) =
            <Auth as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, app).await?;
        return Ok(app.media.visible(s.user_id, id).await?);
    }
    match (q.exp, &q.sig) {
        (Some(exp), Some(sig)) => Ok(app.media.by_link(id, exp, sig).await?),
        _ => Err(Error::Unauthorized("send `Authorization: Bearer <token>` or use a signed link").into()),
    }
}

async fn download(
    app: State<AppState>,
    id: Path<String>,
    q: Query<LinkQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    file(app, id, q, req, false).await
}

async fn thumbnail(
    app: State<AppState>,
    id: Path<String>,
    q: Query<LinkQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    file(app, id, q, req, true).await
}

async fn file(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
    req: Request,
    thumbnail: bool,
) -> Result<Response, ApiError> {
    let m = authorized(&app, req.headers().clone(), &id, &q).await?;
    serve(&app, &m, thumbnail, req).await
}

/// The file with range support, labelled by what Confab sniffed, never by
/// what the uploader claimed; anything not safe to show is a download.
async fn serve(app: &AppState, m: &MediaItem, thumbnail: bool, req: Request) -> Result<Response, ApiError> {
    if m.backend == "cloudinary" {
        let a = AttachmentView::new(&attachment_of_remote(m));
        let target = if thumbnail { a.thumbnail_url.unwrap_or(a.url) } else { a.url };
        return Ok((StatusCode::FOUND, [(header::LOCATION, target)]).into_response());
    }
    let file = app.media.download(m, thumbnail)?;
    let served = tower_http::services::ServeFile::new(&file.path).oneshot(req).await;
    let Ok(served) = served;
    if served.status() == StatusCode::NOT_FOUND {
        return Err(Error::NotFound("media").into());
    }
    let mut res = served.map(Body::new);
    let h = res.headers_mut();
    let disposition = if file.inline { "inline" } else { "attachment" };
    let ascii: String = file
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' })
        .collect();
    let encoded: String = file
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    for (name, value) in [
        (header::CONTENT_TYPE, file.mime.clone()),
        (
            header::CONTENT_DISPOSITION,
            format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox".into()),
        (header::CACHE_CONTROL, "private, max-age=3600".into()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    Ok(res)
}

/// A Cloudinary item's attachment, from the row (for redirects).
fn attachment_of_remote(m: &MediaItem) -> crate::domain::Attachment {
    let mut a = attachment_of(m);
    let remote = RemoteAsset::of(m);
    a.url = remote.as_ref().and_then(|r| r.url.clone());
    a.thumbnail_url = remote.and_then(|r| r.thumbnail_url);
    a
}

async fn link(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<String>,
) -> Result<Json<LinksReply>, ApiError> {
    let m = app.media.visible(s.user_id, &id).await?;
    let (url, thumbnail_url, expires) = app.media.signed_links(&m);
    Ok(Json(LinksReply { url, thumbnail_url, expires_at: timestamp(expires) }))
}

async fn remove(
    State(app): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.media.delete(s.user_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn cloudinary_signature(
    State(app): State<AppState>,
    Auth(_): Auth,
) -> Result<Json<UploadSignatureView>, ApiError> {
    Ok(Json(app.media.cloudinary_signature()?.into()))
}
