//! Admission control: `limits.handshakes_at_once` over real sockets.
//!
//! Handshakes are held in progress honestly, by the database: the test
//! locks the `tokens` table of the node's PostgreSQL database, so a
//! handshake whose token is not cached waits in its token check — as under
//! a slow database during a reconnect storm. Nothing in the server is
//! test-only.

use crate::common::{self, Sio, spawn_app_with};
use serde_json::json;
use std::time::{Duration, Instant};

const BOUND: usize = 3;
const EXTRA: usize = 5;

/// Until `n` of the node's queries wait for the test's lock on `tokens`.
async fn wait_for_blocked(pg: &sqlx::PgPool, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE NOT l.granted AND d.datname = current_database() AND l.relation = 'tokens'::regclass",
        )
        .fetch_one(pg)
        .await
        .unwrap();
        if waiting >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{waiting} of {n} handshakes reached the token check");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `retryAfterMs=N` at the end of a busy refusal; panics if it is not well-formed.
fn retry_hint(refusal: &str) -> u64 {
    assert!(
        refusal.starts_with("unavailable: ") && refusal.contains("limits.handshakes_at_once"),
        "a busy refusal: {refusal}"
    );
    let ms: u64 = refusal
        .rsplit_once("retryAfterMs=")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or_else(|| panic!("retry hint in {refusal}"));
    assert!((250..=1000).contains(&ms), "hint {ms} ms in {refusal}");
    ms
}

#[tokio::test]
async fn handshakes_past_the_bound_are_refused_at_once_and_the_others_complete() {
    let db = common::fresh_postgres().await;
    let url = db.clone();
    let app = spawn_app_with(move |c| {
        c.database_url = Some(url);
        c.limits.handshakes_at_once = BOUND;
    })
    .await;
    let (_, alice) = app.user("alice").await;
    let (bob_id, bob) = app.user("bob").await;
    let mut bob_socket = Sio::connect(app.addr, Some(&bob)).await.expect("bob connects");

    let pg = sqlx::PgPool::connect(&db).await.unwrap();
    let mut lock = pg.begin().await.unwrap();
    sqlx::query("LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE").execute(&mut *lock).await.unwrap();

    // BOUND handshakes with tokens the node has not cached: each waits in
    // its token check, holding a slot.
    let addr = app.addr;
    let held: Vec<_> = (0..BOUND)
        .map(|i| tokio::spawn(async move { Sio::connect(addr, Some(&format!("not-a-token-{i}"))).await }))
        .collect();
    wait_for_blocked(&pg, BOUND as i64).await;

    // Every further handshake is refused while those are held — even with a
    // valid token, and without waiting for them (they cannot finish until
    // the lock goes).
    for _ in 0..EXTRA {
        let refused =
            Sio::connect(app.addr, Some(&alice)).await.err().expect("refused while the bound is full");
        retry_hint(&refused);
    }
    // Bob's open socket still works meanwhile (its token is cached).
    let me = bob_socket.call("fetch_unread_messages", json!({})).await;
    assert!(me.get("error").is_none(), "{me}");

    lock.rollback().await.unwrap();
    for h in held {
        let refused = h.await.unwrap().err().expect("a bad token is refused");
        assert!(refused.starts_with("unauthorized"), "{refused}");
    }

    // After the burst the slots are free again: new connections succeed and work.
    let mut sockets = Vec::new();
    for _ in 0..BOUND {
        sockets.push(Sio::connect(app.addr, Some(&alice)).await.expect("admitted after the burst"));
    }
    for s in &mut sockets {
        let sent = s.call("send_message", json!({"receiverId": bob_id, "message": "after the storm"})).await;
        assert!(sent.get("error").is_none(), "{sent}");
    }
    for _ in 0..BOUND {
        assert_eq!(bob_socket.recv("receive_message").await.data["message"], "after the storm");
    }

    let text = app.http.get(format!("http://{}/metrics", app.metrics.unwrap())).send().await.unwrap();
    let text = text.text().await.unwrap();
    let line = format!("confab_handshakes_total{{result=\"refused\",reason=\"handshakes_at_once\"}} {EXTRA}");
    assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    pg.close().await;
}
