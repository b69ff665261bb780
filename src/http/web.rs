//! The bundled web client (`web/`), compiled into the binary so that
//! `cargo run --release` and a browser is a working chat. Plain files, no
//! build step; `web/vendor/socket.io.min.js` is the official socket.io-client
//! browser bundle (the e2e suite checks it matches the npm package).
//!
//! Owns: serving `web/` with its security headers. May not touch: the API.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

/// (path, content type, bytes)
const FILES: [(&str, &str, &[u8]); 9] = [
    ("/", "text/html; charset=utf-8", include_bytes!("../../web/index.html")),
    ("/style.css", "text/css; charset=utf-8", include_bytes!("../../web/style.css")),
    ("/sw.js", "text/javascript; charset=utf-8", include_bytes!("../../web/sw.js")),
    ("/js/app.js", "text/javascript; charset=utf-8", include_bytes!("../../web/js/app.js")),
    ("/js/api.js", "text/javascript; charset=utf-8", include_bytes!("../../web/js/api.js")),
    ("/js/dom.js", "text/javascript; charset=utf-8", include_bytes!("../../web/js/dom.js")),
    ("/js/notify.js", "text/javascript; charset=utf-8", include_bytes!("../../web/js/notify.js")),
    ("/js/messaging.js", "text/javascript; charset=utf-8", include_bytes!("../../web/js/messaging.js")),
    (
        "/vendor/socket.io.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/vendor/socket.io.min.js"),
    ),
];

/// Only this origin's scripts and styles run; media may come from blob:
/// URLs (fetched with the token) and https (Cloudinary). The page talks to
/// its own origin only: `'self'` covers its `ws:`/`wss:` socket (CSP level 3).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data: https:; \
                   media-src 'self' blob: https:; connect-src 'self'; worker-src 'self'; object-src 'none'; \
                   base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for (path, mime, bytes) in FILES {
        router = router.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, mime),
                        (header::CONTENT_SECURITY_POLICY, CSP),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                        (header::X_FRAME_OPTIONS, "DENY"),
                        (header::REFERRER_POLICY, "no-referrer"),
                        // Always revalidate, so a new release is picked up at once.
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    bytes,
                )
                    .into_response()
            }),
        );
    }
    router
}
