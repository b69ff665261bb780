//! The authorization matrix: every conversation-scoped HTTP route and
//! Socket.IO event, tried as no token, a revoked token, an expired token, an
//! outsider, a removed member and (for management) a plain member. Each
//! attempt must be refused with the right code, and afterwards nothing may
//! have changed.

use crate::common;
use common::{Sio, TestApp, spawn_app};
use confab::users::TokenHash;
use reqwest::Method;
use serde_json::{Value, json};

async fn call(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> u16 {
    let mut req = app.http.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap().status().as_u16()
}

/// What a group looks like from its owner, to prove nothing changed.
async fn snapshot(app: &TestApp, owner: &str, group: i64) -> Value {
    let (_, c) = app.get(&format!("/api/conversations/{group}"), Some(owner)).await;
    let (_, page) = app.get(&format!("/api/conversations/{group}/messages?limit=500"), Some(owner)).await;
    let (_, mutes) = app.get("/api/push/mutes", Some(owner)).await;
    json!({ "conversation": c["conversation"], "messages": page["messages"], "ownerMutes": mutes })
}

/// Logs `username` in and returns the new token.
async fn login(app: &TestApp, username: &str) -> String {
    let (status, body) =
        app.post("/api/auth/login", None, json!({"username": username, "password": "password123"})).await;
    assert_eq!(status, 200, "login {username}: {body}");
    body["token"].as_str().unwrap().to_string()
}

/// Makes a token past its expiry, the way time would: its row's `expires_at`
/// moves into the past while the server is stopped (so no node has it cached).
async fn expire(mut app: TestApp, token: &str) -> TestApp {
    app.shutdown().await;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(app.data_dir.path().join("confab.db"));
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let past =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 - 1000;
    let updated = sqlx::query("UPDATE tokens SET expires_at = ? WHERE token_hash = ?")
        .bind(past)
        .bind(TokenHash::of(token).as_bytes())
        .execute(&pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(updated, 1, "the token's row");
    pool.close().await;
    app.restart().await
}

#[tokio::test]
async fn every_route_and_event_refuses_who_may_not() {
    let app = spawn_app().await;
    let (_, ana) = app.user("ana").await; // owner
    let (bob_id, bob) = app.user("bob").await; // member
    let (cyd_id, cyd) = app.user("cyd").await; // admin
    let (dan_id, dan) = app.user("dan").await; // removed member
    let (_, eve) = app.user("eve").await; // never a member
    let revoked = login(&app, "bob").await;
    assert_eq!(app.post("/api/auth/logout", Some(&revoked), json!({})).await.0, 204);
    // It worked while it was live.
    let expired = login(&app, "bob").await;
    assert_eq!(app.get("/api/users/me", Some(&expired)).await.0, 200);
    let (status, g) = app
        .post(
            "/api/conversations",
            Some(&ana),
            json!({"type": "group", "name": "G", "memberIds": [bob_id, cyd_id, dan_id]}),
        )
        .await;
    assert_eq!(status, 201);
    let g = g["conversation"]["id"].as_i64().unwrap();
    assert_eq!(
        call(
            &app,
            Method::PATCH,
            &format!("/api/conversations/{g}/members/{cyd_id}"),
            Some(&ana),
            Some(json!({"role": "admin"}))
        )
        .await,
        200
    );
    let (_, sent) =
        app.post("/api/messages", Some(&ana), json!({"conversationId": g, "message": "hello"})).await;
    let m = sent["message"]["id"].as_i64().unwrap();
    assert_eq!(
        call(&app, Method::DELETE, &format!("/api/conversations/{g}/members/{dan_id}"), Some(&ana), None)
            .await,
        204
    );
    let app = expire(app, &expired).await;
    let before = snapshot(&app, &ana, g).await;

    // (route, body, who else besides members may not: None = any member may)
    let member_routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/conversations/{g}"), None),
        (Method::GET, format!("/api/conversations/{g}/members"), None),
        (Method::GET, format!("/api/conversations/{g}/messages"), None),
        (Method::GET, format!("/api/conversations/{g}/messages/{m}/receipts"), None),
        (Method::POST, "/api/messages".into(), Some(json!({"conversationId": g, "message": "intrusion"}))),
        (Method::PUT, format!("/api/conversations/{g}/mute"), Some(json!({}))),
        (Method::DELETE, format!("/api/conversations/{g}/mute"), None),
    ];
    let admin_routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::PATCH, format!("/api/conversations/{g}"), Some(json!({"name": "hijacked"}))),
        (Method::POST, format!("/api/conversations/{g}/members"), Some(json!({"userIds": [dan_id]}))),
        (Method::DELETE, format!("/api/conversations/{g}/members/{cyd_id}"), None),
        (Method::PATCH, format!("/api/conversations/{g}/members/{cyd_id}"), Some(json!({"role": "owner"}))),
        (Method::DELETE, format!("/api/conversations/{g}"), None),
    ];
    let mut tried = 0;
    for (method, path, body) in member_routes.iter().chain(&admin_routes) {
        for (who, token, expected) in [
            ("no token", None, [401, 401]),
            ("revoked token", Some(revoked.as_str()), [401, 401]),
            ("expired token", Some(expired.as_str()), [401, 401]),
            ("outsider", Some(eve.as_str()), [403, 404]),
            ("removed member", Some(dan.as_str()), [403, 404]),
        ] {
            let status = call(&app, method.clone(), path, token, body.clone()).await;
            assert!(expected.contains(&status), "{method} {path} as {who}: {status}");
            tried += 1;
        }
    }
    for (method, path, body) in &admin_routes {
        let status = call(&app, method.clone(), path, Some(&bob), body.clone()).await;
        assert_eq!(status, 403, "{method} {path} as a plain member");
        tried += 1;
    }
    // An admin may not touch the owner's role or remove the owner.
    let ana_id = app.get("/api/users/me", Some(&ana)).await.1["user"]["id"].as_i64().unwrap();
    for (method, path, body) in [
        (Method::DELETE, format!("/api/conversations/{g}/members/{ana_id}"), None),
        (Method::PATCH, format!("/api/conversations/{g}/members/{ana_id}"), Some(json!({"role": "member"}))),
        (Method::DELETE, format!("/api/conversations/{g}"), None),
    ] {
        assert_eq!(
            call(&app, method.clone(), &path, Some(&cyd), body).await,
            403,
            "{method} {path} as admin"
        );
        tried += 1;
    }

    // An expired token is refused like a revoked one: the same status and code.
    for token in [&revoked, &expired] {
        let (status, body) = app.get("/api/users/me", Some(token)).await;
        assert_eq!((status, &body["error"]["code"]), (401, &json!("unauthorized")), "{body}");
    }

    // Socket.IO: no token, a revoked or an expired one cannot connect;
    // outsiders and the removed member are refused on every conversation event.
    for (who, token) in
        [("no token", None), ("revoked token", Some(&revoked)), ("expired token", Some(&expired))]
    {
        let refused = Sio::connect(app.addr, token.map(String::as_str)).await.err();
        assert!(refused.as_deref().is_some_and(|e| e.starts_with("unauthorized")), "{who}: {refused:?}");
        tried += 1;
    }
    for token in [&eve, &dan] {
        let mut s = app.socket(token).await;
        for (event, payload) in [
            ("send_message", json!({"conversationId": g, "message": "intrusion"})),
            ("fetch_unread_messages", json!({"conversationId": g})),
            ("mark_read", json!({"conversationId": g, "messageId": m})),
            ("typing", json!({"conversationId": g, "isTyping": true})),
        ] {
            let ack = s.call(event, payload).await;
            assert_eq!(ack["error"]["code"], "forbidden", "{event}: {ack}");
            tried += 1;
        }
        // A socket for one user never acts as another.
        let ack =
            s.call("send_message", json!({"receiverId": bob_id, "message": "hi", "senderId": bob_id})).await;
        assert_eq!(ack["error"]["code"], "forbidden");
        tried += 1;
    }

    assert_eq!(snapshot(&app, &ana, g).await, before, "nothing changed");
    // The matrix really ran (a guard against an empty loop).
    assert_eq!(tried, 12 * 5 + 5 + 3 + 3 + 2 * 5, "cases tried");
    eprintln!("authorization cases tried: {tried}");
}

#[tokio::test]
async fn media_and_push_devices_are_private() {
    let app = spawn_app().await;
    let (_, ana) = app.user("ana").await;
    let (_, eve) = app.user("eve").await;
    let res = app
        .http
        .post(app.url("/api/media?name=a.bin"))
        .bearer_auth(&ana)
        .header("Content-Type", "application/octet-stream")
        .body(vec![1u8; 64])
        .send()
        .await
        .unwrap();
    let media: Value = res.json().await.unwrap();
    let id = media["media"]["id"].as_str().unwrap();
    let (_, sub) =
        app.post("/api/push/subscriptions", Some(&ana), json!({"type": "fcm", "token": "ana-device"})).await;
    let sub = sub["subscription"]["id"].as_i64().unwrap();
    for (method, path) in [
        (Method::GET, format!("/api/media/{id}")),
        (Method::GET, format!("/api/media/{id}/thumbnail")),
        (Method::GET, format!("/api/media/{id}/link")),
        (Method::DELETE, format!("/api/media/{id}")),
        (Method::DELETE, format!("/api/push/subscriptions/{sub}")),
    ] {
        assert_eq!(call(&app, method.clone(), &path, Some(&eve), None).await, 404, "{method} {path}");
        assert_eq!(
            call(&app, method.clone(), &path, None, None).await,
            401,
            "{method} {path} without a token"
        );
    }
    // Still there for the owner.
    assert_eq!(call(&app, Method::GET, &format!("/api/media/{id}"), Some(&ana), None).await, 200);
    let (_, list) = app.get("/api/push/subscriptions", Some(&ana)).await;
    assert_eq!(list["subscriptions"].as_array().unwrap().len(), 1);
    // Unguessable ids: a made-up one is "not found" like someone else's.
    assert_eq!(call(&app, Method::GET, "/api/media/AAAAAAAAAAAAAAAAAAAAAA", Some(&eve), None).await, 404);
}
