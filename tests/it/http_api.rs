//! The REST contract over real HTTP against a spawned server.

use crate::common;
use common::spawn_app;
use serde_json::json;

#[tokio::test]
async fn register_login_and_errors() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"username": "Ana", "password": "password123", "displayName": "Ana B"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["user"]["id"].is_i64());
    assert_eq!(body["user"]["username"], "Ana");
    assert_eq!(body["user"]["displayName"], "Ana B");
    assert!(body["token"].as_str().is_some_and(|t| t.len() >= 32));

    // Usernames are unique regardless of case.
    let (status, body) =
        app.post("/api/auth/register", None, json!({"username": "ana", "password": "password123"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("conflict")));

    for bad in [
        json!({"username": "a", "password": "password123"}),
        json!({"username": "bob", "password": "short"}),
        json!({"username": 5, "password": "password123"}),
        json!({"password": "password123"}),
        json!({"username": "bob", "password": "password123", "displayName": 3}),
        json!([1, 2]),
    ] {
        let (status, body) = app.post("/api/auth/register", None, bad.clone()).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid")), "{bad}");
    }

    let (status, body) =
        app.post("/api/auth/login", None, json!({"username": "ANA", "password": "password123"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "Ana");
    let token = body["token"].as_str().expect("token").to_string();

    for (user, pass) in [("ana", "wrong-password"), ("nobody", "password123")] {
        let (status, body) =
            app.post("/api/auth/login", None, json!({"username": user, "password": pass})).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthorized");
        // Same message either way: no user enumeration.
        assert_eq!(body["error"]["message"], "wrong username or password");
    }

    let (status, me) = app.get("/api/users/me", Some(&token)).await;
    assert_eq!((status, me["user"]["username"].as_str()), (200, Some("Ana")));
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_clear_errors() {
    let app = spawn_app_small_body().await;
    let res = app
        .http
        .post(app.url("/api/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 400);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid");

    let big = json!({"username": "x".repeat(5000), "password": "password123"});
    let (status, body) = app.post("/api/auth/register", None, big).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("too_large")));

    let (status, body) = app.get("/api/no/such/route", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
}

async fn spawn_app_small_body() -> common::TestApp {
    common::spawn_app_with(|c| c.limits.http_body_max = 1024).await
}

#[tokio::test]
async fn every_other_route_needs_a_valid_token() {
    let app = spawn_app().await;
    let (_, token) = app.user("carol").await;
    for path in [
        "/api/users/me",
        "/api/users?q=c",
        "/api/users/1",
        "/api/conversations",
        "/api/conversations/1/messages",
    ] {
        for bad in [None, Some("garbage-token")] {
            let (status, body) = app.get(path, bad).await;
            assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{path}");
        }
    }
    let (status, _) = app.post("/api/messages", None, json!({"receiverId": 1, "message": "hi"})).await;
    assert_eq!(status, 401);

    // Logout revokes the token at once.
    let (status, _) = app.post("/api/auth/logout", Some(&token), json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = app.get("/api/users/me", Some(&token)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let app = spawn_app().await;
    let (_, token) = app.user("dora").await;
    // Expire the token behind the server's back, then restart so no cache remembers it.
    let app = app.restart().await;
    let db = app.data_dir.path().join("confab.db");
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&db);
    let pool = sqlx::SqlitePool::connect_with(opts).await.expect("open db");
    sqlx::query("UPDATE tokens SET expires_at = 0").execute(&pool).await.expect("update");
    pool.close().await;
    let (status, body) = app.get("/api/users/me", Some(&token)).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("expired")));
}

#[tokio::test]
async fn user_search_and_profiles() {
    let app = spawn_app().await;
    let (id, token) = app.user("erin_1").await;
    app.user("erin_2").await;
    app.user("frank").await;
    let (status, body) = app.get("/api/users?q=ERIN", Some(&token)).await;
    assert_eq!(status, 200);
    let names: Vec<_> =
        body["users"].as_array().expect("array").iter().map(|u| u["username"].clone()).collect();
    assert_eq!(names, vec![json!("erin_1"), json!("erin_2")]);
    // '_' is not a wildcard.
    let (_, body) = app.get("/api/users?q=erin_", Some(&token)).await;
    assert_eq!(body["users"].as_array().map(Vec::len), Some(2));
    let (_, body) = app.get("/api/users?q=erinx", Some(&token)).await;
    assert_eq!(body["users"].as_array().map(Vec::len), Some(0));

    let (status, body) = app.get(&format!("/api/users/{id}"), Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["user"]["username"], "erin_1");
    assert_eq!(body["user"]["online"], false);
    for missing in ["999999", "abc", "-1"] {
        let (status, _) = app.get(&format!("/api/users/{missing}"), Some(&token)).await;
        assert_eq!(status, 404, "{missing}");
    }
}

#[tokio::test]
async fn rest_send_history_and_conversations() {
    let app = spawn_app().await;
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let (_, tc) = app.user("cyd").await;
    let (dee, _) = app.user("dee").await;

    let (status, body) = app
        .post("/api/messages", Some(&ta), json!({"receiverId": bob, "message": "hello", "clientMsgId": "c1"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let m = &body["message"];
    assert_eq!((m["senderId"].as_i64(), m["receiverId"].as_i64()), (Some(ana), Some(bob)));
    assert_eq!(m["status"], "sent");
    assert_eq!(m["seq"], 1);
    let conv = m["conversationId"].as_i64().expect("conversation id");

    // Same clientMsgId: the original, not a copy.
    let (_, again) = app
        .post("/api/messages", Some(&ta), json!({"receiverId": bob, "message": "hello", "clientMsgId": "c1"}))
        .await;
    assert_eq!(again["message"]["id"], m["id"]);
    // A message elsewhere, so message ids and seqs of this conversation differ.
    app.post("/api/messages", Some(&ta), json!({"receiverId": dee, "message": "to dee"})).await;
    let mut ids = vec![m["id"].as_i64().expect("id")];
    for i in 0..3 {
        let (_, r) = app
            .post("/api/messages", Some(&tb), json!({"receiverId": ana, "message": format!("r{i}")}))
            .await;
        ids.push(r["message"]["id"].as_i64().expect("id"));
    }

    let (status, page) = app.get(&format!("/api/conversations/{conv}/messages?limit=2"), Some(&ta)).await;
    assert_eq!(status, 200);
    let seqs: Vec<_> =
        page["messages"].as_array().expect("array").iter().map(|m| m["seq"].as_i64()).collect();
    assert_eq!(seqs, vec![Some(4), Some(3)], "newest first");
    // `before` is a message id: the page older than the third message.
    let (_, page) =
        app.get(&format!("/api/conversations/{conv}/messages?before={}&limit=10", ids[2]), Some(&ta)).await;
    let seqs: Vec<_> =
        page["messages"].as_array().expect("array").iter().map(|m| m["seq"].as_i64()).collect();
    assert_eq!(seqs, vec![Some(2), Some(1)]);

    // Outsiders get the same 403 whether or not the conversation exists.
    let (status, outsider) = app.get(&format!("/api/conversations/{conv}/messages"), Some(&tc)).await;
    assert_eq!(status, 403);
    let (status, missing) = app.get("/api/conversations/424242/messages", Some(&tc)).await;
    assert_eq!(status, 403);
    assert_eq!(outsider, missing, "no way to tell them apart");

    let (_, list) = app.get("/api/conversations", Some(&ta)).await;
    let c = &list["conversations"][0];
    assert_eq!(c["id"].as_i64(), Some(conv));
    assert_eq!(c["type"], "direct");
    assert_eq!(c["peerId"].as_i64(), Some(bob));
    let names: Vec<_> =
        c["members"].as_array().expect("members").iter().map(|m| m["username"].clone()).collect();
    assert_eq!(names, vec![json!("ana"), json!("bob")]);
    assert_eq!(c["unreadCount"], 3);
    assert_eq!(c["lastMessage"]["message"], "r2");
    let (_, list) = app.get("/api/conversations", Some(&tb)).await;
    assert_eq!(list["conversations"][0]["unreadCount"], 1);
    let (_, list) = app.get("/api/conversations", Some(&tc)).await;
    assert_eq!(list["conversations"].as_array().map(Vec::len), Some(0));

    // Rules are the socket's rules.
    let (status, body) =
        app.post("/api/messages", Some(&ta), json!({"receiverId": ana, "message": "me"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid")));
    let (status, body) =
        app.post("/api/messages", Some(&ta), json!({"receiverId": 99999, "message": "x"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, body) = app
        .post("/api/messages", Some(&ta), json!({"receiverId": bob, "message": "x", "senderId": bob}))
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
    let (status, body) =
        app.post("/api/messages", Some(&ta), json!({"receiverId": bob, "message": "x".repeat(4001)})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("too_large")));
}

#[tokio::test]
async fn health_and_the_bundled_web_client() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/healthz")).send().await.expect("sent");
    assert_eq!(res.status().as_u16(), 200);
    let res = app.http.get(app.url("/")).send().await.expect("sent");
    let csp = res.headers()["content-security-policy"].to_str().expect("ascii").to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let page = res.text().await.expect("text");
    assert!(page.contains("<title>Confab</title>") && page.contains("/js/app.js"));
    for asset in [
        "/js/app.js",
        "/js/api.js",
        "/js/dom.js",
        "/js/notify.js",
        "/sw.js",
        "/style.css",
        "/vendor/socket.io.min.js",
    ] {
        let res = app.http.get(app.url(asset)).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200, "{asset}");
        assert!(res.bytes().await.expect("body").len() > 100, "{asset} has content");
    }
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_without_revealing_the_account() {
    let app = spawn_app().await;
    app.user("ana").await;
    app.user("bob").await;
    let login = |user: &'static str, pass: &'static str| {
        app.post("/api/auth/login", None, json!({"username": user, "password": pass}))
    };
    for _ in 0..5 {
        assert_eq!(login("ana", "wrong-password").await.0, 401);
        assert_eq!(login("nobody", "wrong-password").await.0, 401);
    }
    // Now even the right password waits, and an unknown account answers the same.
    let (status, body) = login("ana", "password123").await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")), "{body}");
    assert_eq!(login("nobody", "password123").await.0, 429);
    // Other accounts are not affected.
    assert_eq!(login("bob", "password123").await.0, 200);
    // The first delay is a second; then the right password works and clears the count.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(login("ana", "password123").await.0, 200);
    assert_eq!(login("ana", "wrong-password").await.0, 401);
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_configured() {
    let preflight = |app: &common::TestApp, origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/users/me"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
            .send()
    };
    let closed = spawn_app().await;
    let res = preflight(&closed, "https://chat.example.com").await.expect("sent");
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = closed.http.get(closed.url("/healthz")).send().await.expect("sent");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");

    let open = common::spawn_app_with(|c| c.cors_origins = vec!["https://chat.example.com".into()]).await;
    let res = preflight(&open, "https://chat.example.com").await.expect("sent");
    assert_eq!(res.headers()["access-control-allow-origin"], "https://chat.example.com");
    assert!(res.headers()["access-control-allow-headers"].to_str().expect("ascii").contains("authorization"));
    let res = preflight(&open, "https://evil.example.net").await.expect("sent");
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

/// A burst of 64 logins at once against a node that hashes 2 at a time:
/// the others wait their turn (memory stays at 2 × ~19 MiB of Argon2 state;
/// `users::password` counts the peak in its unit tests) and all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_waits_for_hashing_permits_and_all_succeed() {
    let app = common::spawn_app_with(|c| c.auth.password_hashes_at_once = 2).await;
    let names: Vec<String> = (0..8).map(|i| format!("burst{i}")).collect();
    for name in &names {
        app.user(name).await;
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..64 {
        let (http, url) = (app.http.clone(), app.url("/api/auth/login"));
        let name = names[i % names.len()].clone();
        set.spawn(async move {
            let res = http
                .post(url)
                .json(&json!({"username": name, "password": "password123"}))
                .send()
                .await
                .expect("request sent");
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.unwrap_or_default())
        });
    }
    let mut tokens = Vec::new();
    while let Some(done) = set.join_next().await {
        let (status, body) = done.expect("task ran");
        assert_eq!(status, 200, "{body}");
        tokens.push(body["token"].as_str().expect("token").to_string());
    }
    assert_eq!(tokens.len(), 64);
    for token in tokens.iter().step_by(7) {
        assert_eq!(app.get("/api/users/me", Some(token)).await.0, 200);
    }
}
