//! The holes a hostile review found (issue #14), each driven against the real
//! server over real HTTP and Socket.IO: login throttling under a parallel
//! burst and against lock-outs, trusted proxies, logout races, sockets of
//! expired or revoked tokens (also across a cluster on the real PostgreSQL
//! and Redis), decompression bombs, the content-addressed delete race,
//! oversized member lists, SSRF address forms, Cloudinary labels and the web
//! client's CSP. Race tests repeat enough times to catch the race on the old
//! code (see docs/SECURITY.md for the runs).

use crate::common::{Sio, TestApp, WAIT, spawn_app, spawn_app_with};
use confab::users::TokenHash;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// POSTs a login as `username` from this client; returns the status.
async fn login_status(http: &reqwest::Client, app: &TestApp, username: &str, password: &str) -> u16 {
    login_via(http, app.addr, username, password, None).await.0
}

/// A login, optionally with an `X-Forwarded-For` header; (status, token).
async fn login_via(
    http: &reqwest::Client,
    addr: SocketAddr,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> (u16, Option<String>) {
    let mut req = http
        .post(format!("http://{addr}/api/auth/login"))
        .json(&json!({"username": username, "password": password}));
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["token"].as_str().map(str::to_string))
}

/// Whether the server closes `s` within `within`.
async fn closed_within(s: &Sio, within: Duration) -> bool {
    s.closed_within(within).await
}

/// An HTTP client whose connections come from `ip` (any 127.x address is this machine).
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::from(ip)).build().unwrap()
}

// ---------------------------------------------------------------------------
// Defect 1: a parallel burst of logins is evaluated at most up to the allowance.

/// Sends `wrong` wrong passwords for `name` at once, and the right one last
/// if `with_right`; returns (wrong passwords checked, refused, right one's status).
async fn burst(app: &TestApp, name: &str, wrong: usize, with_right: bool) -> (usize, usize, Option<u16>) {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..wrong + usize::from(with_right) {
        let (http, url, name) = (app.http.clone(), app.url("/api/auth/login"), name.to_string());
        let right = i == wrong;
        let password = if right { "password123".to_string() } else { format!("guess{i}") };
        set.spawn(async move {
            let res = http.post(url).json(&json!({"username": name, "password": password})).send().await;
            (right, res.unwrap().status().as_u16())
        });
    }
    let (mut checked, mut refused, mut right_status) = (0, 0, None);
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            (true, s) => right_status = Some(s),
            (false, 401) => checked += 1,
            (false, 429) => refused += 1,
            (false, s) => panic!("unexpected status {s}"),
        }
    }
    (checked, refused, right_status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_burst_of_logins_evaluates_at_most_the_free_allowance() {
    let app = spawn_app().await;
    for round in 0..3 {
        // A guesser's burst: 60 wrong passwords at once. The first 5 are
        // checked; the rest wait for them and are refused. (One that reaches
        // the server only after the first delay, 1 s, then 2 s, is checked —
        // that is the throttle's normal pace, seen only on an overloaded
        // machine — hence the margin of 2; the old code checked all 60.)
        let name = format!("victim{round}");
        app.user(&name).await;
        let (checked, refused, _) = burst(&app, &name, 60, false).await;
        assert!(
            checked <= 5 + 2,
            "round {round}: {checked} of 60 wrong passwords were checked (allowance 5)"
        );
        assert_eq!(checked + refused, 60);

        // The review's burst: 59 wrong and the right one. The right one gets
        // through only if it was among the first 5 checked — and then it
        // clears this client's record, so at most 5 more wrong are checked.
        let name = format!("mixed{round}");
        app.user(&name).await;
        let (checked, refused, right) = burst(&app, &name, 59, true).await;
        let allowed = if right == Some(200) { 10 + 2 } else { 5 + 2 };
        assert!(checked <= allowed, "round {round}: {checked} wrong checked, the right one got {right:?}");
        assert!(matches!(right, Some(200 | 429)), "{right:?}");
        assert_eq!(checked + refused, 59);
    }
}

/// Correct logins at once are not refused by the reservations: they wait
/// for the ones in flight and all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_correct_logins_at_once_from_one_address_all_succeed() {
    let app = spawn_app_with(|c| c.auth.password_hashes_at_once = 2).await;
    for i in 0..3 {
        app.user(&format!("crowd{i}")).await;
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..45 {
        let (http, addr) = (app.http.clone(), app.addr);
        set.spawn(
            async move { login_via(&http, addr, &format!("crowd{}", i % 3), "password123", None).await.0 },
        );
    }
    while let Some(status) = set.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
}

// ---------------------------------------------------------------------------
// Defect 5: nobody can lock someone else out.

#[tokio::test]
async fn someone_elses_failures_do_not_lock_a_client_out() {
    let app = spawn_app().await;
    app.user("target").await;
    let attacker = client_from([127, 0, 0, 2]);
    let victim = client_from([127, 0, 0, 3]);
    let mut attacker_statuses = Vec::new();
    for i in 0..30 {
        attacker_statuses.push(login_status(&attacker, &app, "target", &format!("wrong{i}")).await);
    }
    assert_eq!(attacker_statuses.iter().filter(|&&s| s == 401).count(), 5, "{attacker_statuses:?}");
    // The guesser stays throttled, even with the right password ...
    assert_eq!(login_status(&attacker, &app, "target", "password123").await, 429);
    // ... while the account's owner, elsewhere, logs in.
    assert_eq!(login_status(&victim, &app, "target", "password123").await, 200);
}

#[tokio::test]
async fn guessing_from_many_addresses_does_not_lock_out_a_clean_client() {
    let app = spawn_app().await;
    app.user("popular").await;
    // 60 addresses, 2 wrong guesses each: 120 failures on one account, more
    // than its account-wide allowance.
    for host in 10..70u8 {
        let guesser = client_from([127, 0, 1, host]);
        for i in 0..2 {
            let s = login_status(&guesser, &app, "popular", &format!("w{i}")).await;
            assert!(matches!(s, 401 | 429), "{s}");
        }
    }
    // A guesser that failed before is now held back by the account-wide count ...
    assert_eq!(login_status(&client_from([127, 0, 1, 10]), &app, "popular", "w9").await, 429);
    // ... the owner from a clean address is not.
    assert_eq!(login_status(&client_from([127, 0, 2, 1]), &app, "popular", "password123").await, 200);
}

// ---------------------------------------------------------------------------
// Trusted proxies: X-Forwarded-For tells clients apart behind one.

#[tokio::test]
async fn behind_a_trusted_proxy_login_throttling_is_per_client() {
    let app = spawn_app_with(|c| {
        c.trusted_proxies = serde_json::from_value(json!(["127.0.0.1/32"])).unwrap();
    })
    .await;
    app.user("carol").await;
    let proxy = client_from([127, 0, 0, 1]);
    // One client behind the proxy guesses 25 accounts (past the per-address allowance).
    for i in 0..25 {
        login_via(&proxy, app.addr, &format!("acct{i}"), "nope", Some("198.51.100.1")).await;
    }
    let (s, _) = login_via(&proxy, app.addr, "carol", "password123", Some("198.51.100.1")).await;
    assert_eq!(s, 429, "the guesser is throttled by its own address");
    // It cannot pass for someone else by writing the header itself: the proxy
    // appends the real address, and that is the right-most one.
    let (s, _) =
        login_via(&proxy, app.addr, "carol", "password123", Some("198.51.100.2, 198.51.100.1")).await;
    assert_eq!(s, 429);
    // Another client behind the same proxy logs in.
    let (s, _) = login_via(&proxy, app.addr, "carol", "password123", Some("198.51.100.2")).await;
    assert_eq!(s, 200);

    // A peer that is not a trusted proxy cannot choose its address.
    let direct = client_from([127, 0, 0, 4]);
    for i in 0..25 {
        login_via(&direct, app.addr, &format!("other{i}"), "nope", Some(&format!("203.0.113.{i}"))).await;
    }
    let (s, _) = login_via(&direct, app.addr, "carol", "password123", Some("203.0.113.200")).await;
    assert_eq!(s, 429, "X-Forwarded-For from an untrusted peer is ignored");
}

/// A Socket.IO handshake over WebSocket with an `X-Forwarded-For` header;
/// the open connection, or the `connect_error` message.
async fn sio_via_proxy(
    addr: SocketAddr,
    token: &str,
    forwarded_for: &str,
) -> Result<impl Send + 'static, String> {
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let mut req = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket").into_client_request().unwrap();
    req.headers_mut().insert("x-forwarded-for", forwarded_for.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.map_err(|e| e.to_string())?;
    let mut texts = Vec::new();
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next()).await.map_err(|_| "timed out".to_string())?;
        let Some(Ok(Message::Text(t))) = msg else { return Err(format!("closed after {texts:?}")) };
        let t = t.as_str().to_string();
        if t.starts_with('0') {
            ws.send(Message::text(format!("40{}", json!({ "token": token })))).await.unwrap();
        } else if t.starts_with("40") {
            return Ok(ws);
        } else if let Some(err) = t.strip_prefix("44") {
            return Err(err.to_string());
        }
        texts.push(t);
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_socket_limits_are_per_client() {
    let app = spawn_app_with(|c| {
        c.trusted_proxies = serde_json::from_value(json!(["127.0.0.0/8"])).unwrap();
        c.limits.connections_per_address = 2;
    })
    .await;
    let (_, token) = app.user("dave").await;
    let first = sio_via_proxy(app.addr, &token, "198.51.100.7").await.expect("1st");
    let second = sio_via_proxy(app.addr, &token, "198.51.100.7").await.expect("2nd");
    let third = sio_via_proxy(app.addr, &token, "198.51.100.7").await;
    assert!(
        third.as_ref().err().is_some_and(|e| e.contains("connections_per_address")),
        "3rd from one client"
    );
    let other = sio_via_proxy(app.addr, &token, "198.51.100.8").await;
    assert!(other.is_ok(), "another client behind the proxy: {:?}", other.err());
    drop((first, second, other));
}

// ---------------------------------------------------------------------------
// Defect 2: a logout racing requests leaves no live token.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_racing_requests_leaves_no_live_token() {
    let app = spawn_app().await;
    app.user("racer").await;
    let mut tokens = Vec::new();
    let mut survivors = 0;
    for _ in 0..30 {
        let (status, token) = login_via(&app.http, app.addr, "racer", "password123", None).await;
        assert_eq!(status, 200);
        let token = token.unwrap();
        // Requests with the token keep missing and refilling the cache while it is revoked.
        let stop = Arc::new(AtomicBool::new(false));
        let mut hammer = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (http, url, token, stop) =
                (app.http.clone(), app.url("/api/users/me"), token.clone(), stop.clone());
            hammer.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = http.get(&url).bearer_auth(&token).send().await;
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let (status, _) = app.post("/api/auth/logout", Some(&token), json!({})).await;
        assert_eq!(status, 204);
        tokio::time::sleep(Duration::from_millis(10)).await;
        stop.store(true, Ordering::Relaxed);
        while hammer.join_next().await.is_some() {}
        if app.get("/api/users/me", Some(&token)).await.0 != 401 {
            survivors += 1;
        }
        tokens.push(token);
    }
    assert_eq!(survivors, 0, "{survivors} of 30 logged-out tokens still worked");
    // And logout-all leaves none either.
    let (_, fresh) = login_via(&app.http, app.addr, "racer", "password123", None).await;
    let (status, _) = app.post("/api/auth/logout-all", fresh.as_deref(), json!({})).await;
    assert_eq!(status, 200);
    for t in &tokens {
        assert_eq!(app.get("/api/users/me", Some(t)).await.0, 401);
    }
}

// ---------------------------------------------------------------------------
// Defect 3: a socket does not outlive its token.

/// Sets when a token expires, behind the server's back, while it is stopped
/// (so no cache remembers the old time); returns the restarted server.
async fn expire_at(mut app: TestApp, token: &str, at: i64) -> TestApp {
    app.shutdown().await;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(app.data_dir.path().join("confab.db"));
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let updated = sqlx::query("UPDATE tokens SET expires_at = ? WHERE token_hash = ?")
        .bind(at)
        .bind(TokenHash::of(token).as_bytes())
        .execute(&pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(updated, 1);
    pool.close().await;
    app.restart().await
}

#[tokio::test]
async fn a_listening_socket_is_closed_when_its_token_expires() {
    let app = spawn_app().await;
    let (ana, ana_token) = app.user("ana").await;
    let (_, bob_token) = app.user("bob").await;
    let expiry = now_ms() + 4_000;
    let app = expire_at(app, &ana_token, expiry).await;
    let listener = app.socket(&ana_token).await;
    let (s, _) =
        app.post("/api/messages", Some(&bob_token), json!({"receiverId": ana, "message": "before"})).await;
    assert_eq!(s, 201);
    assert_eq!(listener.recv("receive_message").await.data["message"], "before");

    // The socket sends nothing; it must still be closed at expiry.
    tokio::time::sleep(Duration::from_millis(u64::try_from(expiry - now_ms()).unwrap_or(0))).await;
    assert!(closed_within(&listener, WAIT).await, "the socket of an expired token is closed");
    let told = listener.drain("error");
    assert!(told.iter().any(|e| e.data["code"] == "unauthorized"), "told why: {told:?}");
    let (s, _) =
        app.post("/api/messages", Some(&bob_token), json!({"receiverId": ana, "message": "after"})).await;
    assert_eq!(s, 201);
    assert!(listener.try_recv("receive_message", Duration::from_millis(300)).await.is_none());
    assert!(Sio::connect(app.addr, Some(&ana_token)).await.is_err(), "and cannot reconnect");
}

// ---------------------------------------------------------------------------
// Cluster: a node that missed a logout message stops trusting the token.

#[tokio::test]
async fn a_node_that_missed_a_logout_message_stops_accepting_the_token() {
    let db = crate::common::fresh_postgres().await;
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    // The nodes share the database but not their Redis channels: node B
    // never hears of node A's logouts, as if it missed every message.
    let mut nodes = Vec::new();
    for side in ["a", "b"] {
        let (db, redis, prefix) = (db.clone(), redis.clone(), format!("missed{}{side}", std::process::id()));
        nodes.push(
            spawn_app_with(move |c| {
                c.database_url = Some(db);
                c.redis_url = Some(redis);
                c.cluster.redis_prefix = prefix;
                c.auth.token_recheck_secs = 1;
            })
            .await,
        );
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    let (_, token) = a.user("erin").await;
    assert_eq!(b.get("/api/users/me", Some(&token)).await.0, 200, "node B caches the token");
    let socket = b.socket(&token).await;

    assert_eq!(a.post("/api/auth/logout", Some(&token), json!({})).await.0, 204);
    assert_eq!(a.get("/api/users/me", Some(&token)).await.0, 401, "node A at once");
    let mut refused_by_b = false;
    for _ in 0..50 {
        if b.get("/api/users/me", Some(&token)).await.0 == 401 {
            refused_by_b = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused_by_b, "node B still accepts a token logged out 5 s ago");
    assert!(closed_within(&socket, WAIT).await, "node B closes the token's socket");
}

// ---------------------------------------------------------------------------
// Defect 4: decompression bombs are refused from the header.

/// A valid PNG of `w`×`h` grey pixels: tiny on the wire, `w`×`h` bytes decoded.
fn flat_png(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::new(w, h);
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A PNG of `w`×`h` noise (no two alike): slow to decode, different bytes each call.
fn noisy_png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |_, _| image::Rgb(rand::random::<[u8; 3]>()));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn upload(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let res = app
        .http
        .post(app.url(&format!("/api/media?name={name}")))
        .bearer_auth(token)
        .header("Content-Type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_image_above_the_pixel_limit_is_refused_before_decoding() {
    let app = spawn_app().await;
    let (_, ana) = app.user("ana").await;
    // 8,000 × 8,000 = 64 megapixels (default limit 50) in a PNG of about 300 KB.
    let bomb = flat_png(8_000, 8_000);
    assert!(bomb.len() < 1_000_000, "{} bytes", bomb.len());
    let (status, body) = upload(&app, &ana, "bomb.png", bomb).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "too_large");
    assert!(body["error"]["message"].as_str().unwrap().contains("media.max_image_pixels"), "{body}");
    // Nothing of it stays on disk.
    let left: Vec<_> = walk(&app.data_dir.path().join("media")).into_iter().filter(|p| p.is_file()).collect();
    assert!(left.is_empty(), "{left:?}");

    // Under the limit: stored, with a thumbnail.
    let (status, body) = upload(&app, &ana, "ok.png", flat_png(2_000, 1_000)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["media"]["width"].as_i64(), body["media"]["height"].as_i64()),
        (Some(2_000), Some(1_000))
    );
}

#[tokio::test]
async fn the_pixel_limit_is_configurable() {
    let app = spawn_app_with(|c| c.media.max_image_pixels = 10_000).await;
    let (_, ana) = app.user("ana").await;
    assert_eq!(upload(&app, &ana, "big.png", flat_png(101, 100)).await.0, 413);
    assert_eq!(upload(&app, &ana, "fits.png", flat_png(100, 100)).await.0, 201);
    // Not an image to decode: the limit does not apply.
    assert_eq!(upload(&app, &ana, "data.bin", vec![7u8; 50_000]).await.0, 201);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Defect 6: deleting an upload never destroys someone else's identical one.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_upload_never_destroys_an_identical_concurrent_one() {
    let app = spawn_app_with(|c| c.media.uploads_per_minute = 0).await;
    let (_, ana) = app.user("ana").await;
    let (_, bob) = app.user("bob").await;
    let bytes = noisy_png(400, 400);
    let mut broken = Vec::new();
    for round in 0..40u64 {
        let (status, mine) = upload(&app, &ana, "same.png", bytes.clone()).await;
        assert_eq!(status, 201, "{mine}");
        let ana_url = app.url(mine["media"]["url"].as_str().unwrap());
        // Ana deletes her copy while Bob uploads the same bytes; the delete
        // lands at a different point of Bob's upload each round.
        let (http, ana2) = (app.http.clone(), ana.clone());
        let delete = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(round % 20 * 3)).await;
            http.delete(&ana_url).bearer_auth(&ana2).send().await.unwrap().status().as_u16()
        });
        let (status, theirs) = upload(&app, &bob, "same.png", bytes.clone()).await;
        assert_eq!(status, 201, "{theirs}");
        assert_eq!(delete.await.unwrap(), 204);
        let m = &theirs["media"];
        let file = app.http.get(app.url(m["url"].as_str().unwrap())).bearer_auth(&bob).send().await.unwrap();
        let thumb = app
            .http
            .get(app.url(m["thumbnailUrl"].as_str().unwrap()))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap();
        let (fs, ts) = (file.status().as_u16(), thumb.status().as_u16());
        if fs != 200 || ts != 200 || file.bytes().await.unwrap().as_ref() != bytes.as_slice() {
            broken.push((round, fs, ts));
        }
        let url = app.url(m["url"].as_str().unwrap());
        assert_eq!(app.http.delete(url).bearer_auth(&bob).send().await.unwrap().status(), 204);
    }
    assert!(broken.is_empty(), "Bob's upload lost its file in rounds (round, file, thumbnail): {broken:?}");
    // Everything deleted: no file is left behind either.
    let left: Vec<_> = walk(&app.data_dir.path().join("media")).into_iter().filter(|p| p.is_file()).collect();
    assert!(left.is_empty(), "{left:?}");
}

// ---------------------------------------------------------------------------
// Cloudinary results: the unsigned fields are labels, cleaned.

#[tokio::test]
async fn cloudinary_file_names_lose_control_and_bidi_characters() {
    use sha1::{Digest, Sha1};
    const SECRET: &str = "fake-api-secret";
    let app = spawn_app_with(|c| {
        c.media.cloudinary.cloud_name = Some("demo-cloud".into());
        c.media.cloudinary.api_key = Some("1234".into());
        c.media.cloudinary.api_secret = Some(SECRET.into());
    })
    .await;
    let (_, ana) = app.user("ana").await;
    let (bob_id, _) = app.user("bob").await;
    let (public_id, version) = ("confab/img1", 1_700_000_001i64);
    let signature: String =
        Sha1::digest(format!("public_id={public_id}&version={version}{SECRET}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    let result = json!({
        "public_id": public_id, "version": version, "signature": signature,
        "resource_type": "image", "format": "png", "bytes": -5, "width": -1, "height": 10_000_000,
        // Renders as "invoice_exe.png" with the override: a classic spoof.
        "original_filename": "invoice\u{202E}gnp.exe\u{7}\n\u{2066}x\u{200F}",
    });
    let mut s = app.socket(&ana).await;
    let ack = s.call("send_message", json!({"receiverId": bob_id, "attachments": [result]})).await;
    let att = &ack["message"]["attachments"][0];
    assert_eq!(att["name"], "invoicegnp.exex.png", "{ack}");
    assert_eq!(att["size"], 0);
    assert!(att["width"].is_null() && att["height"].is_null(), "implausible sizes are dropped: {att}");
}

// ---------------------------------------------------------------------------
// Defect 9: member lists are measured against the cap before ids are resolved.

async fn group_of(app: &TestApp, token: &str, members: &[i64]) -> i64 {
    let (status, body) = app
        .post("/api/conversations", Some(token), json!({"type": "group", "name": "g", "memberIds": members}))
        .await;
    assert_eq!(status, 201, "{body}");
    body["conversation"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn member_lists_are_checked_against_the_cap_before_any_id_is_resolved() {
    let app = spawn_app_with(|c| c.limits.group_max_members = 5).await;
    let (_, owner) = app.user("owner").await;
    let (m1, _) = app.user("mem1").await;
    let (m2, _) = app.user("mem2").await;
    let (m3, _) = app.user("mem3").await;
    let group = group_of(&app, &owner, &[m1, m2]).await; // 3 of 5
    let members = format!("/api/conversations/{group}/members");

    // More ids than the cap: refused as too many, whatever the ids are.
    let unknown: Vec<i64> = (1_000_000..1_006_000).collect();
    let (status, body) = app.post(&members, Some(&owner), json!({"userIds": unknown})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("at most 5 members"), "{body}");
    // Three new ids would pass the cap: refused before they are looked up.
    let (status, body) =
        app.post(&members, Some(&owner), json!({"userIds": [9_000_001, 9_000_002, 9_000_003]})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");
    // The same at creation.
    let (status, body) = app
        .post(
            "/api/conversations",
            Some(&owner),
            json!({"type": "group", "name": "g2", "memberIds": unknown}),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("conflict")), "{body}");

    // Within the cap, duplicates count once and unknown ids are still refused.
    let (status, body) = app.post(&members, Some(&owner), json!({"userIds": [m3, m3, m3, m1, m3]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["conversation"]["members"].as_array().unwrap().len(), 4);
    let (status, body) = app.post(&members, Some(&owner), json!({"userIds": [9_000_001]})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid")), "{body}");
}

// ---------------------------------------------------------------------------
// Defect 10: every special-purpose address form is refused as a push endpoint.

#[tokio::test]
async fn push_endpoints_on_special_purpose_addresses_are_refused() {
    let app = spawn_app().await;
    let fake = crate::push_fakes::Fake::start().await;
    let (_, ana) = app.user("ana").await;
    let sub = fake.webpush_subscription("x");
    for host in [
        "[64:ff9b:1::a9fe:a9fe]", // local-use NAT64 (RFC 8215) of 169.254.169.254
        "[64:ff9b:1::808:808]",   // local-use NAT64: translated inside someone's network
        "[::ffff:0:7f00:1]",      // IPv4-translated (SIIT) 127.0.0.1
        "[::ffff:0:808:808]",
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]", // Teredo
        "[2001:2::1]",                            // benchmarking
        "[2001:20::1]",                           // ORCHIDv2
        "[2002:808:808::1]",                      // 6to4 (relayed anywhere)
        "[3fff::1]",                              // documentation (RFC 9637)
        "[5f00::1]",                              // SRv6 SIDs
        "[100:0:0:1::1]",                         // dummy prefix
        "[2620:4f:8000::1]",                      // AS112
        "192.88.99.1",                            // 6to4 relay anycast
        "192.31.196.1",                           // AS112
        "192.52.193.1",                           // AMT
        "192.175.48.1",                           // AS112
    ] {
        let endpoint = format!("https://{host}/wp/x");
        let mut body = sub.clone();
        body["endpoint"] = json!(endpoint);
        let (status, answer) = app.post("/api/push/subscriptions", Some(&ana), body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("invalid")),
            "{endpoint}: {answer}"
        );
    }
    // Ordinary public addresses, and the well-known NAT64 of one, are fine.
    for host in ["[2606:4700:4700::1111]", "[64:ff9b::808:808]", "8.8.8.8"] {
        let mut body = sub.clone();
        body["endpoint"] = json!(format!("https://{host}/wp/x"));
        let (status, answer) = app.post("/api/push/subscriptions", Some(&ana), body).await;
        assert_eq!(status, 201, "{host}: {answer}");
    }
}

// ---------------------------------------------------------------------------
// The web client may only connect to its own origin.

#[tokio::test]
async fn the_web_client_connects_only_to_its_own_origin() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/")).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
    let connect = csp.split(';').map(str::trim).find(|d| d.starts_with("connect-src")).unwrap();
    assert_eq!(connect, "connect-src 'self'", "{csp}");
}
