//! Gives a Socket.IO request a head of its own before engineioxide keeps it.
//!
//! engineioxide keeps the handshake request's head (`req_parts`) for the
//! socket's whole life. hyper parses a request's URI and header values as
//! slices of its connection read buffer (8–16 KiB), so keeping the head kept
//! that whole buffer: 16 KB of heap per idle socket. Copying the few hundred
//! bytes of head (and axum's `OriginalUri`, the URI as it came) lets the
//! buffer go: RSS per idle socket went from 29.2 to 21.8 KB (BENCHMARKS.md).
//!
//! Owns: that copy. May not touch: what the head says (the same method, URI,
//! headers and extensions go on).

use axum::extract::{OriginalUri, Request};
use http::Uri;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The path socketioxide serves (its default, which Confab keeps).
const SOCKET_IO_PATH: &str = "/socket.io";

/// `req` with its URI and headers copied out of hyper's read buffer, if it
/// is a Socket.IO request; any other request is passed on as it is.
pub async fn own_request_head(mut req: Request) -> Request {
    if req.uri().path().starts_with(SOCKET_IO_PATH) {
        if let Some(uri) = owned_uri(req.uri()) {
            // axum's router has kept a copy of the URI as it came, too.
            if let Some(original) = req.extensions_mut().get_mut::<OriginalUri>() {
                original.0 = uri.clone();
            }
            *req.uri_mut() = uri;
        }
        let headers = owned_headers(req.headers());
        *req.headers_mut() = headers;
    }
    req
}

/// A URI parsed from its own copy of the text (`None` cannot happen for a
/// URI that parsed once; the original is kept then).
fn owned_uri(uri: &Uri) -> Option<Uri> {
    uri.to_string().parse().ok()
}

/// The same headers, in the same order, each name and value in new memory.
fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    let mut owned = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone());
        let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        owned.append(name, copy);
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// The copy holds none of the original buffer, and says the same.
    #[tokio::test]
    async fn the_head_no_longer_shares_the_buffer_it_was_parsed_from() {
        let buffer = Bytes::from_static(b"/socket.io/?EIO=4&transport=websocket|Bearer abc|x");
        let uri = Uri::from_maybe_shared(buffer.slice(0..37)).unwrap();
        let mut req = Request::new(axum::body::Body::empty());
        *req.uri_mut() = uri.clone();
        req.extensions_mut().insert(OriginalUri(uri.clone()));
        let auth = HeaderValue::from_maybe_shared(buffer.slice(38..48)).unwrap();
        req.headers_mut().append(http::header::AUTHORIZATION, auth);
        req.headers_mut().append("x-custom", HeaderValue::from_static("1"));
        req.headers_mut().append("x-custom", HeaderValue::from_static("2"));
        let range = buffer.as_ptr_range();

        let req = own_request_head(req).await;

        assert_eq!(req.uri(), &uri);
        assert!(!range.contains(&req.uri().path().as_ptr()));
        let original = req.extensions().get::<OriginalUri>().map(|o| o.0.clone()).unwrap();
        assert_eq!(original, uri);
        assert!(!range.contains(&original.path().as_ptr()));
        let value = &req.headers()[http::header::AUTHORIZATION];
        assert_eq!(value, "Bearer abc");
        assert!(!range.contains(&value.as_bytes().as_ptr()));
        let repeated: Vec<_> = req.headers().get_all("x-custom").iter().collect();
        assert_eq!(repeated, ["1", "2"]);
    }

    #[tokio::test]
    async fn other_requests_are_left_alone() {
        let buffer = Bytes::from_static(b"/api/users");
        let mut req = Request::new(axum::body::Body::empty());
        *req.uri_mut() = Uri::from_maybe_shared(buffer.clone()).unwrap();
        let req = own_request_head(req).await;
        assert!(buffer.as_ptr_range().contains(&req.uri().path().as_ptr()));
    }
}
