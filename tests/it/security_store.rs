//! The issue #14 items that were deferred to the storage rewrite, each
//! driven against the real server over HTTP and Socket.IO (cluster items on
//! the real PostgreSQL and Redis): the cap on push devices per user, the
//! paged conversation list and the push badge, the isolation of one failing
//! row in a PostgreSQL group commit — and the test helper `Sio::closed`,
//! which could report a close that never happened. Race tests repeat enough
//! times to catch the race on the old code (see docs/SECURITY.md for the runs).

use crate::common::{TestApp, WAIT, spawn_app, spawn_app_with};
use confab::config::Config;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

// ---------------------------------------------------------------------------
// Group commit: one failing row does not fail its batch-mates.

/// Two nodes of one cluster (the real PostgreSQL and Redis), in this process.
async fn two_nodes() -> (TestApp, TestApp) {
    two_nodes_with(|_| {}).await
}

/// [`two_nodes`] with `tweak` applied to both nodes' configuration.
async fn two_nodes_with(tweak: impl Fn(&mut Config) + Clone + Send + 'static) -> (TestApp, TestApp) {
    let db = crate::common::fresh_postgres().await;
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = db.rsplit('/').next().unwrap_or("sec2").to_string();
    let node = || {
        let (db, redis, prefix, tweak) = (db.clone(), redis.clone(), prefix.clone(), tweak.clone());
        spawn_app_with(move |c| {
            tweak(c);
            c.database_url = Some(db);
            c.redis_url = Some(redis);
            c.cluster.redis_prefix = prefix;
            c.cluster.postgres_max_connections = 8;
        })
    };
    let a = node().await;
    let b = node().await;
    (a, b)
}

/// POST /api/messages on `app`; the status.
async fn send_status(app: &TestApp, token: &str, body: Value) -> u16 {
    app.post("/api/messages", Some(token), body).await.0
}

/// What [`same_client_id_to_two_conversations`] saw.
#[derive(Debug, Default)]
struct RaceOutcome {
    /// Background sends and how many of them failed (by status).
    background: usize,
    background_failed: HashMap<u16, usize>,
    /// The statuses of each round's two sends, sorted.
    pairs: HashMap<(u16, u16), usize>,
}

/// While background senders keep both nodes' committers busy (so every
/// send rides in a batch with others), one user sends the same `clientMsgId`
/// to two different conversations at once, through `a` and through `b`,
/// `rounds` times.
async fn same_client_id_to_two_conversations(a: &TestApp, b: &TestApp, rounds: usize) -> RaceOutcome {
    let (_, ut) = a.user("uma").await;
    let (vid, _) = a.user("vic").await;
    let (wid, _) = a.user("wes").await;
    let first = |to: i64| a.post("/api/messages", Some(&ut), json!({"receiverId": to, "message": "hello"}));
    let (s1, m1) = first(vid).await;
    let (s2, m2) = first(wid).await;
    assert_eq!((s1, s2), (201, 201), "{m1} {m2}");
    let (uv, uw) = (m1["message"]["conversationId"].clone(), m2["message"]["conversationId"].clone());

    let stop = Arc::new(AtomicBool::new(false));
    let mut background = tokio::task::JoinSet::new();
    for (n, node) in [a, b].into_iter().enumerate() {
        for j in 0..4 {
            let (_, token) = node.user(&format!("bg{n}s{j}")).await;
            let (to, _) = node.user(&format!("bg{n}r{j}")).await;
            let (url, http, stop) = (node.url("/api/messages"), node.http.clone(), stop.clone());
            background.spawn(async move {
                let mut statuses = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"receiverId": to, "message": format!("bg {i}"), "clientMsgId": format!("bg-{i}")});
                    let res = http.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                    statuses.push(res.status().as_u16());
                    i += 1;
                }
                statuses
            });
        }
    }
    // Let the background load build up.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut outcome = RaceOutcome::default();
    for i in 0..rounds {
        let key = format!("dup-{i}");
        let (x, y) = tokio::join!(
            send_status(a, &ut, json!({"conversationId": uv, "message": "one", "clientMsgId": key})),
            send_status(b, &ut, json!({"conversationId": uw, "message": "other", "clientMsgId": key})),
        );
        *outcome.pairs.entry((x.min(y), x.max(y))).or_default() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    while let Some(statuses) = background.join_next().await {
        for s in statuses.unwrap() {
            outcome.background += 1;
            if s != 201 {
                *outcome.background_failed.entry(s).or_default() += 1;
            }
        }
    }
    outcome
}

/// The outcome every run must have: each round stored once (201) and
/// refused once (409 `conflict`: that `clientMsgId` is another
/// conversation's), and no background send failed.
fn assert_isolated(outcome: &RaceOutcome, rounds: usize) {
    assert!(outcome.background > rounds, "the background load ran: {outcome:?}");
    assert!(
        outcome.background_failed.is_empty(),
        "batch-mates failed because of another user's row: {outcome:?}"
    );
    assert_eq!(outcome.pairs.get(&(201, 409)), Some(&rounds), "one stored, one refused: {outcome:?}");
}

/// PostgreSQL: the two sends are committed by two nodes' committers at
/// once; the second to insert hits the unique `(sender, clientMsgId)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_clientmsgid_raced_across_nodes_fails_only_its_own_send() {
    let (a, b) = two_nodes().await;
    let rounds = 150;
    let outcome = same_client_id_to_two_conversations(&a, &b, rounds).await;
    eprintln!("postgres committer race: {outcome:?}");
    assert_isolated(&outcome, rounds);
}

/// SQLite: one node, one committer; the same race through two requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_clientmsgid_raced_to_two_conversations_fails_only_its_own_send() {
    let app = spawn_app().await;
    let rounds = 150;
    let outcome = same_client_id_to_two_conversations(&app, &app, rounds).await;
    eprintln!("sqlite committer race: {outcome:?}");
    assert_isolated(&outcome, rounds);
}

// ---------------------------------------------------------------------------
// Defect 7: a user has at most `push.max_devices_per_user` push devices.

async fn register_device(app: &TestApp, token: &str, device: &str) -> u16 {
    app.post("/api/push/subscriptions", Some(token), json!({"type": "fcm", "token": device})).await.0
}

/// The caller's devices (their tokens), oldest first.
async fn devices(app: &TestApp, token: &str) -> Vec<String> {
    let (status, body) = app.get("/api/push/subscriptions", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["token"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_user_keeps_at_most_max_devices_per_user_and_the_oldest_is_replaced() {
    // A long collapse window keeps the jobs in the outbox while they are counted.
    let app = spawn_app_with(|c| c.push.delay_ms = 600_000).await;
    let (ana, ta) = app.user("ana").await;
    let (_, tb) = app.user("bob").await;
    for i in 0..25 {
        assert_eq!(register_device(&app, &ta, &format!("dev-{i}")).await, 201, "device {i}");
    }
    let mut list = devices(&app, &ta).await;
    list.sort();
    let mut expected: Vec<String> = (5..25).map(|i| format!("dev-{i}")).collect();
    expected.sort();
    assert_eq!(list, expected, "the default cap is 20; the five registered first were replaced");

    // Registering a device again makes it the newest: it is not the next one replaced.
    assert_eq!(register_device(&app, &ta, "dev-5").await, 201);
    assert_eq!(register_device(&app, &ta, "dev-25").await, 201);
    let list = devices(&app, &ta).await;
    assert_eq!(list.len(), 20);
    assert!(list.contains(&"dev-5".to_string()) && list.contains(&"dev-25".to_string()));
    assert!(!list.contains(&"dev-6".to_string()), "the least recently registered device was replaced");

    // A message to Ana (offline) writes one push job per device, at most 20.
    let (status, _) = app.post("/api/messages", Some(&tb), json!({"receiverId": ana, "message": "hi"})).await;
    assert_eq!(status, 201);
    assert_eq!(app.push_pending().await, 20, "one push job per device");
    // A replaced device's waiting push goes with it.
    assert_eq!(register_device(&app, &ta, "dev-26").await, 201);
    assert_eq!(app.push_pending().await, 19);
}

/// Registers `n` new devices for one user at once, spread over `nodes`, in
/// each of `rounds` rounds; after every round the user must have exactly
/// `cap` devices. Returns the largest count seen.
async fn registrations_at_once(
    nodes: &[&TestApp],
    token: &str,
    cap: usize,
    rounds: usize,
    n: usize,
) -> usize {
    let mut most = 0;
    for round in 0..rounds {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            let node = nodes[i % nodes.len()];
            let (url, http, token) =
                (node.url("/api/push/subscriptions"), node.http.clone(), token.to_string());
            set.spawn(async move {
                let body = json!({"type": "fcm", "token": format!("r{round}-d{i}")});
                http.post(url).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16()
            });
        }
        while let Some(status) = set.join_next().await {
            assert_eq!(status.unwrap(), 201, "every registration is accepted");
        }
        let count = devices(nodes[0], token).await.len();
        most = most.max(count);
        assert!(count <= cap, "round {round}: {count} devices with a cap of {cap}");
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_registrations_never_pass_the_device_cap() {
    let app = spawn_app_with(|c| c.push.max_devices_per_user = 5).await;
    let (_, token) = app.user("ana").await;
    let most = registrations_at_once(&[&app], &token, 5, 20, 24).await;
    assert_eq!(most, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_registrations_on_two_nodes_never_pass_the_device_cap() {
    let (a, b) = two_nodes_with(|c| c.push.max_devices_per_user = 5).await;
    let (_, token) = a.user("ana").await;
    let most = registrations_at_once(&[&a, &b], &token, 5, 20, 24).await;
    assert_eq!(most, 5);
}

// ---------------------------------------------------------------------------
// Defect 8: group spam — the conversation list is paged, the badge is one count.

/// `spammer` puts `victim` into `n` new groups, each with one text message.
async fn spam_groups(app: &TestApp, spammer: &str, victim: i64, n: usize) {
    for i in 0..n {
        let body = json!({"type": "group", "name": format!("spam {i}"), "memberIds": [victim]});
        let (status, g) = app.post("/api/conversations", Some(spammer), body).await;
        assert_eq!(status, 201, "{g}");
        let id = g["conversation"]["id"].clone();
        let (status, _) =
            app.post("/api/messages", Some(spammer), json!({"conversationId": id, "message": "buy"})).await;
        assert_eq!(status, 201);
    }
}

/// Every page of the caller's list, following `nextBefore`; each page's length.
async fn all_pages(app: &TestApp, token: &str, limit: Option<usize>) -> (Vec<Value>, Vec<usize>) {
    let (mut all, mut sizes, mut before) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let mut path = String::from("/api/conversations?");
        if let Some(l) = limit {
            path.push_str(&format!("limit={l}&"));
        }
        if let Some(b) = &before {
            path.push_str(&format!("before={b}"));
        }
        let (status, page) = app.get(&path, Some(token)).await;
        assert_eq!(status, 200, "{page}");
        let list = page["conversations"].as_array().expect("a list").clone();
        sizes.push(list.len());
        all.extend(list);
        match (page["hasMore"].as_bool(), page["nextBefore"].as_str()) {
            (Some(true), Some(next)) => before = Some(next.to_string()),
            (Some(false), None) => return (all, sizes),
            other => panic!("hasMore and nextBefore disagree: {other:?} in {page}"),
        }
        assert!(sizes.len() < 1000, "the pages never end");
    }
}

/// A conversation's place in the list: last activity (its newest message,
/// else its creation), then id.
fn activity(c: &Value) -> (String, i64) {
    let at = c["lastMessage"]["createdAt"].as_str().or(c["createdAt"].as_str()).unwrap_or_default();
    (at.to_string(), c["id"].as_i64().unwrap_or_default())
}

fn assert_each_once_in_order(all: &[Value], expected: usize) {
    let ids: std::collections::HashSet<i64> = all.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!((all.len(), ids.len()), (expected, expected), "every conversation exactly once");
    for pair in all.windows(2) {
        assert!(
            activity(&pair[0]) > activity(&pair[1]),
            "most recent first: {:?} then {:?}",
            activity(&pair[0]),
            activity(&pair[1])
        );
    }
}

#[tokio::test]
async fn the_conversation_list_is_paged_with_a_stable_cursor() {
    let app = spawn_app().await;
    let (victim, tv) = app.user("vera").await;
    let (friend, tf) = app.user("fred").await;
    let (_, ts) = app.user("spam").await;
    let (status, _) =
        app.post("/api/messages", Some(&tf), json!({"receiverId": victim, "message": "hi"})).await;
    assert_eq!(status, 201);
    spam_groups(&app, &ts, victim, 130).await;

    // The default page is 100; the rest follows, each conversation once.
    let (status, first) = app.get("/api/conversations", Some(&tv)).await;
    assert_eq!(status, 200);
    assert_eq!(first["conversations"].as_array().map(Vec::len), Some(100), "a default page of 100");
    assert_eq!(first["hasMore"], true);
    let (all, sizes) = all_pages(&app, &tv, None).await;
    assert_eq!(sizes, [100, 31]);
    assert_each_once_in_order(&all, 131);

    // Every conversation active in the same millisecond: ties are broken by
    // id, and small pages still give each conversation exactly once.
    let db = app.data_dir.path().join("confab.db");
    let pool =
        sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(db)).await.unwrap();
    sqlx::query("UPDATE conversations SET last_message_at = 1700000000000").execute(&pool).await.unwrap();
    sqlx::query("UPDATE messages SET created_at = 1700000000000").execute(&pool).await.unwrap();
    pool.close().await;
    let (all, sizes) = all_pages(&app, &tv, Some(7)).await;
    assert_eq!(sizes.len(), 19);
    assert_each_once_in_order(&all, 131);

    // New activity brings a conversation to the front of the first page.
    let (status, _) =
        app.post("/api/messages", Some(&tf), json!({"receiverId": victim, "message": "again"})).await;
    assert_eq!(status, 201);
    let (_, page) = app.get("/api/conversations?limit=1", Some(&tv)).await;
    assert_eq!(page["conversations"][0]["peerId"], friend);
    assert_eq!(page["conversations"][0]["unreadCount"], 2);

    // Bad paging parameters are refused with a clear error.
    for bad in ["before=yesterday", "before=1-2", "limit=ten", "before=-5:3"] {
        let (status, body) = app.get(&format!("/api/conversations?{bad}"), Some(&tv)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid")), "{bad}: {body}");
    }
    let (status, page) = app.get("/api/conversations?limit=100000", Some(&tv)).await;
    assert_eq!(status, 200);
    assert_eq!(page["conversations"].as_array().map(Vec::len), Some(100), "at most 100 per page");
}

#[tokio::test]
async fn the_push_badge_counts_unread_messages_of_every_conversation() {
    let app = spawn_app_with(|c| {
        c.push.allow_http_endpoints = true;
        c.push.delay_ms = 200;
        c.push.poll_ms = 50;
    })
    .await;
    let fake = crate::push_fakes::Fake::start().await;
    let (victim, tv) = app.user("vera").await;
    let (_, tf) = app.user("fred").await;
    let (_, ts) = app.user("spam").await;
    spam_groups(&app, &ts, victim, 130).await;
    // Vera reads one spam group: it no longer counts.
    let (_, page) = app.get("/api/conversations?limit=1", Some(&tv)).await;
    let read = &page["conversations"][0];
    let mut socket = app.socket(&tv).await;
    let ack = socket
        .call("mark_read", json!({"conversationId": read["id"], "messageId": read["lastMessage"]["id"]}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    drop(socket);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (status, _) = app.post("/api/push/subscriptions", Some(&tv), fake.webpush_subscription("vera")).await;
    assert_eq!(status, 201);
    let (status, _) =
        app.post("/api/messages", Some(&tf), json!({"receiverId": victim, "message": "hi"})).await;
    assert_eq!(status, 201);
    let pushes = fake.wait_for("vera", 1, Duration::from_secs(10)).await;
    assert_eq!(pushes.len(), 1, "{:?}", fake.errors());
    assert_eq!(pushes[0].payload["badge"], 130, "129 unread spam groups and the new message");
}

// ---------------------------------------------------------------------------
// Found with the committer: PostgreSQL cannot store a NUL character in text.

/// A NUL in a message, its `clientMsgId` or a group's description or
/// picture is bad input on either database (it was stored on SQLite and an
/// internal error on PostgreSQL); a search for it finds nobody (it was an
/// internal error on PostgreSQL).
async fn nul_characters_are_refused(app: &TestApp) {
    let (_, ta) = app.user("ana").await;
    let (bob, _) = app.user("bob").await;
    for body in [
        json!({"receiverId": bob, "message": "a\u{0}b"}),
        json!({"receiverId": bob, "message": "hi", "clientMsgId": "k\u{0}1"}),
    ] {
        let (status, reply) = app.post("/api/messages", Some(&ta), body.clone()).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("invalid")), "{body}: {reply}");
    }
    let mut socket = app.socket(&ta).await;
    let ack = socket.call("send_message", json!({"receiverId": bob, "message": "\u{0}"})).await;
    assert_eq!(ack["error"]["code"], "invalid", "{ack}");
    let (status, _) =
        app.post("/api/messages", Some(&ta), json!({"receiverId": bob, "message": "fine"})).await;
    assert_eq!(status, 201);
    // The same for a group's description and picture, and a search finds nobody.
    for extra in [json!({"description": "x\u{0}y"}), json!({"avatarUrl": "https://x.test/\u{0}"})] {
        let mut body = json!({"type": "group", "name": "g", "memberIds": [bob]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (status, reply) = app.post("/api/conversations", Some(&ta), body.clone()).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("invalid")), "{body}: {reply}");
    }
    let (status, found) = app.get("/api/users?q=bo%00", Some(&ta)).await;
    assert_eq!((status, found["users"].clone()), (200, json!([])), "{found}");
}

#[tokio::test]
async fn sqlite_nul_characters_in_messages_are_refused() {
    nul_characters_are_refused(&spawn_app().await).await;
}

#[tokio::test]
async fn postgres_nul_characters_in_messages_are_refused() {
    let (a, _b) = two_nodes().await;
    nul_characters_are_refused(&a).await;
}
