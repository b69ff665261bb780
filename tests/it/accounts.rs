//! Account deletion (`DELETE /api/users/me`, `confab admin delete-user`) and
//! export (`GET /api/users/me/export`), on one node and on a two-node cluster.

use crate::common::{self, Process, Sio, TestApp, WAIT, register_at, spawn_app_with};
use crate::push_fakes::Fake;
use serde_json::{Value, json};

async fn delete_me(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    body: Value,
) -> (u16, Value) {
    let res = http
        .delete(format!("{base}/api/users/me{query}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn sqlite_count(app: &TestApp, sql: &'static str, user: i64) -> i64 {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(app.data_dir.path().join("confab.db"))
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).bind(user).fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

/// Everything a deleted user leaves behind, as bob sees it.
async fn messages_of(app: &TestApp, token: &str, conversation: i64) -> Vec<Value> {
    let (status, page) = app.get(&format!("/api/conversations/{conversation}/messages"), Some(token)).await;
    assert_eq!(status, 200, "{page}");
    page["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn deleting_an_account_keeps_its_messages_for_others_and_removes_the_rest() {
    let app = spawn_app_with(|_| {}).await;
    let base = format!("http://{}", app.addr);
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let mut a = app.socket(&ta).await;
    let mut b = app.socket(&tb).await;
    let to_bob = a.call("send_message", json!({"receiverId": bob, "message": "hi bob"})).await;
    let direct = to_bob["message"]["conversationId"].as_i64().unwrap();
    b.call("send_message", json!({"receiverId": ana, "message": "hi ana"})).await;
    let (status, group) = app
        .post(
            "/api/conversations",
            Some(&ta),
            json!({"type": "group", "name": "g", "memberIds": [bob, carol]}),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let group = group["conversation"]["id"].as_i64().unwrap();
    a.call("send_message", json!({"conversationId": group, "message": "group hello"})).await;
    let fake = Fake::start().await;
    let mut device = fake.webpush_subscription("ana-phone");
    device["endpoint"] = json!("https://push.example.net/send/ana");
    let (status, body) = app.post("/api/push/subscriptions", Some(&ta), device).await;
    assert_eq!(status, 201, "{body}");
    let upload = app
        .http
        .post(app.url("/api/media?name=notes.txt"))
        .bearer_auth(&ta)
        .header("Content-Type", "text/plain")
        .body("my notes")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status().as_u16(), 201);
    let media_id = upload.json::<Value>().await.unwrap()["media"]["id"].as_str().unwrap().to_string();

    // The export: profile, both conversations, what ana sent, her upload.
    let (status, export) = app.get("/api/users/me/export", Some(&ta)).await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["profile"]["id"].as_i64(), Some(ana));
    assert_eq!(export["profile"]["username"], "ana");
    let mut convs: Vec<i64> =
        export["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    convs.sort_unstable();
    assert_eq!(convs, vec![direct, group]);
    let texts: Vec<&str> =
        export["messages"].as_array().unwrap().iter().map(|m| m["message"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["hi bob", "group hello"], "only what she sent, text only, oldest first");
    assert_eq!(export["media"][0]["id"].as_str(), Some(media_id.as_str()));
    assert!(export["exportedAt"].is_i64());
    let (status, _) = app.get("/api/users/me/export", None).await;
    assert_eq!(status, 401);

    // Refusals change nothing.
    let (status, body) = delete_me(&app.http, &base, &ta, "", json!({"password": "wrong-password"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    let (status, body) = delete_me(&app.http, &base, &ta, "", json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid")), "{body}");
    let (status, body) =
        delete_me(&app.http, &base, &ta, "?messages=delete", json!({"password": "wrong-password"})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) =
        delete_me(&app.http, &base, &ta, "?messages=maybe", json!({"password": "password123"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(app.get("/api/users/me", Some(&ta)).await.0, 200, "still there after the refusals");
    assert!(!a.is_closed());

    let (status, body) = delete_me(&app.http, &base, &ta, "", json!({"password": "password123"})).await;
    assert_eq!(status, 204, "{body}");
    assert!(a.closed().await, "her socket is closed");
    assert_eq!(app.get("/api/users/me", Some(&ta)).await.0, 401, "her token is revoked");
    // Bob hears it live: her leaving note in the group and its new member list.
    let note = loop {
        let e = b.recv("receive_message").await.data;
        // (After the group's creation note, still queued.)
        if e["conversationId"] == group
            && e["type"] == "system"
            && e["message"] != "ana created the group “g”"
        {
            break e;
        }
    };
    assert_eq!(note["message"], "ana left", "{note}");
    loop {
        let e = b.recv("conversation_updated").await.data;
        let members = e["conversation"]["members"].as_array().cloned().unwrap_or_default();
        if e["conversation"]["id"] == group && members.iter().all(|m| m["userId"].as_i64() != Some(ana)) {
            assert!(members.iter().any(|m| m["role"] == "owner"), "{e}");
            break;
        }
    }
    let (status, _) =
        app.post("/api/auth/login", None, json!({"username": "ana", "password": "password123"})).await;
    assert_eq!(status, 401, "she cannot log in");

    // Her messages stay, from "Deleted user" (senderName null).
    for conversation in [direct, group] {
        let msgs = messages_of(&app, &tb, conversation).await;
        let hers: Vec<&Value> = msgs.iter().filter(|m| m["senderId"].as_i64() == Some(ana)).collect();
        assert!(hers.iter().any(|m| m["type"] == "text"), "{msgs:?}");
        for m in hers {
            assert_eq!(m["senderName"], Value::Null, "{m}");
        }
    }
    let direct_msgs = messages_of(&app, &tb, direct).await;
    assert_eq!(direct_msgs.len(), 2, "bob's own message and hers");
    // She left the group with a note; it has an owner again.
    let (status, g) = app.get(&format!("/api/conversations/{group}"), Some(&tb)).await;
    assert_eq!(status, 200, "{g}");
    let members = g["conversation"]["members"].as_array().unwrap();
    assert!(members.iter().all(|m| m["userId"].as_i64() != Some(ana)), "{g}");
    assert!(members.iter().any(|m| m["role"] == "owner"), "{g}");
    let (_, profile) = app.get(&format!("/api/users/{ana}"), Some(&tb)).await;
    assert_eq!(profile["user"]["displayName"], "Deleted user", "{profile}");
    assert_ne!(profile["user"]["username"], "ana");
    let (_, found) = app.get("/api/users?q=ana", Some(&tb)).await;
    assert_eq!(found["users"], json!([]), "{found}");
    let (_, found) = app.get("/api/users?q=%23", Some(&tb)).await;
    assert_eq!(found["users"], json!([]), "tombstones are not listed: {found}");
    // Devices, mutes and uploads are gone; the name is free again.
    assert_eq!(sqlite_count(&app, "SELECT COUNT(*) FROM push_subscriptions WHERE user_id = ?", ana).await, 0);
    assert_eq!(sqlite_count(&app, "SELECT COUNT(*) FROM media WHERE owner_id = ?", ana).await, 0);
    assert_eq!(sqlite_count(&app, "SELECT COUNT(*) FROM members WHERE user_id = ?", ana).await, 0);
    let (status, _) = app.get(&format!("/api/media/{media_id}"), Some(&tb)).await;
    assert_eq!(status, 404);
    assert_ne!(app.user("ana").await.0, ana, "a new account may take the name");
    // Bob is unaffected.
    let ack = b.call("fetch_unread_messages", json!({})).await;
    assert!(ack.get("error").is_none(), "{ack}");
}

async fn wait_closed(s: &Sio) -> bool {
    s.closed_within(WAIT).await
}

/// Two nodes: the user is connected to both, deletes the account on one; her
/// sockets close on both, her token is refused on both, and the other
/// node's users see her messages from "Deleted user".
#[tokio::test]
async fn deleting_an_account_on_one_node_of_a_cluster_ends_it_everywhere() {
    let db = common::fresh_postgres().await;
    let prefix = db.rsplit('/').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let env = [("CONFAB_CLUSTER__REDIS_PREFIX", prefix.as_str()), ("CONFAB_METRICS_LISTEN", "")];
    let args = ["--database-url", db.as_str(), "--redis-url", "redis://127.0.0.1:6379"];
    let n1 = Process::start(dir.path(), &args, &env);
    let n2 = Process::start(dir.path(), &args, &env);
    let http = reqwest::Client::new();
    let (ana, ta) = register_at(&http, n1.addr(), "ana").await;
    let (bob, tb) = register_at(&http, n2.addr(), "bob").await;
    let mut a1 = Sio::connect(n1.addr(), Some(&ta)).await.unwrap();
    let a2 = Sio::connect(n2.addr(), Some(&ta)).await.unwrap();
    let b2 = Sio::connect(n2.addr(), Some(&tb)).await.unwrap();
    let sent = a1.call("send_message", json!({"receiverId": bob, "message": "across nodes"})).await;
    let conversation = sent["message"]["conversationId"].as_i64().unwrap();
    let got = b2.recv("receive_message").await;
    assert_eq!(got.data["message"], "across nodes");

    let (status, body) = delete_me(&http, &n1.url, &ta, "", json!({"password": "password123"})).await;
    assert_eq!(status, 204, "{body}");
    assert!(wait_closed(&a1).await, "closed on the node that deleted");
    assert!(wait_closed(&a2).await, "closed on the other node");
    for node in [n1.addr(), n2.addr()] {
        let me = http.get(format!("http://{node}/api/users/me")).bearer_auth(&ta).send().await.unwrap();
        assert_eq!(me.status().as_u16(), 401, "token refused on {node}");
        assert!(Sio::connect(node, Some(&ta)).await.is_err(), "no new socket on {node}");
    }
    let page: Value = http
        .get(format!("http://{}/api/conversations/{conversation}/messages", n2.addr()))
        .bearer_auth(&tb)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let m = &page["messages"][0];
    assert_eq!((m["senderId"].as_i64(), m["message"].as_str()), (Some(ana), Some("across nodes")));
    assert_eq!(m["senderName"], Value::Null);
    assert!(!b2.is_closed(), "bob stays connected");
}

/// `confab admin delete-user` does the same from the command line while the
/// server runs: the user's socket closes within seconds.
#[tokio::test]
async fn admin_delete_user_deletes_the_account_of_a_running_node() {
    let app = spawn_app_with(|_| {}).await;
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let sent = a.call("send_message", json!({"receiverId": bob, "message": "before deletion"})).await;
    let conversation = sent["message"]["conversationId"].as_i64().unwrap();
    let dir = app.data_dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["admin", "delete-user", "ana", "--data-dir"])
            .arg(dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted ana"));
    assert!(a.closed().await, "the running node closed her socket");
    assert_eq!(app.get("/api/users/me", Some(&ta)).await.0, 401);
    let msgs = messages_of(&app, &tb, conversation).await;
    assert_eq!((msgs[0]["senderId"].as_i64(), &msgs[0]["senderName"]), (Some(ana), &Value::Null));
    // Again: there is no such user any more.
    let dir = app.data_dir.path().to_path_buf();
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["admin", "delete-user", "ana", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no user named"));
}

/// `?messages=delete`: the account goes as above, and every message it sent
/// becomes a tombstone (no text, no attachments, no gap) that members online
/// hear about at once; messages of others stay untouched.
#[tokio::test]
async fn deleting_an_account_with_its_messages_tombstones_them_for_everyone() {
    let app = spawn_app_with(|_| {}).await;
    let base = format!("http://{}", app.addr);
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let mut b = app.socket(&tb).await;
    let mut sent = Vec::new();
    for text in ["one", "two"] {
        let ack = a.call("send_message", json!({"receiverId": bob, "message": text})).await;
        sent.push(ack["message"]["id"].as_i64().unwrap());
    }
    let direct = a.call("send_message", json!({"receiverId": bob, "message": "three"})).await;
    sent.push(direct["message"]["id"].as_i64().unwrap());
    let direct = direct["message"]["conversationId"].as_i64().unwrap();
    let bobs = b.call("send_message", json!({"receiverId": ana, "message": "bob stays"})).await;
    let bobs = bobs["message"]["id"].as_i64().unwrap();

    let (status, body) =
        delete_me(&app.http, &base, &ta, "?messages=delete", json!({"password": "password123"})).await;
    assert_eq!(status, 204, "{body}");
    let mut told = Vec::new();
    while told.len() < sent.len() {
        let ev = b.recv("message_deleted").await;
        assert_eq!(ev.data["conversationId"].as_i64(), Some(direct));
        told.push(ev.data["messageId"].as_i64().unwrap());
    }
    told.sort_unstable();
    assert_eq!(told, sent, "bob is told of every deleted message");

    let msgs = messages_of(&app, &tb, direct).await;
    for m in &msgs {
        let id = m["id"].as_i64().unwrap();
        if sent.contains(&id) {
            assert_eq!((m["deleted"].as_bool(), m["message"].as_str()), (Some(true), Some("")), "{m}");
            assert_eq!(m["attachments"], json!([]), "{m}");
        } else {
            assert_eq!(id, bobs);
            assert_eq!(m["message"], "bob stays", "{m}");
        }
    }
    assert_eq!(msgs.len(), 4, "ids and seqs stay: no gap");
    assert!(a.closed().await, "her socket is closed");
}
