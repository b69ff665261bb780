//! The issue #14 items that were deferred to the storage rewrite, each
//! driven against the real server over HTTP and Socket.IO (cluster items on
//! the real PostgreSQL and Redis): the cap on push devices per user, the
//! paged conversation list and the push badge, the isolation of one failing
//! row in a PostgreSQL group commit — and the test helper `Sio::closed`,
//! which could report a close that never happened. Race tests repeat enough
//! times to catch the race on the old code (see docs/SECURITY.md for the runs).

use crate::common::{WAIT, spawn_app};
use serde_json::json;

// ---------------------------------------------------------------------------
// The test helper: `Sio::closed` reports a real close only.

#[tokio::test]
async fn sio_closed_is_false_for_a_socket_that_stays_open() {
    let app = spawn_app().await;
    let (_, token) = app.user("ana").await;
    let open = app.socket(&token).await;
    let started = tokio::time::Instant::now();
    assert!(!open.closed().await, "closed() answered true for a socket nobody closed");
    assert!(started.elapsed() >= WAIT, "closed() gave up before its wait was over");
    assert!(!open.is_closed());
    // And a real close is still reported.
    assert_eq!(app.post("/api/auth/logout", Some(&token), json!({})).await.0, 204);
    assert!(open.closed().await, "the socket of a logged-out token is closed");
    assert!(open.is_closed());
}
