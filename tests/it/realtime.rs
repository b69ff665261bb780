//! The Socket.IO contract over a real WebSocket against a spawned server:
//! the design's one-to-one flow, receipts, typing, presence, and bad input.

use crate::common;
use common::{Sio, WAIT, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

#[tokio::test]
async fn handshake_refuses_bad_tokens() {
    let app = spawn_app().await;
    let (_, token) = app.user("ana").await;
    for bad in [None, Some("garbage")] {
        let err = Sio::connect(app.addr, bad).await.err().expect("refused");
        assert!(err.contains("unauthorized"), "{err}");
    }
    let sock = app.socket(&token).await;
    // Logout revokes the token and closes the sockets opened with it.
    let (status, _) = app.post("/api/auth/logout", Some(&token), json!({})).await;
    assert_eq!(status, 204);
    assert!(sock.closed().await, "socket closed on logout");
    let err = Sio::connect(app.addr, Some(&token)).await.err().expect("refused");
    assert!(err.contains("unauthorized"), "{err}");
}

#[tokio::test]
async fn live_send_delivered_then_read() {
    let app = spawn_app().await;
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let mut b = app.socket(&tb).await;
    assert_eq!(a.call("join", json!({"userId": ana})).await, json!({"ok": true}));
    assert_eq!(code(&a.call("join", json!({"userId": bob})).await), Some("forbidden"));

    let ack = a.call("send_message", json!({"receiverId": bob, "message": "Hey!", "senderId": ana})).await;
    let m = &ack["message"];
    assert_eq!(m["message"], "Hey!");
    assert_eq!(m["status"], "sent");
    let (id, conv) = (m["id"].as_i64().expect("id"), m["conversationId"].as_i64().expect("conv"));

    let got = b.recv("receive_message").await;
    assert_eq!(got.data["id"].as_i64(), Some(id));
    assert_eq!(got.data["senderId"].as_i64(), Some(ana));
    assert_eq!(got.data["receiverId"].as_i64(), Some(bob));
    assert!(got.data["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    b.ack(got.ack_id.expect("server asks for a receipt"), json!({"ok": true}));

    let st = a.recv("message_status").await.data;
    assert_eq!(
        st,
        json!({"conversationId": conv, "messageId": id, "seq": 1, "status": "delivered", "userId": bob})
    );

    assert_eq!(
        b.call("mark_read", json!({"conversationId": conv, "messageId": id})).await,
        json!({"ok": true})
    );
    let st = a.recv("message_status").await.data;
    assert_eq!((st["status"].as_str(), st["messageId"].as_i64()), (Some("read"), Some(id)));

    // The stored status follows.
    let (_, page) = app.get(&format!("/api/conversations/{conv}/messages"), Some(&ta)).await;
    assert_eq!(page["messages"][0]["status"], "read");
    // Nothing is left to fetch for Bob.
    let unread = b.call("fetch_unread_messages", json!({})).await;
    assert_eq!(unread["messages"], json!([]));
}

#[tokio::test]
async fn offline_send_then_fetch_exactly_once() {
    let app = spawn_app().await;
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let ack = a.call("send_message", json!({"receiverId": bob, "message": format!("m{i}")})).await;
        ids.push(ack["message"]["id"].as_i64().expect("id"));
    }
    let mut b = app.socket(&tb).await;
    let first = b.call("fetch_unread_messages", json!({})).await;
    let got: Vec<_> =
        first["messages"].as_array().expect("array").iter().map(|m| m["id"].as_i64().expect("id")).collect();
    assert_eq!(got, ids, "all three, oldest first, once each");
    assert_eq!(first["hasMore"], false);
    assert_eq!(first["messages"][0]["senderId"].as_i64(), Some(ana));
    let second = b.call("fetch_unread_messages", json!({})).await;
    assert_eq!(second["messages"], json!([]), "fetched messages are not fetched again");

    for id in &ids {
        let st = a.recv("message_status").await.data;
        assert_eq!((st["messageId"].as_i64(), st["status"].as_str()), (Some(*id), Some("delivered")));
    }
}

#[tokio::test]
async fn live_ack_does_not_hide_older_undelivered_messages() {
    let app = spawn_app().await;
    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    a.call("send_message", json!({"receiverId": bob, "message": "while you were away"})).await;
    let mut b = app.socket(&tb).await;
    a.call("send_message", json!({"receiverId": bob, "message": "now live"})).await;
    let live = b.recv("receive_message").await;
    b.ack(live.ack_id.expect("ack id"), json!(null));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let unread = b.call("fetch_unread_messages", json!({})).await;
    let texts: Vec<_> =
        unread["messages"].as_array().expect("array").iter().map(|m| m["message"].clone()).collect();
    assert_eq!(texts, vec![json!("while you were away"), json!("now live")]);
}

#[tokio::test]
async fn duplicate_client_msg_id_is_stored_and_delivered_once() {
    let app = spawn_app().await;
    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let b = app.socket(&tb).await;
    let payload = json!({"receiverId": bob, "message": "once", "clientMsgId": "abc-1"});
    let first = a.call("send_message", payload.clone()).await;
    let second = a.call("send_message", payload).await;
    assert_eq!(first["message"]["id"], second["message"]["id"]);
    b.recv("receive_message").await;
    assert!(b.try_recv("receive_message", Duration::from_millis(300)).await.is_none(), "delivered twice");
    let conv = first["message"]["conversationId"].as_i64().expect("conv");
    let (_, page) = app.get(&format!("/api/conversations/{conv}/messages"), Some(&ta)).await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn senders_other_devices_see_their_own_message() {
    let app = spawn_app().await;
    let (_, ta) = app.user("ana").await;
    let (bob, _) = app.user("bob").await;
    let mut phone = app.socket(&ta).await;
    let laptop = app.socket(&ta).await;
    let ack = phone.call("send_message", json!({"receiverId": bob, "message": "sync"})).await;
    let echo = laptop.recv("receive_message").await;
    assert_eq!(echo.data["id"], ack["message"]["id"]);
    assert!(
        phone.try_recv("receive_message", Duration::from_millis(300)).await.is_none(),
        "no echo to the sender"
    );
}

#[tokio::test]
async fn spoofed_sender_and_garbage_get_errors_and_change_nothing() {
    let app = spawn_app().await;
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let b = app.socket(&tb).await;

    let r = a.call("send_message", json!({"receiverId": bob, "message": "x", "senderId": bob})).await;
    assert_eq!(code(&r), Some("forbidden"));
    assert_eq!(a.recv("error").await.data["code"], "forbidden", "also an `error` event");

    let cases: Vec<(Value, &str)> = vec![
        (json!(["send_message", null]), "invalid"),
        (json!(["send_message", 42]), "invalid"),
        (json!(["send_message", "hello"]), "invalid"),
        (json!(["send_message", [1, 2]]), "invalid"),
        (json!(["send_message", {"receiverId": "2", "message": "x"}]), "invalid"),
        (json!(["send_message", {"receiverId": bob}]), "invalid"),
        (json!(["send_message", {"receiverId": bob, "message": ""}]), "invalid"),
        (json!(["send_message", {"receiverId": bob, "message": {"a": 1}}]), "invalid"),
        (json!(["send_message", {"receiverId": ana, "message": "me"}]), "invalid"),
        (json!(["send_message", {"receiverId": 999999, "message": "x"}]), "not_found"),
        (json!(["send_message", {"conversationId": 999999, "message": "x"}]), "forbidden"),
        (json!(["send_message", {"receiverId": bob, "message": "x".repeat(4001)}]), "too_large"),
        (json!(["mark_read", {"conversationId": 1}]), "invalid"),
        (json!(["mark_read", "x"]), "invalid"),
        (json!(["mark_read", {"conversationId": 999999, "messageId": 1}]), "forbidden"),
        (json!(["fetch_unread_messages", 7]), "invalid"),
        (json!(["fetch_unread_messages", {"conversationId": "x"}]), "invalid"),
        (json!(["typing", {"conversationId": 1}]), "invalid"),
        (json!(["join", {}]), "invalid"),
        (json!(["no_such_event", {}]), "invalid"),
    ];
    for (args, expected) in cases {
        let r = a.call_raw(args.clone()).await;
        assert_eq!(code(&r), Some(expected), "{args} → {r}");
        assert!(r["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert!(
        b.try_recv("receive_message", Duration::from_millis(200)).await.is_none(),
        "nothing was delivered"
    );
    let (_, list) = app.get("/api/conversations", Some(&tb)).await;
    assert_eq!(list["conversations"].as_array().map(Vec::len), Some(0), "nothing was stored");

    // Still usable afterwards.
    let ok = a.call("send_message", json!({"receiverId": bob, "message": "still here"})).await;
    assert!(ok["message"]["id"].is_i64(), "{ok}");
}

#[tokio::test]
async fn floods_are_rate_limited_per_socket() {
    let app = common::spawn_app_with(|c| {
        c.limits.events_per_second = 5;
        c.limits.events_burst = 10;
    })
    .await;
    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    for i in 0..60 {
        a.emit_raw(json!(["send_message", {"receiverId": bob, "message": format!("f{i}")}]));
    }
    let limited = a.recv("error").await;
    assert_eq!(limited.data["code"], "rate_limited");
    // Once the bucket refills, the socket works again; its ack also proves
    // every admitted earlier send is committed (events of a socket run in order).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let ok = a.call("send_message", json!({"receiverId": bob, "message": "after the flood"})).await;
    assert!(ok["message"]["id"].is_i64(), "{ok}");
    // Another client is unaffected, and only the admitted burst was stored.
    let mut b = app.socket(&tb).await;
    let r = b.call("fetch_unread_messages", json!({})).await;
    let n = r["messages"].as_array().map(Vec::len).unwrap_or(0);
    assert!((11..=16).contains(&n), "burst of 10 (+ refill) + 1 expected, got {n}");
}

#[tokio::test]
async fn floods_are_rate_limited_per_user_across_sockets() {
    let app = spawn_app_with(|c| {
        c.limits.events_per_second = 1000;
        c.limits.events_burst = 1000;
        c.limits.events_per_second_per_user = 1;
        c.limits.events_burst_per_user = 6;
    })
    .await;
    let (_, ta) = app.user("ana").await;
    let (_, tb) = app.user("bob").await;
    let mut a1 = app.socket(&ta).await;
    let mut a2 = app.socket(&ta).await;
    let mut b = app.socket(&tb).await;
    // Three (invalid, but admitted) events from each of ana's sockets use up her burst of six...
    for _ in 0..3 {
        assert_eq!(code(&a1.call("typing", json!({})).await), Some("invalid"));
        assert_eq!(code(&a2.call("typing", json!({})).await), Some("invalid"));
    }
    // ...so the next one is refused, whichever socket sends it, while bob is unaffected.
    assert_eq!(code(&a1.call("typing", json!({})).await), Some("rate_limited"));
    assert_eq!(code(&a2.call("typing", json!({})).await), Some("rate_limited"));
    assert_ne!(code(&b.call("typing", json!({})).await), Some("rate_limited"));
}

#[tokio::test]
async fn messages_from_one_socket_keep_their_order() {
    let app = spawn_app().await;
    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let a = app.socket(&ta).await;
    for i in 0..30 {
        a.emit("send_message", json!({"receiverId": bob, "message": format!("{i}")}));
    }
    let mut b = app.socket(&tb).await;
    let mut texts = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut first = true;
    while texts.len() < 30 && tokio::time::Instant::now() < deadline {
        // Not a tight loop: that would run into the per-socket event rate limit.
        if !std::mem::take(&mut first) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let r = b.call("fetch_unread_messages", json!({})).await;
        texts.extend(
            r["messages"]
                .as_array()
                .expect("array")
                .iter()
                .map(|m| m["message"].as_str().unwrap_or("").to_string()),
        );
    }
    let expected: Vec<_> = (0..30).map(|i| i.to_string()).collect();
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn typing_and_presence() {
    let app = spawn_app().await;
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let ack = a.call("send_message", json!({"receiverId": bob, "message": "hi"})).await;
    let conv = ack["message"]["conversationId"].as_i64().expect("conv");

    let b = app.socket(&tb).await;
    let p = a.recv("presence").await.data;
    assert_eq!((p["userId"].as_i64(), p["online"].as_bool()), (Some(bob), Some(true)));

    let (_, prof) = app.get(&format!("/api/users/{bob}"), Some(&ta)).await;
    assert_eq!(prof["user"]["online"], true);

    a.call("typing", json!({"conversationId": conv, "isTyping": true})).await;
    let t = b.recv("typing").await.data;
    assert_eq!(t, json!({"conversationId": conv, "userId": ana, "displayName": "ana", "isTyping": true}));

    // A stranger may not type into the conversation.
    let (_, tc) = app.user("cyd").await;
    let mut c = app.socket(&tc).await;
    let r = c.call("typing", json!({"conversationId": conv, "isTyping": true})).await;
    assert_eq!(code(&r), Some("forbidden"));

    // A second device does not announce again; the last one leaving does.
    let b2 = app.socket(&tb).await;
    drop(b);
    assert!(a.try_recv("presence", Duration::from_millis(300)).await.is_none());
    drop(b2);
    let p = a.recv("presence").await.data;
    assert_eq!((p["userId"].as_i64(), p["online"].as_bool()), (Some(bob), Some(false)));
    assert!(p["lastSeen"].as_str().is_some());
}

#[tokio::test]
async fn history_survives_a_restart() {
    let app = spawn_app().await;
    let (_, ta) = app.user("ana").await;
    let (bob, _) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let ack = a.call("send_message", json!({"receiverId": bob, "message": "durable"})).await;
    let conv = ack["message"]["conversationId"].as_i64().expect("conv");
    drop(a);
    let app = app.restart().await;
    let (status, page) = app.get(&format!("/api/conversations/{conv}/messages"), Some(&ta)).await;
    assert_eq!(status, 200, "token still valid after restart");
    assert_eq!(page["messages"][0]["message"], "durable");
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_and_socket() {
    let app = spawn_app().await;
    let (_, first) = app.user("ana").await;
    let mut tokens = vec![first];
    for _ in 0..2 {
        let (status, body) =
            app.post("/api/auth/login", None, json!({"username": "ana", "password": "password123"})).await;
        assert_eq!(status, 200);
        tokens.push(body["token"].as_str().unwrap().to_string());
    }
    let (_, bob) = app.user("bob").await;
    let phone = app.socket(&tokens[0]).await;
    let mut bobs = app.socket(&bob).await;

    let (status, body) = app.post("/api/auth/logout-all", Some(&tokens[1]), json!({})).await;
    assert_eq!((status, body["sessions"].as_u64()), (200, Some(3)), "{body}");
    assert!(phone.closed().await, "the socket of another session is closed at once");
    for t in &tokens {
        assert_eq!(app.get("/api/users/me", Some(t)).await.0, 401);
    }
    // Other users are untouched.
    assert_eq!(app.get("/api/users/me", Some(&bob)).await.0, 200);
    assert!(
        bobs.call("fetch_unread_messages", json!({})).await["messages"].is_array(),
        "bob's socket still works"
    );
}

#[tokio::test]
async fn connections_per_user_are_limited() {
    let app = common::spawn_app_with(|c| c.limits.connections_per_user = 2).await;
    let (_, ta) = app.user("ana").await;
    let (_, tb) = app.user("bob").await;
    let first = app.socket(&ta).await;
    let _second = app.socket(&ta).await;
    let refused = Sio::connect(app.addr, Some(&ta)).await.err().expect("a third is refused");
    assert!(refused.contains("rate_limited"), "{refused}");
    // Other users are not affected, and a closed connection frees its place.
    let _bob = app.socket(&tb).await;
    drop(first);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match Sio::connect(app.addr, Some(&ta)).await {
            Ok(_) => break,
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "still refused: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn connections_per_address_are_limited_and_never_leak() {
    let app = common::spawn_app_with(|c| c.limits.connections_per_address = 3).await;
    let mut tokens = Vec::new();
    for name in ["ana", "bob", "cyd", "dan"] {
        tokens.push(app.user(name).await.1);
    }
    // Every test client comes from 127.0.0.1: three users, one address.
    let first = app.socket(&tokens[0]).await;
    let second = app.socket(&tokens[1]).await;
    let _third = app.socket(&tokens[2]).await;
    let refused = Sio::connect(app.addr, Some(&tokens[3])).await.err().expect("a fourth is refused");
    assert!(refused.starts_with("rate_limited") && refused.contains("address"), "{refused}");

    // Refused handshakes give their place back: after a closed connection and
    // a run of bad tokens, exactly one more fits.
    drop(first);
    drop(second);
    let reconnect = async |token: &str| {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match Sio::connect(app.addr, Some(token)).await {
                Ok(s) => return s,
                Err(e) => assert!(tokio::time::Instant::now() < deadline, "still refused: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let _again = reconnect(&tokens[3]).await;
    // The second closed connection may still be on its way out: wait until
    // a bad token is refused for being bad, not for the address.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match Sio::connect(app.addr, Some("not-a-token")).await {
            Err(e) if e.starts_with("rate_limited") => {
                assert!(tokio::time::Instant::now() < deadline, "still refused: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => break,
        }
    }
    for _ in 0..5 {
        let e = Sio::connect(app.addr, Some("not-a-token")).await.err().expect("bad token refused");
        assert!(e.starts_with("unauthorized"), "{e}");
    }
    let _fills = reconnect(&tokens[0]).await;
    let refused = Sio::connect(app.addr, Some(&tokens[1])).await.err().expect("full again");
    assert!(refused.contains("connections_per_address"), "{refused}");

    // 0: unlimited.
    let open = common::spawn_app_with(|c| c.limits.connections_per_address = 0).await;
    let (_, t) = open.user("eve").await;
    let mut many = Vec::new();
    for _ in 0..5 {
        many.push(open.socket(&t).await);
    }
}

/// A client may acknowledge live messages out of order (it acks after it
/// has shown each). The late ack of an earlier message must not make the
/// receipt of a later one vanish: once every message is acknowledged, all
/// of them are delivered, and the sender hears it. On the old code the
/// third ack, arriving first, was refused by the gap check and dropped.
#[tokio::test]
async fn out_of_order_acks_still_deliver_every_message() {
    let app = spawn_app().await;
    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut a = app.socket(&ta).await;
    let mut b = app.socket(&tb).await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let ack = a.call("send_message", json!({"receiverId": bob, "message": text})).await;
        ids.push(ack["message"]["id"].as_i64().unwrap());
    }
    let conv = {
        let (_, list) = app.get("/api/conversations", Some(&tb)).await;
        list["conversations"][0]["id"].as_i64().unwrap()
    };
    let mut acks = Vec::new();
    for _ in 0..3 {
        acks.push(b.recv("receive_message").await.ack_id.expect("ack id"));
    }
    // The last one first; give it time to be written on its own.
    b.ack(acks[2], json!({"ok": true}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.ack(acks[0], json!({"ok": true}));
    b.ack(acks[1], json!({"ok": true}));

    let mut delivered_up_to = 0;
    while delivered_up_to < ids[2] {
        let Some(st) = a.try_recv("message_status", Duration::from_secs(3)).await else { break };
        if st.data["status"] == "delivered" {
            delivered_up_to = delivered_up_to.max(st.data["messageId"].as_i64().unwrap());
        }
    }
    assert_eq!(delivered_up_to, ids[2], "the sender hears that the third message was delivered");
    let (_, page) = app.get(&format!("/api/conversations/{conv}/messages"), Some(&ta)).await;
    let statuses: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["delivered"; 3], "{page}");
    let unread = b.call("fetch_unread_messages", json!({})).await;
    assert_eq!(unread["messages"], json!([]), "nothing is handed out again");
}
