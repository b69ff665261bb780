//! Push notifications end to end: the real app, real provider clients, and
//! fake providers that verify signatures, headers and (for Web Push) decrypt
//! the payload (`push_fakes`).

use crate::common;
use crate::push_fakes;

use common::{TestApp, spawn_app_with};
use confab::config::Config;
use push_fakes::{APNS_KEY_ID, APNS_TEAM, APNS_TOPIC, Fake, QUIET};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const SOON: Duration = Duration::from_secs(10);

/// Test timing: a short collapse window, quick polling and retries.
fn fast(c: &mut Config) {
    c.push.allow_http_endpoints = true;
    c.push.delay_ms = 300;
    c.push.poll_ms = 50;
    c.push.retry_base_ms = 200;
}

async fn send(app: &TestApp, token: &str, to: i64, text: &str) -> Value {
    let (status, body) =
        app.post("/api/messages", Some(token), json!({"receiverId": to, "message": text})).await;
    assert_eq!(status, 201, "{body}");
    body["message"].clone()
}

async fn subscribe(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, res) = app.post("/api/push/subscriptions", Some(token), body).await;
    assert_eq!(status, 201, "{res}");
    res["subscription"].clone()
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> u16 {
    app.http.put(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16()
}

async fn delete(app: &TestApp, path: &str, token: &str) -> u16 {
    app.http.delete(app.url(path)).bearer_auth(token).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn devices_are_registered_listed_and_deleted() {
    let app = spawn_app_with(|_| {}).await; // https only
    let fake = Fake::start().await;
    let (_, ana) = app.user("ana").await;
    let (_, bob) = app.user("bob").await;

    let (status, key) = app.get("/api/push/vapid-public-key", None).await;
    assert_eq!(status, 200);
    let key = key["publicKey"].as_str().unwrap().to_string();
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&key).unwrap();
    assert_eq!((raw.len(), raw[0]), (65, 4), "an uncompressed P-256 point");

    // http:// endpoints need --push-allow-http-endpoints.
    let (status, body) =
        app.post("/api/push/subscriptions", Some(&ana), fake.webpush_subscription("x")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid");

    let mut web = fake.webpush_subscription("y");
    web["endpoint"] = json!("https://push.example.net/send/abc");
    let w = subscribe(&app, &ana, web.clone()).await;
    assert_eq!(
        (w["type"].as_str(), w["endpoint"].as_str()),
        (Some("webpush"), Some("https://push.example.net/send/abc"))
    );
    let f = subscribe(&app, &ana, json!({"type": "fcm", "token": "fcm-token-1"})).await;
    let a =
        subscribe(&app, &ana, json!({"type": "apns", "token": "ab".repeat(32), "environment": "sandbox"}))
            .await;
    assert_eq!(a["environment"], "sandbox");

    for bad in [
        json!({"type": "webpush", "endpoint": "https://x.test/1", "keys": {"p256dh": "AAAA", "auth": web["keys"]["auth"]}}),
        json!({"type": "webpush", "endpoint": "https://x.test/1", "keys": {"p256dh": web["keys"]["p256dh"], "auth": "AAAA"}}),
        json!({"type": "webpush", "endpoint": "ftp://x.test/1", "keys": web["keys"]}),
        json!({"type": "fcm", "token": ""}),
        json!({"type": "fcm", "token": 5}),
        json!({"type": "apns", "token": "not hex"}),
        json!({"type": "apns", "token": "abcd", "environment": "staging"}),
        json!({"type": "carrier-pigeon"}),
    ] {
        let (status, body) = app.post("/api/push/subscriptions", Some(&ana), bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
    let (status, _) = app.post("/api/push/subscriptions", None, json!({"type": "fcm", "token": "t"})).await;
    assert_eq!(status, 401);

    let (_, list) = app.get("/api/push/subscriptions", Some(&ana)).await;
    let ids: Vec<i64> =
        list["subscriptions"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    let (_, list) = app.get("/api/push/subscriptions", Some(&bob)).await;
    assert_eq!(list["subscriptions"], json!([]));

    // Someone else's device is "not found"; one's own goes.
    assert_eq!(delete(&app, &format!("/api/push/subscriptions/{}", f["id"]), &bob).await, 404);
    assert_eq!(delete(&app, &format!("/api/push/subscriptions/{}", f["id"]), &ana).await, 204);
    assert_eq!(delete(&app, &format!("/api/push/subscriptions/{}", f["id"]), &ana).await, 404);

    // The same device registered by another user moves to them.
    let moved = subscribe(&app, &bob, web).await;
    assert_eq!(moved["id"], w["id"]);
    let (_, list) = app.get("/api/push/subscriptions", Some(&ana)).await;
    assert_eq!(list["subscriptions"].as_array().unwrap().len(), 1);

    // The VAPID key is kept in the data directory across restarts.
    let app = app.restart().await;
    let (_, again) = app.get("/api/push/vapid-public-key", None).await;
    assert_eq!(again["publicKey"], key.as_str());
}

#[tokio::test]
async fn an_offline_recipient_gets_one_push_per_burst() {
    let app = spawn_app_with(fast).await;
    let fake = Fake::start().await;
    let (_, ana) = app.user("ana").await;
    let (bob_id, bob) = app.user("bob").await;
    subscribe(&app, &bob, fake.webpush_subscription("bob-laptop")).await;

    let mut last = Value::Null;
    for i in 1..=5 {
        last = send(&app, &ana, bob_id, &format!("message {i}")).await;
    }
    let pushes = fake.wait_for("bob-laptop", 1, SOON).await;
    tokio::time::sleep(QUIET).await;
    let pushes_after = fake.pushes_to("bob-laptop");
    assert_eq!(fake.errors(), Vec::<String>::new());
    assert_eq!(pushes_after.len(), 1, "five quick messages are one push: {pushes:?}");
    let p = &pushes_after[0].payload;
    assert_eq!(p["title"], "ana");
    assert_eq!(p["body"], "message 5 (+4 more)");
    assert_eq!((p["badge"].as_i64(), p["count"].as_i64()), (Some(5), Some(5)));
    assert_eq!(p["data"]["conversationId"], last["conversationId"]);
    assert_eq!(p["data"]["messageId"], last["id"]);
    let h = &pushes_after[0].headers;
    assert_eq!(h["topic"], format!("c{}", last["conversationId"]));
    assert_eq!(h["urgency"], "high");
    let (_, key) = app.get("/api/push/vapid-public-key", None).await;
    assert!(h["authorization"].ends_with(&format!("k={}", key["publicKey"].as_str().unwrap())));

    // After the window, the next message is a new push.
    send(&app, &ana, bob_id, "one more").await;
    let pushes = fake.wait_for("bob-laptop", 2, SOON).await;
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[1].payload["body"], "one more");
    assert_eq!(pushes[1].payload["badge"], 6);
    assert_eq!(fake.errors(), Vec::<String>::new());
}

#[tokio::test]
async fn an_online_recipient_gets_no_push_and_coming_online_cancels_one() {
    let app = spawn_app_with(|c| {
        fast(c);
        c.push.delay_ms = 1500;
    })
    .await;
    let fake = Fake::start().await;
    let (_, ana) = app.user("ana").await;
    let (bob_id, bob) = app.user("bob").await;
    subscribe(&app, &bob, fake.webpush_subscription("bob-phone")).await;

    let socket = app.socket(&bob).await;
    send(&app, &ana, bob_id, "you are here").await;
    socket.recv("receive_message").await;
    tokio::time::sleep(Duration::from_millis(1500) + QUIET).await;
    assert!(fake.pushes_to("bob-phone").is_empty(), "online: no push");

    // Offline when sent, online before the push is due: no push either.
    drop(socket);
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&app, &ana, bob_id, "are you there?").await;
    let socket = app.socket(&bob).await;
    tokio::time::sleep(Duration::from_millis(1500) + QUIET).await;
    assert!(fake.pushes_to("bob-phone").is_empty(), "came online before the push was due");

    // Control: offline throughout, pushed.
    drop(socket);
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&app, &ana, bob_id, "bye").await;
    let pushes = fake.wait_for("bob-phone", 1, SOON).await;
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].payload["body"], "bye");
    assert_eq!(fake.errors(), Vec::<String>::new());
}

#[tokio::test]
async fn muted_conversations_do_not_push_but_count_unread() {
    let app = spawn_app_with(fast).await;
    let fake = Fake::start().await;
    let (_, ana) = app.user("ana").await;
    let (_, cyd) = app.user("cyd").await;
    let (bob_id, bob) = app.user("bob").await;
    subscribe(&app, &bob, fake.webpush_subscription("bob")).await;

    let first = send(&app, &ana, bob_id, "hello").await;
    let conv = first["conversationId"].as_i64().unwrap();
    fake.wait_for("bob", 1, SOON).await;

    // Muting someone else's conversation is refused like any non-member access.
    assert_eq!(put(&app, &format!("/api/conversations/{conv}/mute"), &cyd, json!({})).await, 403);
    assert_eq!(
        put(&app, &format!("/api/conversations/{conv}/mute"), &bob, json!({"until": null})).await,
        200
    );
    send(&app, &ana, bob_id, "muted").await;
    send(&app, &cyd, bob_id, "not muted").await;
    let pushes = fake.wait_for("bob", 2, SOON).await;
    tokio::time::sleep(QUIET).await;
    let pushes_after = fake.pushes_to("bob");
    assert_eq!(pushes_after.len(), 2, "only cyd's message pushes: {pushes:?}");
    assert_eq!(pushes_after[1].payload["title"], "cyd");
    assert_eq!(pushes_after[1].payload["badge"], 3, "the muted conversation still counts unread");
    let (_, mutes) = app.get("/api/push/mutes", Some(&bob)).await;
    assert_eq!(mutes["mutes"], json!([{"conversationId": conv, "until": null}]));

    // A mute that has expired no longer holds pushes back.
    assert_eq!(
        put(&app, &format!("/api/conversations/{conv}/mute"), &bob, json!({"until": 1_000})).await,
        200
    );
    send(&app, &ana, bob_id, "after the mute").await;
    assert_eq!(fake.wait_for("bob", 3, SOON).await.len(), 3);

    // Muting everything, then unmuting.
    assert_eq!(put(&app, "/api/push/mute", &bob, json!({"until": "2999-01-01T00:00:00Z"})).await, 200);
    send(&app, &cyd, bob_id, "all muted").await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(fake.pushes_to("bob").len(), 3);
    assert_eq!(delete(&app, "/api/push/mute", &bob).await, 204);
    send(&app, &cyd, bob_id, "unmuted").await;
    let pushes = fake.wait_for("bob", 4, SOON).await;
    assert_eq!(pushes[3].payload["body"], "unmuted");
    assert_eq!(put(&app, "/api/push/mute", &bob, json!({"until": "soon"})).await, 400);
    assert_eq!(fake.errors(), Vec::<String>::new());
}

#[tokio::test]
async fn failures_are_retried_with_backoff_and_retry_after() {
    let app = spawn_app_with(fast).await;
    let fake = Fake::start().await;
    let (_, ana) = app.user("ana").await;
    let (bob_id, bob) = app.user("bob").await;
    subscribe(&app, &bob, fake.webpush_subscription("flaky")).await;
    fake.script("flaky", &[(429, Some(1)), (500, None), (503, None)]);

    send(&app, &ana, bob_id, "eventually").await;
    let pushes = fake.wait_for("flaky", 1, Duration::from_secs(15)).await;
    assert_eq!(pushes.len(), 1, "delivered once the service recovers");
    let attempts = fake.attempts_to("flaky");
    assert_eq!(attempts.len(), 4, "three failures, then success");
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] >= Duration::from_millis(950), "Retry-After: 1 honoured: {gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(380), "second retry waits 2 × base: {gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(780), "third retry waits 4 × base: {gaps:?}");
    tokio::time::sleep(QUIET).await;
    assert_eq!(fake.pushes_to("flaky").len(), 1);
    assert_eq!(app.push_pending().await, 0);
    assert_eq!(fake.errors(), Vec::<String>::new());
}

#[tokio::test]
async fn a_push_that_keeps_failing_is_dropped() {
    let app = spawn_app_with(|c| {
        fast(c);
        c.push.max_attempts = 3;
        c.push.retry_base_ms = 50;
    })
    .await;
    let fake = Fake::start().await;
    let (_, ana) = app.user("ana").await;
    let (bob_id, bob) = app.user("bob").await;
    subscribe(&app, &bob, fake.webpush_subscription("down")).await;
    fake.script("down", &[(500, None); 10]);
    send(&app, &ana, bob_id, "lost cause").await;
    assert_eq!(fake.wait_attempts("down", 3, SOON).await.len(), 3);
    tokio::time::sleep(QUIET).await;
    assert_eq!(fake.attempts_to("down").len(), 3, "gives up after push.max_attempts");
    assert_eq!(app.push_pending().await, 0);
    let (_, list) = app.get("/api/push/subscriptions", Some(&bob)).await;
    assert_eq!(list["subscriptions"].as_array().unwrap().len(), 1, "a failing device is not pruned");
}

fn fcm_and_apns(c: &mut Config, fake: &Fake, apns_key: &std::path::Path) {
    fast(c);
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    c.push.fcm.service_account_file = Some(fixtures.join("fcm-service-account.json"));
    c.push.fcm.endpoint = fake.url("");
    c.push.fcm.token_url = Some(fake.url("/token"));
    c.push.apns.key_file = Some(apns_key.to_path_buf());
    c.push.apns.key_id = APNS_KEY_ID.into();
    c.push.apns.team_id = APNS_TEAM.into();
    c.push.apns.topic = APNS_TOPIC.into();
    c.push.apns.production_url = fake.url("/prod");
    c.push.apns.sandbox_url = fake.url("");
}

/// A fake the app's FCM and APNs clients are pointed at, with the keys it verifies.
async fn mobile_fake() -> (Fake, tempfile::TempDir) {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    use rsa::pkcs8::DecodePrivateKey;
    let fake = Fake::start().await;
    let account: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fcm-service-account.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let rsa_key = rsa::RsaPrivateKey::from_pkcs8_pem(account["private_key"].as_str().unwrap()).unwrap();
    fake.expect_fcm_key(rsa_key.to_public_key());
    let apns_secret = confab::notify::webpush::random_secret();
    fake.expect_apns_key(p256::ecdsa::VerifyingKey::from(apns_secret.public_key()));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("AuthKey.p8"),
        apns_secret.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    (fake, dir)
}

#[tokio::test]
async fn fcm_and_apns_pushes_are_signed_and_shaped_as_the_providers_require() {
    let (fake, keys) = mobile_fake().await;
    let app = spawn_app_with(|c| fcm_and_apns(c, &fake, &keys.path().join("AuthKey.p8"))).await;
    let (_, ana) = app.user("ana").await;
    let (_, cyd) = app.user("cyd").await;
    let (bob_id, bob) = app.user("bob").await;
    let token = "f".repeat(64);
    subscribe(&app, &bob, json!({"type": "fcm", "token": "android-1"})).await;
    subscribe(&app, &bob, json!({"type": "apns", "token": token, "environment": "sandbox"})).await;

    let m = send(&app, &ana, bob_id, "hi from ana").await;
    send(&app, &cyd, bob_id, "hi from cyd").await;
    let fcm = fake.wait_for("android-1", 2, SOON).await;
    let apns = fake.wait_for(&token, 2, SOON).await;
    assert_eq!(fake.errors(), Vec::<String>::new());
    assert_eq!((fcm.len(), apns.len()), (2, 2));
    assert!(fcm.iter().all(|p| p.provider == "fcm") && apns.iter().all(|p| p.provider == "apns"));
    assert_eq!(fake.state.fcm_grants.lock().unwrap().len(), 1, "the OAuth token is cached");

    let ana_fcm = fcm.iter().find(|p| p.payload["notification"]["title"] == "ana").expect("ana's push");
    assert_eq!(ana_fcm.payload["notification"]["body"], "hi from ana");
    assert_eq!(ana_fcm.payload["data"]["messageId"], m["id"].to_string());
    assert_eq!(ana_fcm.payload["android"]["collapse_key"], format!("c{}", m["conversationId"]));
    let ana_apns = apns.iter().find(|p| p.payload["aps"]["alert"]["title"] == "ana").expect("ana's push");
    assert_eq!(ana_apns.payload["conversationId"], m["conversationId"]);
    assert_eq!(ana_apns.headers["apns-collapse-id"], format!("c{}", m["conversationId"]));
    let badges: HashSet<i64> = apns.iter().map(|p| p.payload["aps"]["badge"].as_i64().unwrap()).collect();
    assert!(badges.contains(&2), "the last push counts both unread messages: {badges:?}");
}

#[tokio::test]
async fn dead_devices_are_pruned() {
    let (fake, keys) = mobile_fake().await;
    let app = spawn_app_with(|c| fcm_and_apns(c, &fake, &keys.path().join("AuthKey.p8"))).await;
    let (_, ana) = app.user("ana").await;
    let (bob_id, bob) = app.user("bob").await;
    let apns_token = "e".repeat(64);
    subscribe(&app, &bob, fake.webpush_subscription("gone-browser")).await;
    subscribe(&app, &bob, json!({"type": "fcm", "token": "gone-android"})).await;
    subscribe(&app, &bob, json!({"type": "apns", "token": apns_token, "environment": "sandbox"})).await;
    subscribe(&app, &bob, fake.webpush_subscription("live-browser")).await;
    for d in ["gone-browser", "gone-android", apns_token.as_str()] {
        fake.kill(d);
    }
    send(&app, &ana, bob_id, "anyone there?").await;
    assert_eq!(fake.wait_for("live-browser", 1, SOON).await.len(), 1);
    let start = std::time::Instant::now();
    loop {
        let (_, list) = app.get("/api/push/subscriptions", Some(&bob)).await;
        let left: Vec<Value> = list["subscriptions"].as_array().unwrap().clone();
        if left.len() == 1 {
            assert_eq!(left[0]["endpoint"], fake.url("/wp/live-browser"));
            break;
        }
        assert!(start.elapsed() < SOON, "dead devices not pruned: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.errors(), Vec::<String>::new());
}

#[tokio::test]
async fn several_nodes_on_one_database_never_send_a_push_twice() {
    let db = common::fresh_postgres().await;
    let fake = Fake::start().await;
    let node = |c: &mut Config| {
        fast(c);
        c.database_url = Some(db.clone());
        c.push.workers = 2;
        c.push.poll_ms = 10;
    };
    let a = spawn_app_with(node).await;
    let b = spawn_app_with(node).await;
    let (bob_id, bob) = a.user("bob").await;
    subscribe(&a, &bob, fake.webpush_subscription("bob")).await;
    let mut conversations = HashSet::new();
    for i in 0..12 {
        let (_, sender) = a.user(&format!("sender{i}")).await;
        let via = if i % 2 == 0 { &a } else { &b };
        conversations
            .insert(send(via, &sender, bob_id, &format!("from {i}")).await["conversationId"].as_i64());
    }
    let pushes = fake.wait_for("bob", 12, SOON).await;
    tokio::time::sleep(QUIET).await;
    let pushes = fake.pushes_to("bob").len().max(pushes.len());
    assert_eq!(pushes, 12, "one push per conversation, none twice");
    let pushed: HashSet<Option<i64>> =
        fake.pushes_to("bob").iter().map(|p| p.payload["data"]["conversationId"].as_i64()).collect();
    assert_eq!(pushed, conversations);
    assert_eq!(fake.errors(), Vec::<String>::new());
}

fn push_node(dir: &std::path::Path, workers: &str) -> common::Process {
    let env =
        [("CONFAB_PUSH__WORKERS", workers), ("CONFAB_PUSH__DELAY_MS", "100"), ("CONFAB_PUSH__POLL_MS", "50")];
    common::Process::start(dir, &["--push-allow-http-endpoints"], &env)
}

#[tokio::test]
async fn a_crash_between_commit_and_send_still_delivers_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::start().await;
    confab::install_tls_provider();
    let http = reqwest::Client::new();
    let call = |addr: &str, path: &str, token: Option<&str>, body: Value| {
        let mut req = http.post(format!("{addr}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // This node sends no pushes: the job stays in the outbox, committed.
    let mut server = push_node(dir.path(), "0");
    let register = |name: &'static str| json!({"username": name, "password": "password123"});
    let (_, ana) = call(&server.url, "/api/auth/register", None, register("ana")).await;
    let (_, bob) = call(&server.url, "/api/auth/register", None, register("bob")).await;
    let bob_token = bob["token"].as_str().unwrap();
    let (status, _) =
        call(&server.url, "/api/push/subscriptions", Some(bob_token), fake.webpush_subscription("bob")).await;
    assert_eq!(status, 201);
    let (status, sent) = call(
        &server.url,
        "/api/messages",
        Some(ana["token"].as_str().unwrap()),
        json!({"receiverId": bob["user"]["id"], "message": "survive this"}),
    )
    .await;
    assert_eq!(status, 201);
    server.kill(); // SIGKILL: no shutdown of any kind
    tokio::time::sleep(QUIET).await;
    assert!(fake.pushes_to("bob").is_empty());

    let _server = push_node(dir.path(), "4");
    let pushes = fake.wait_for("bob", 1, SOON).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(fake.pushes_to("bob").len(), 1, "delivered exactly once after the restart: {pushes:?}");
    assert_eq!(pushes[0].payload["data"]["messageId"], sent["message"]["id"]);
    assert_eq!(fake.errors(), Vec::<String>::new());
}

/// The fakes' checks can fail: a forged VAPID signature, a payload that is
/// not encrypted for the subscription, and APNs over HTTP/1.1 are refused.
#[tokio::test]
async fn the_fakes_refuse_what_a_real_provider_would() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use p256::ecdsa::signature::Signer;
    let fake = Fake::start().await;
    let sub = fake.webpush_subscription("victim");
    confab::install_tls_provider();
    let http = reqwest::Client::new();
    let vapid = |signer: &p256::ecdsa::SigningKey, claimed: &p256::ecdsa::SigningKey| {
        let input = format!(
            "{}.{}",
            B64.encode(r#"{"typ":"JWT","alg":"ES256"}"#),
            B64.encode(
                json!({"aud": fake.url(""), "exp": push_fakes::now_secs() + 3600, "sub": "mailto:x@example.com"})
                    .to_string()
            )
        );
        let sig: p256::ecdsa::Signature = signer.sign(input.as_bytes());
        let k = claimed.verifying_key().to_encoded_point(false);
        format!("vapid t={input}.{}, k={}", B64.encode(sig.to_bytes()), B64.encode(k.as_bytes()))
    };
    let key = |_: ()| p256::ecdsa::SigningKey::from(confab::notify::webpush::random_secret());
    let (real, other) = (key(()), key(()));
    let post = |auth: String, body: Vec<u8>| {
        http.post(sub["endpoint"].as_str().unwrap())
            .header("Authorization", auth)
            .header("Content-Encoding", "aes128gcm")
            .header("TTL", "60")
            .header("Urgency", "high")
            .body(body)
            .send()
    };
    let ua = B64.decode(sub["keys"]["p256dh"].as_str().unwrap()).unwrap();
    let auth = B64.decode(sub["keys"]["auth"].as_str().unwrap()).unwrap();
    let sealed = confab::notify::webpush::encrypt(
        br#"{"title":"t"}"#,
        &ua,
        &auth,
        &confab::notify::webpush::random_secret(),
        &rand::random(),
    )
    .unwrap();

    // Control: a correct request is accepted.
    assert_eq!(post(vapid(&real, &real), sealed.clone()).await.unwrap().status(), 201);
    assert_eq!(fake.errors(), Vec::<String>::new());
    // Signed by one key, claiming another.
    assert_eq!(post(vapid(&other, &real), sealed.clone()).await.unwrap().status(), 400);
    // Encrypted for someone else.
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(post(vapid(&real, &real), tampered).await.unwrap().status(), 400);
    // APNs is HTTP/2 only.
    let h1 = http.post(fake.url("/3/device/abc")).body("{}").send().await.unwrap();
    assert_eq!(h1.status(), 400);
    let errors = fake.errors();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("signature"), "{errors:?}");
    assert!(errors[1].contains("decrypt"), "{errors:?}");
    assert!(errors[2].contains("HTTP/2"), "{errors:?}");
    assert_eq!(fake.pushes().len(), 1);
}
