//! The SSRF guard on Web Push endpoints: endpoints on loopback, private or
//! other non-public addresses are refused at subscribe time, and a stored
//! endpoint whose name now resolves to one (DNS rebinding) is never
//! connected to, unless `push.allow_private_endpoints` is on.

use crate::common;
use crate::push_fakes;

use common::{TestApp, spawn_app_with};
use push_fakes::Fake;
use serde_json::{Value, json};
use std::time::Duration;

fn with_endpoint(mut sub: Value, endpoint: &str) -> Value {
    sub["endpoint"] = json!(endpoint);
    sub
}

async fn subscribe(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    app.post("/api/push/subscriptions", Some(token), body).await
}

#[tokio::test]
async fn private_endpoints_are_refused_at_subscribe_time() {
    let app = spawn_app_with(|_| {}).await; // defaults: https only, public only
    let fake = Fake::start().await;
    let (_, ana) = app.user("ana").await;
    let sub = fake.webpush_subscription("x");
    for endpoint in [
        "https://127.0.0.1/wp/x",
        "https://127.0.0.1:8443/wp/x",
        "https://10.0.0.1/wp/x",
        "https://192.168.1.20/wp/x",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/wp/x",
        "https://[::1]/wp/x",
        "https://[fd00::1]/wp/x",
        "https://[::ffff:127.0.0.1]/wp/x",
        "https://2130706433/wp/x", // 127.0.0.1 spelled as a number
        "https://0.0.0.0/wp/x",
        "https://localhost/wp/x", // a name resolving to loopback
    ] {
        let (status, body) = subscribe(&app, &ana, with_endpoint(sub.clone(), endpoint)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid")), "{endpoint}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("allow_private_endpoints"), "{body}");
    }
    let (_, list) = app.get("/api/push/subscriptions", Some(&ana)).await;
    assert_eq!(list["subscriptions"], json!([]), "nothing was stored");

    // The opt-out, for a push service inside your own network.
    let private = spawn_app_with(|c| c.push.allow_private_endpoints = true).await;
    let (_, bob) = private.user("bob").await;
    for endpoint in ["https://10.0.0.1/wp/x", "https://localhost/wp/y"] {
        let (status, body) = subscribe(&private, &bob, with_endpoint(sub.clone(), endpoint)).await;
        assert_eq!(status, 201, "{endpoint}: {body}");
    }
}

#[tokio::test]
async fn a_stored_endpoint_that_now_points_inside_is_never_contacted() {
    // With private endpoints allowed (as a test push service needs), bob
    // subscribes through a name and through an IP literal; both work.
    let fast = |c: &mut confab::config::Config| {
        c.push.allow_http_endpoints = true;
        c.push.delay_ms = 100;
        c.push.poll_ms = 50;
        c.push.retry_base_ms = 100;
    };
    let app = spawn_app_with(fast).await;
    let fake = Fake::start().await;
    let (_, ana) = app.user("ana").await;
    let (bob_id, bob) = app.user("bob").await;
    let by_name = fake.webpush_subscription("by-name");
    let by_name_url = fake.url("/wp/by-name").replace("127.0.0.1", "localhost");
    assert_eq!(subscribe(&app, &bob, with_endpoint(by_name, &by_name_url)).await.0, 201);
    assert_eq!(subscribe(&app, &bob, fake.webpush_subscription("by-ip")).await.0, 201);
    let send = async |app: &TestApp, text: &str| {
        let body = json!({"receiverId": bob_id, "message": text});
        assert_eq!(app.post("/api/messages", Some(&ana), body).await.0, 201);
    };
    // The fake checks the VAPID audience against 127.0.0.1; the push by
    // name only needs to arrive, so it is answered 201 without checks.
    fake.script("by-name", &[(201, None)]);
    send(&app, "first").await;
    assert_eq!(fake.wait_attempts("by-name", 1, Duration::from_secs(10)).await.len(), 1);
    assert_eq!(fake.wait_for("by-ip", 1, Duration::from_secs(10)).await.len(), 1);

    // The same stored endpoints once private ones are no longer allowed: as
    // if their name had been re-pointed at an internal address after the
    // subscription was accepted. Nothing reaches them.
    let app = app
        .restart_with(|c| {
            fast(c);
            c.push.allow_http_endpoints = false;
        })
        .await;
    send(&app, "second").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.attempts_to("by-name").len(), 1, "the name resolving to loopback was not contacted");
    assert_eq!(fake.attempts_to("by-ip").len(), 1, "the loopback literal was not contacted");
    // The literal can never be valid again: that device is pruned.
    let (_, list) = app.get("/api/push/subscriptions", Some(&bob)).await;
    let left: Vec<&str> =
        list["subscriptions"].as_array().unwrap().iter().map(|s| s["endpoint"].as_str().unwrap()).collect();
    assert_eq!(left, vec![by_name_url.as_str()]);
}
