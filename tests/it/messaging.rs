//! Edit, delete, reply, reactions, search and block (#17) over the real
//! server: REST and Socket.IO, every member's devices told, pushes dropped,
//! and the same events across a two-node cluster.

use crate::cluster::Cluster;
use crate::common::{Sio, TestApp, spawn_app};
use serde_json::{Value, json};
use std::time::Duration;

const QUIET: Duration = Duration::from_millis(400);

async fn send(s: &mut Sio, to: Value, text: &str) -> Value {
    let mut payload = json!({"message": text});
    payload.as_object_mut().unwrap().extend(to.as_object().unwrap().clone());
    let ack = s.call("send_message", payload).await;
    assert!(ack["message"]["id"].is_i64(), "sent: {ack}");
    ack["message"].clone()
}

async fn request(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn edit_reaches_every_device_and_history() {
    let app = spawn_app().await;
    let (_, ta) = app.user("ed_a").await;
    let (b, tb) = app.user("ed_b").await;
    let (mut a1, a2, b1) = (app.socket(&ta).await, app.socket(&ta).await, app.socket(&tb).await);
    let m = send(&mut a1, json!({"receiverId": b}), "helo").await;
    b1.recv("receive_message").await;
    let id = m["id"].as_i64().unwrap();
    assert_eq!(m["editedAt"], Value::Null);
    assert_eq!(m["replyTo"], Value::Null);
    assert_eq!(m["reactions"], json!([]));
    assert_eq!(m["deleted"], false);

    let ack = a1.call("edit_message", json!({"messageId": id, "message": "hello"})).await;
    assert_eq!(ack["message"]["message"], "hello", "{ack}");
    assert!(ack["message"]["editedAt"].is_string());
    for s in [&a1, &a2, &b1] {
        let e = s.recv("message_updated").await;
        assert_eq!(e.data["message"]["id"], id);
        assert_eq!(e.data["message"]["message"], "hello");
    }
    let (status, page) =
        app.get(&format!("/api/conversations/{}/messages", m["conversationId"]), Some(&tb)).await;
    assert_eq!(status, 200);
    assert_eq!(page["messages"][0]["message"], "hello");
    assert!(page["messages"][0]["editedAt"].is_string());

    // Others' messages, bad input, REST.
    let mut b1 = b1;
    let ack = b1.call("edit_message", json!({"messageId": id, "message": "mine now"})).await;
    assert_eq!(ack["error"]["code"], "forbidden", "{ack}");
    let ack = a1.call("edit_message", json!({"messageId": id, "message": "  "})).await;
    assert_eq!(ack["error"]["code"], "invalid");
    let ack = a1.call("edit_message", json!({"message": "x"})).await;
    assert_eq!(ack["error"]["code"], "invalid");
    let ack = a1.call("edit_message", json!({"messageId": 999_999, "message": "x"})).await;
    assert_eq!(ack["error"]["code"], "not_found");
    let (status, body) = request(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/messages/{id}"),
        &ta,
        Some(json!({"message": "via REST"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"]["message"], "via REST");
    let (status, _) = request(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/messages/{id}"),
        &tb,
        Some(json!({"message": "x"})),
    )
    .await;
    assert_eq!(status, 403);
    let long = "x".repeat(100_000);
    let (status, _) = request(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/messages/{id}"),
        &ta,
        Some(json!({"message": long})),
    )
    .await;
    assert!(status == 413 || status == 400, "too long: {status}");
}

#[tokio::test]
async fn delete_leaves_a_tombstone_and_is_idempotent() {
    let app = spawn_app().await;
    let (_, ta) = app.user("del_a").await;
    let (b, tb) = app.user("del_b").await;
    let (mut a1, b1) = (app.socket(&ta).await, app.socket(&tb).await);
    let first = send(&mut a1, json!({"receiverId": b}), "keep").await;
    let m = send(&mut a1, json!({"receiverId": b}), "oops").await;
    let (id, conversation) = (m["id"].as_i64().unwrap(), m["conversationId"].as_i64().unwrap());
    let ack = a1.call("delete_message", json!({"messageId": id})).await;
    assert_eq!(ack, json!({"ok": true}));
    let e = b1.recv("message_deleted").await;
    assert_eq!(e.data, json!({"conversationId": conversation, "messageId": id}));
    a1.recv("message_deleted").await;

    let (_, page) = app.get(&format!("/api/conversations/{conversation}/messages"), Some(&tb)).await;
    let tomb = &page["messages"][0];
    assert_eq!((tomb["id"].as_i64(), tomb["seq"].as_i64()), (Some(id), m["seq"].as_i64()), "id and seq stay");
    assert_eq!(
        (tomb["deleted"].clone(), tomb["message"].clone(), tomb["attachments"].clone()),
        (json!(true), json!(""), json!([]))
    );
    let mut b1 = b1;
    let unread = b1.call("fetch_unread_messages", json!({})).await;
    let msgs = unread["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["deleted"], true);

    // The list: the tombstone is the last message, and it is not unread.
    let (_, list) = app.get("/api/conversations", Some(&tb)).await;
    let c = &list["conversations"][0];
    assert_eq!(c["lastMessage"]["deleted"], true);
    assert_eq!(c["unreadCount"].as_i64(), Some(1), "only the live message is unread: {c}");

    // Twice: still ok; REST: 204 both times; someone else's: forbidden.
    assert_eq!(a1.call("delete_message", json!({"messageId": id})).await, json!({"ok": true}));
    let (status, _) = request(&app, reqwest::Method::DELETE, &format!("/api/messages/{id}"), &ta, None).await;
    assert_eq!(status, 204);
    let first_id = first["id"].as_i64().unwrap();
    let (status, _) =
        request(&app, reqwest::Method::DELETE, &format!("/api/messages/{first_id}"), &tb, None).await;
    assert_eq!(status, 403);
    let (status, _) =
        request(&app, reqwest::Method::DELETE, &format!("/api/messages/{first_id}"), &ta, None).await;
    assert_eq!(status, 204);
    let ack = a1.call("edit_message", json!({"messageId": id, "message": "back"})).await;
    assert_eq!(ack["error"]["code"], "not_found", "a deleted message cannot be edited");
    let (status, _) = request(&app, reqwest::Method::DELETE, "/api/messages/nope", &ta, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn group_admins_delete_anyones_message_members_do_not() {
    let app = spawn_app().await;
    let (_, towner) = app.user("gd_owner").await;
    let (m1, tm1) = app.user("gd_m1").await;
    let (m2, tm2) = app.user("gd_m2").await;
    let (status, g) = app
        .post(
            "/api/conversations",
            Some(&towner),
            json!({"type": "group", "name": "g", "memberIds": [m1, m2]}),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    let gid = g["conversation"]["id"].as_i64().unwrap();
    let mut s1 = app.socket(&tm1).await;
    let mut s2 = app.socket(&tm2).await;
    let mut so = app.socket(&towner).await;
    let m = send(&mut s1, json!({"conversationId": gid}), "spam").await;
    let id = m["id"].as_i64().unwrap();
    let ack = s2.call("delete_message", json!({"messageId": id})).await;
    assert_eq!(ack["error"]["code"], "forbidden");
    assert_eq!(so.call("delete_message", json!({"messageId": id})).await, json!({"ok": true}));
    s2.recv("message_deleted").await;
}

#[tokio::test]
async fn replies_quote_the_message_they_answer() {
    let app = spawn_app().await;
    let (a, ta) = app.user("rp_a").await;
    let (b, tb) = app.user("rp_b").await;
    let (_, tc) = app.user("rp_c").await;
    let (mut sa, mut sb) = (app.socket(&ta).await, app.socket(&tb).await);
    let long = "q".repeat(300);
    let asked = send(&mut sa, json!({"receiverId": b}), &long).await;
    let asked_id = asked["id"].as_i64().unwrap();
    let ack =
        sb.call("send_message", json!({"receiverId": a, "message": "answer", "replyTo": asked_id})).await;
    let reply = &ack["message"]["replyTo"];
    assert_eq!(reply["id"], asked_id, "{ack}");
    assert_eq!(reply["senderId"], a);
    assert_eq!(reply["message"].as_str().unwrap().chars().count(), 200);
    let live = sa.recv("receive_message").await;
    assert_eq!(live.data["replyTo"]["id"], asked_id, "the live copy quotes it too");

    // REST send with replyTo; a message of another conversation is invalid.
    let (status, body) = app
        .post("/api/messages", Some(&ta), json!({"receiverId": b, "message": "re", "replyTo": asked_id}))
        .await;
    assert_eq!(status, 201, "{body}");
    let mut sc = app.socket(&tc).await;
    let other = send(&mut sc, json!({"receiverId": a}), "elsewhere").await;
    let ack = sb.call("send_message", json!({"receiverId": a, "message": "x", "replyTo": other["id"]})).await;
    assert_eq!(ack["error"]["code"], "invalid", "{ack}");
    let ack = sb.call("send_message", json!({"receiverId": a, "message": "x", "replyTo": 99_999_999})).await;
    assert_eq!(ack["error"]["code"], "invalid");
    let ack = sb.call("send_message", json!({"receiverId": a, "message": "x", "replyTo": "one"})).await;
    assert_eq!(ack["error"]["code"], "invalid");

    // Once the quoted message is deleted, the quote is empty.
    sa.call("delete_message", json!({"messageId": asked_id})).await;
    let (_, page) =
        app.get(&format!("/api/conversations/{}/messages", asked["conversationId"]), Some(&ta)).await;
    let answer =
        page["messages"].as_array().unwrap().iter().find(|m| m["message"] == "answer").unwrap().clone();
    assert_eq!(answer["replyTo"], json!({"id": asked_id, "senderId": a, "message": ""}));
}

/// The conversation list's `lastMessage` is the same Message object history
/// gives: its reply quote and reactions are filled in, not left empty.
#[tokio::test]
async fn the_conversation_list_shows_the_last_messages_quote_and_reactions() {
    let app = spawn_app().await;
    let (a, ta) = app.user("lq_a").await;
    let (b, tb) = app.user("lq_b").await;
    let (mut sa, mut sb) = (app.socket(&ta).await, app.socket(&tb).await);
    let asked = send(&mut sa, json!({"receiverId": b}), "coffee?").await;
    let ack =
        sb.call("send_message", json!({"receiverId": a, "message": "yes", "replyTo": asked["id"]})).await;
    let answer = ack["message"]["id"].clone();
    let ack = sa.call("react", json!({"messageId": answer, "emoji": "🎉"})).await;
    assert_eq!(ack["reactions"][0]["count"], 1, "{ack}");

    for token in [&ta, &tb] {
        let (status, body) = app.get("/api/conversations", Some(token)).await;
        assert_eq!(status, 200);
        let last = &body["conversations"][0]["lastMessage"];
        assert_eq!(last["id"], answer, "{body}");
        assert_eq!(last["replyTo"], json!({"id": asked["id"], "senderId": a, "message": "coffee?"}));
        assert_eq!(last["reactions"], json!([{"emoji": "🎉", "count": 1, "userIds": [a]}]));
    }
    // As history shows the same message.
    let (_, page) =
        app.get(&format!("/api/conversations/{}/messages", asked["conversationId"]), Some(&ta)).await;
    let (_, list) = app.get("/api/conversations", Some(&ta)).await;
    assert_eq!(page["messages"][0], list["conversations"][0]["lastMessage"]);
}

#[tokio::test]
async fn reactions_toggle_and_batch_into_history() {
    let app = spawn_app().await;
    let (a, ta) = app.user("rx_a").await;
    let (b, tb) = app.user("rx_b").await;
    let (_, tc) = app.user("rx_c").await;
    let (mut sa, mut sb) = (app.socket(&ta).await, app.socket(&tb).await);
    let m = send(&mut sa, json!({"receiverId": b}), "react to me").await;
    let id = m["id"].as_i64().unwrap();
    let ack = sb.call("react", json!({"messageId": id, "emoji": "👍"})).await;
    assert_eq!(ack, json!({"reactions": [{"emoji": "👍", "count": 1, "userIds": [b]}]}));
    let e = sa.recv("reaction_updated").await;
    assert_eq!(e.data["messageId"], id);
    assert_eq!(e.data["reactions"][0]["count"], 1);
    sb.recv("reaction_updated").await;
    sa.call("react", json!({"messageId": id, "emoji": "❤️"})).await;
    let ack = sa.call("react", json!({"messageId": id, "emoji": "👍"})).await;
    assert_eq!(
        ack["reactions"][0],
        json!({"emoji": "👍", "count": 2, "userIds": [b, a]}),
        "ordered by first use"
    );
    let again = sa.call("react", json!({"messageId": id, "emoji": "👍"})).await;
    assert_eq!(again, ack, "reacting twice is a no-op");
    let ack = sa.call("unreact", json!({"messageId": id, "emoji": "👍"})).await;
    assert_eq!(ack["reactions"][0]["userIds"], json!([b]));

    for bad in [json!("a"), json!("👍👍"), json!(""), json!(5), json!("👨‍👩‍👧‍👦")] {
        let ack = sa.call("react", json!({"messageId": id, "emoji": bad})).await;
        assert_eq!(ack["error"]["code"], "invalid", "{bad}: {ack}");
    }
    let mut sc = app.socket(&tc).await;
    let ack = sc.call("react", json!({"messageId": id, "emoji": "👍"})).await;
    assert_eq!(ack["error"]["code"], "not_found", "not a member: {ack}");

    // History carries them, for every message of the page.
    let second = send(&mut sa, json!({"receiverId": b}), "second").await;
    sb.call("react", json!({"messageId": second["id"], "emoji": "😂"})).await;
    let (_, page) = app.get(&format!("/api/conversations/{}/messages", m["conversationId"]), Some(&ta)).await;
    let msgs = page["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["reactions"][0]["emoji"], "😂");
    assert_eq!(msgs[1]["reactions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn search_finds_visible_words_only() {
    let app = spawn_app().await;
    let (_, ta) = app.user("se_a").await;
    let (b, tb) = app.user("se_b").await;
    let (_, tc) = app.user("se_c").await;
    let mut sa = app.socket(&ta).await;
    send(&mut sa, json!({"receiverId": b}), "Meet me at the Café").await;
    let gone = send(&mut sa, json!({"receiverId": b}), "secret cafe plan").await;
    sa.call("delete_message", json!({"messageId": gone["id"]})).await;
    send(&mut sa, json!({"receiverId": b}), "nothing here").await;

    let (status, found) = app.get("/api/search/messages?q=CAF", Some(&tb)).await;
    assert_eq!(status, 200, "{found}");
    let texts: Vec<&str> =
        found["messages"].as_array().unwrap().iter().map(|m| m["message"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Meet me at the Café"], "prefix, case and accents; deleted never match");
    let (_, none) = app.get("/api/search/messages?q=cafe", Some(&tc)).await;
    assert_eq!(none["messages"], json!([]), "not a member");
    for bad in
        ["", "?q=", "?q=%20%20", &format!("?q={}", "a".repeat(201)), "?q=cafe&limit=0", "?q=cafe&before=x"]
    {
        let (status, body) = app.get(&format!("/api/search/messages{bad}"), Some(&tb)).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid");
    }
    let (status, _) = app.get("/api/search/messages?q=cafe&conversationId=999999", Some(&tb)).await;
    assert_eq!(status, 403);
    let (status, _) = app.get("/api/search/messages?q=cafe", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn blocking_refuses_direct_messages_and_hides_typing_and_presence() {
    let app = spawn_app().await;
    let (a, ta) = app.user("bl_a").await;
    let (b, tb) = app.user("bl_b").await;
    let (c, tc) = app.user("bl_c").await;
    let (mut sa, mut sb) = (app.socket(&ta).await, app.socket(&tb).await);
    let m = send(&mut sb, json!({"receiverId": a}), "hi").await;
    let direct = m["conversationId"].as_i64().unwrap();
    // A group with all three, made by c.
    let (_, g) = app
        .post("/api/conversations", Some(&tc), json!({"type": "group", "name": "g", "memberIds": [a, b]}))
        .await;
    let gid = g["conversation"]["id"].as_i64().unwrap();

    // "hi" and the group's creation note, from before the block.
    sa.recv("receive_message").await;
    sa.recv("receive_message").await;
    let (status, _) = request(&app, reqwest::Method::POST, &format!("/api/users/{b}/block"), &ta, None).await;
    assert_eq!(status, 204);
    let (status, _) = request(&app, reqwest::Method::POST, &format!("/api/users/{b}/block"), &ta, None).await;
    assert_eq!(status, 204, "again: no change");
    let (_, list) = app.get("/api/users/blocked", Some(&ta)).await;
    assert_eq!(list["users"].as_array().unwrap().len(), 1);
    assert_eq!(list["users"][0]["id"], b);
    assert_eq!(list["users"][0]["username"], "bl_b");

    // Direct messages: refused both ways, nothing stored.
    let ack = sb.call("send_message", json!({"receiverId": a, "message": "let me in"})).await;
    assert_eq!(ack["error"]["code"], "forbidden", "{ack}");
    let ack = sb.call("send_message", json!({"conversationId": direct, "message": "by id"})).await;
    assert_eq!(ack["error"]["code"], "forbidden", "{ack}");
    let ack = sa.call("send_message", json!({"receiverId": b, "message": "from the blocker"})).await;
    assert_eq!(ack["error"]["code"], "forbidden");
    let (status, _) = app.post("/api/messages", Some(&tb), json!({"receiverId": a, "message": "rest"})).await;
    assert_eq!(status, 403);
    assert!(sa.try_recv("receive_message", QUIET).await.is_none(), "nothing reached a");
    let (_, page) = app.get(&format!("/api/conversations/{direct}/messages"), Some(&ta)).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1, "nothing stored");

    // Group messages still arrive; typing does not, either way.
    send(&mut sb, json!({"conversationId": gid}), "group hello").await;
    assert_eq!(sa.recv("receive_message").await.data["message"], "group hello");
    sb.call("typing", json!({"conversationId": gid, "isTyping": true})).await;
    assert!(sa.try_recv("typing", QUIET).await.is_none(), "a does not see b typing");
    sa.call("typing", json!({"conversationId": gid, "isTyping": true})).await;
    assert!(sb.try_recv("typing", QUIET).await.is_none(), "b does not see a typing");
    let sc = app.socket(&tc).await;
    sb.call("typing", json!({"conversationId": gid, "isTyping": false})).await;
    assert!(sc.try_recv("typing", Duration::from_secs(2)).await.is_some(), "others still do");

    // Presence: b coming online is not announced to a; the profile hides it.
    sa.drain("presence");
    let b2_token = {
        let (_, body) =
            app.post("/api/auth/login", None, json!({"username": "bl_b", "password": "password123"})).await;
        body["token"].as_str().unwrap().to_string()
    };
    drop(sb);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _sb2 = app.socket(&b2_token).await;
    let seen: Vec<_> = sa.drain("presence").into_iter().filter(|e| e.data["userId"] == b).collect();
    assert!(seen.is_empty() && sa.try_recv("presence", QUIET).await.is_none(), "no presence of b for a");
    assert!(sc.try_recv("presence", Duration::from_secs(2)).await.is_some(), "c still hears of b");
    let (_, profile) = app.get(&format!("/api/users/{b}"), Some(&ta)).await;
    assert!(profile["user"].get("online").is_none(), "{profile}");

    // b cannot add a to a group; self-blocks are invalid.
    let (status, _) = app
        .post("/api/conversations", Some(&tb), json!({"type": "group", "name": "x", "memberIds": [a]}))
        .await;
    assert_eq!(status, 403);
    let (_, g2) = app
        .post("/api/conversations", Some(&tb), json!({"type": "group", "name": "y", "memberIds": [c]}))
        .await;
    let g2 = g2["conversation"]["id"].as_i64().unwrap();
    let (status, _) =
        app.post(&format!("/api/conversations/{g2}/members"), Some(&tb), json!({"userIds": [a]})).await;
    assert_eq!(status, 403);
    let (status, body) =
        request(&app, reqwest::Method::POST, &format!("/api/users/{a}/block"), &ta, None).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!("invalid")));
    let (status, _) = request(&app, reqwest::Method::POST, "/api/users/99999/block", &ta, None).await;
    assert_eq!(status, 404);

    // Unblocked: direct messages flow again.
    let (status, _) =
        request(&app, reqwest::Method::DELETE, &format!("/api/users/{b}/block"), &ta, None).await;
    assert_eq!(status, 204);
    let (status, _) =
        app.post("/api/messages", Some(&tb), json!({"receiverId": a, "message": "friends again"})).await;
    assert_eq!(status, 201);
    let (_, list) = app.get("/api/users/blocked", Some(&ta)).await;
    assert_eq!(list["users"], json!([]));
}

/// Both online when the block comes: each is told at once that the other is
/// offline (no last-seen time), then hears nothing of the other; unblocking
/// tells each the other's real presence. Users who share no conversation
/// hear nothing either way.
#[tokio::test]
async fn blocking_takes_back_presence_and_unblocking_gives_it_back() {
    let app = spawn_app().await;
    let (a, ta) = app.user("bp_a").await;
    let (b, tb) = app.user("bp_b").await;
    let (c, tc) = app.user("bp_c").await;
    let (sa, mut sb, sc) = (app.socket(&ta).await, app.socket(&tb).await, app.socket(&tc).await);
    send(&mut sb, json!({"receiverId": a}), "hi").await;
    tokio::time::sleep(QUIET).await;
    sa.drain("presence");
    sb.drain("presence");
    let of = |events: Vec<crate::common::Received>, user: i64| -> Vec<Value> {
        events.into_iter().filter(|e| e.data["userId"] == user).map(|e| e.data).collect()
    };

    let (status, _) = request(&app, reqwest::Method::POST, &format!("/api/users/{b}/block"), &ta, None).await;
    assert_eq!(status, 204);
    let told_b = sb.recv("presence").await.data;
    assert_eq!(told_b, json!({"userId": a, "online": false, "lastSeen": null}), "b no longer sees a online");
    let told_a = sa.recv("presence").await.data;
    assert_eq!(told_a, json!({"userId": b, "online": false, "lastSeen": null}), "a no longer sees b online");
    assert!(of(sb.drain("presence"), a).is_empty() && of(sa.drain("presence"), b).is_empty(), "once each");

    // Blocking someone you share nothing with tells nobody anything.
    let (status, _) = request(&app, reqwest::Method::POST, &format!("/api/users/{c}/block"), &ta, None).await;
    assert_eq!(status, 204);
    assert!(sc.try_recv("presence", QUIET).await.is_none(), "c shares no conversation with a");

    let (status, _) =
        request(&app, reqwest::Method::DELETE, &format!("/api/users/{b}/block"), &ta, None).await;
    assert_eq!(status, 204);
    assert_eq!(sb.recv("presence").await.data, json!({"userId": a, "online": true, "lastSeen": null}));
    assert_eq!(sa.recv("presence").await.data, json!({"userId": b, "online": true, "lastSeen": null}));

    // Unblocking while the other still blocks you shows nothing.
    let (status, _) = request(&app, reqwest::Method::POST, &format!("/api/users/{a}/block"), &tb, None).await;
    assert_eq!(status, 204);
    sa.recv("presence").await;
    sb.recv("presence").await;
    let (status, _) = request(&app, reqwest::Method::POST, &format!("/api/users/{b}/block"), &ta, None).await;
    assert_eq!(status, 204);
    let (status, _) =
        request(&app, reqwest::Method::DELETE, &format!("/api/users/{b}/block"), &ta, None).await;
    assert_eq!(status, 204);
    assert!(sa.try_recv("presence", QUIET).await.is_none(), "b still blocks a");
    assert!(sb.try_recv("presence", QUIET).await.is_none());

    // b lifts theirs while a is offline: b learns when a was last seen.
    drop(sa);
    tokio::time::sleep(QUIET).await;
    let (status, _) =
        request(&app, reqwest::Method::DELETE, &format!("/api/users/{a}/block"), &tb, None).await;
    assert_eq!(status, 204);
    let told = sb.recv("presence").await.data;
    assert_eq!((told["userId"].clone(), told["online"].clone()), (json!(a), json!(false)));
    assert!(told["lastSeen"].is_string(), "{told}");
}

#[tokio::test]
async fn edits_deletes_and_reactions_never_push_and_a_deleted_message_is_not_pushed() {
    let app = crate::common::spawn_app_with(|c| c.push.delay_ms = 60_000).await;
    let (_, ta) = app.user("pu_a").await;
    let (b, tb) = app.user("pu_b").await;
    // b is offline with a device: a message waits in the outbox.
    let (status, body) =
        app.post("/api/push/subscriptions", Some(&tb), json!({"type": "fcm", "token": "device-pu-b"})).await;
    assert!(status == 201 || status == 200, "{status} {body}");
    let mut sa = app.socket(&ta).await;
    let m = send(&mut sa, json!({"receiverId": b}), "ping").await;
    assert_eq!(app.push_pending().await, 1);
    let id = m["id"].as_i64().unwrap();
    sa.call("edit_message", json!({"messageId": id, "message": "pong"})).await;
    sa.call("react", json!({"messageId": id, "emoji": "👍"})).await;
    assert_eq!(app.push_pending().await, 1, "an edit or a reaction adds no push");
    sa.call("delete_message", json!({"messageId": id})).await;
    assert_eq!(app.push_pending().await, 0, "the deleted message's push is dropped");
    let _ = tb;
}

/// Two nodes: every event reaches members connected to the other node.
#[tokio::test]
async fn cluster_events_reach_members_on_every_node() {
    let cluster = Cluster::new().await;
    let (n1, n2) = (cluster.node(), cluster.node());
    let (_, ta) = cluster.user(&n1, "cl_a").await;
    let (b, tb) = cluster.user(&n2, "cl_b").await;
    let mut sa = Sio::connect(n1.addr, Some(&ta)).await.unwrap();
    let mut sb = Sio::connect(n2.addr, Some(&tb)).await.unwrap();
    let m = send(&mut sa, json!({"receiverId": b}), "across nodes").await;
    sb.recv("receive_message").await;
    let id = m["id"].as_i64().unwrap();

    sa.call("edit_message", json!({"messageId": id, "message": "edited across"})).await;
    assert_eq!(sb.recv("message_updated").await.data["message"]["message"], "edited across");
    sb.call("react", json!({"messageId": id, "emoji": "🎉"})).await;
    assert_eq!(sa.recv("reaction_updated").await.data["reactions"][0]["emoji"], "🎉");
    let ack =
        sb.call("send_message", json!({"receiverId": m["senderId"], "message": "re", "replyTo": id})).await;
    assert_eq!(ack["message"]["replyTo"]["message"], "edited across");
    assert_eq!(sa.recv("receive_message").await.data["replyTo"]["id"], id);
    sa.call("delete_message", json!({"messageId": id})).await;
    assert_eq!(sb.recv("message_deleted").await.data["messageId"], id);

    // Search on PostgreSQL, from the other node.
    let res = reqwest::Client::new()
        .get(format!("http://{}/api/search/messages?q=EDIT", n2.addr))
        .bearer_auth(&tb)
        .send()
        .await
        .unwrap();
    let found: Value = res.json().await.unwrap();
    assert_eq!(found["messages"], json!([]), "the deleted message does not match: {found}");
    let (status, _) = cluster.post(&n2, &format!("/api/users/{}/block", m["senderId"]), &tb, json!({})).await;
    assert_eq!(status, 204);
    let ack = sa.call("send_message", json!({"receiverId": b, "message": "blocked?"})).await;
    assert_eq!(ack["error"]["code"], "forbidden", "the block holds on the other node: {ack}");
}
