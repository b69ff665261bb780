//! Group chat over real HTTP and Socket.IO: creation, fan-out, catch-up,
//! receipts, removal, roles, the member cap and concurrent changes.

use crate::common;
use common::{TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

async fn group(app: &TestApp, token: &str, name: &str, members: &[i64]) -> Value {
    let (status, body) = app
        .post("/api/conversations", Some(token), json!({"type": "group", "name": name, "memberIds": members}))
        .await;
    assert_eq!(status, 201, "{body}");
    body["conversation"].clone()
}

/// The next text `receive_message`, skipping system notes (group changes).
async fn recv_text(sock: &common::Sio) -> common::Received {
    loop {
        let got = sock.recv("receive_message").await;
        if got.data["type"] == "text" {
            return got;
        }
    }
}

fn member_ids(c: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> =
        c["members"].as_array().unwrap().iter().map(|m| m["userId"].as_i64().unwrap()).collect();
    ids.sort();
    ids
}

fn role_of(c: &Value, user: i64) -> Option<String> {
    c["members"]
        .as_array()?
        .iter()
        .find(|m| m["userId"] == user)
        .map(|m| m["role"].as_str().unwrap().to_string())
}

async fn delete(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let res = app.http.delete(app.url(path)).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let res = app.http.patch(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn create_and_fan_out_to_every_device() {
    let app = spawn_app().await;
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let (cyd, tc) = app.user("cyd").await;
    let mut ana_phone = app.socket(&ta).await;
    let ana_laptop = app.socket(&ta).await;
    let bob1 = app.socket(&tb).await;
    let bob2 = app.socket(&tb).await;
    let cyd1 = app.socket(&tc).await;

    let g = group(&app, &ta, "Team", &[bob, cyd, bob]).await;
    assert_eq!(g["type"], "group");
    assert_eq!(g["name"], "Team");
    assert_eq!(member_ids(&g), vec![ana, bob, cyd]);
    assert_eq!(role_of(&g, ana).as_deref(), Some("owner"));
    assert_eq!(role_of(&g, bob).as_deref(), Some("member"));
    let gid = g["id"].as_i64().unwrap();
    let upd = cyd1.recv("conversation_updated").await;
    assert_eq!(upd.data["conversation"]["id"].as_i64(), Some(gid));

    let ack = ana_phone
        .call("send_message", json!({"conversationId": gid, "message": "hello team", "clientMsgId": "g1"}))
        .await;
    let m = &ack["message"];
    assert_eq!((m["conversationId"].as_i64(), m["receiverId"].clone()), (Some(gid), Value::Null));
    for sock in [&bob1, &bob2, &cyd1, &ana_laptop] {
        let got = recv_text(sock).await;
        assert_eq!(got.data["id"], m["id"]);
        assert_eq!(got.data["conversationId"].as_i64(), Some(gid));
        assert_eq!(got.data["senderId"].as_i64(), Some(ana));
        assert_eq!(got.data["senderName"], "ana");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let echoed = ana_phone.drain("receive_message").into_iter().filter(|e| e.data["id"] == m["id"]).count();
    assert_eq!(echoed, 0, "the sending socket does not get its own message back");
    // Idempotent in groups too.
    let again = ana_phone
        .call("send_message", json!({"conversationId": gid, "message": "hello team", "clientMsgId": "g1"}))
        .await;
    assert_eq!(again["message"]["id"], m["id"]);
    assert!(bob1.try_recv("receive_message", Duration::from_millis(300)).await.is_none());

    // The list mixes direct and group conversations by last activity.
    app.post("/api/messages", Some(&tb), json!({"receiverId": ana, "message": "psst"})).await;
    let (_, list) = app.get("/api/conversations", Some(&ta)).await;
    let kinds: Vec<_> = list["conversations"].as_array().unwrap().iter().map(|c| c["type"].clone()).collect();
    assert_eq!(kinds, vec![json!("direct"), json!("group")]);
    let (_, list) = app.get("/api/conversations", Some(&tc)).await;
    assert_eq!(list["conversations"][0]["unreadCount"], 1, "system messages are not unread");
}

#[tokio::test]
async fn offline_member_catches_up_exactly_once() {
    let app = spawn_app().await;
    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let g = group(&app, &ta, "G", &[bob]).await;
    let gid = g["id"].as_i64().unwrap();
    let mut a = app.socket(&ta).await;
    for i in 0..3 {
        a.call("send_message", json!({"conversationId": gid, "message": format!("m{i}")})).await;
    }
    let mut b = app.socket(&tb).await;
    let first = b.call("fetch_unread_messages", json!({"conversationId": gid})).await;
    let msgs = first["messages"].as_array().unwrap();
    let kinds: Vec<_> =
        msgs.iter().map(|m| (m["type"].as_str().unwrap(), m["message"].as_str().unwrap())).collect();
    assert_eq!(kinds[0].0, "system", "the creation note comes first");
    assert_eq!(first["messages"][0]["system"]["event"], "created");
    assert_eq!(&kinds[1..], &[("text", "m0"), ("text", "m1"), ("text", "m2")]);
    let second = b.call("fetch_unread_messages", json!({})).await;
    assert_eq!(second["messages"], json!([]));
    // Ana hears about each of her messages once.
    let mut delivered = Vec::new();
    while let Some(st) = a.try_recv("message_status", Duration::from_millis(500)).await {
        delivered.push(st.data["messageId"].as_i64().unwrap());
    }
    assert_eq!(delivered.len(), 3, "{delivered:?}");
}

#[tokio::test]
async fn receipts_aggregate_as_members_read() {
    let app = spawn_app().await;
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let (cyd, tc) = app.user("cyd").await;
    let gid = group(&app, &ta, "G", &[bob, cyd]).await["id"].as_i64().unwrap();
    let mut a = app.socket(&ta).await;
    let mut b = app.socket(&tb).await;
    let mut c = app.socket(&tc).await;
    let ack = a.call("send_message", json!({"conversationId": gid, "message": "read me"})).await;
    let mid = ack["message"]["id"].as_i64().unwrap();
    let path = format!("/api/conversations/{gid}/messages/{mid}/receipts");

    b.call("mark_read", json!({"conversationId": gid, "messageId": mid})).await;
    let st = a.recv("message_status").await.data;
    assert_eq!((st["status"].as_str(), st["userId"].as_i64()), (Some("read"), Some(bob)));
    let (_, r) = app.get(&path, Some(&ta)).await;
    assert_eq!((r["readCount"].as_i64(), r["memberCount"].as_i64()), (Some(1), Some(2)));
    assert_ne!(r["status"], "read", "not read until every member has read it");

    c.call("mark_read", json!({"conversationId": gid, "messageId": mid})).await;
    let st = a.recv("message_status").await.data;
    assert_eq!((st["status"].as_str(), st["userId"].as_i64()), (Some("read"), Some(cyd)));
    let (_, r) = app.get(&path, Some(&tb)).await;
    assert_eq!(r["readCount"], 2);
    assert_eq!(r["status"], "read");
    let readers: Vec<_> =
        r["receipts"].as_array().unwrap().iter().map(|x| x["userId"].as_i64().unwrap()).collect();
    assert!(!readers.contains(&ana), "the sender is not their own reader");
    let (_, page) = app.get(&format!("/api/conversations/{gid}/messages"), Some(&ta)).await;
    assert_eq!(page["messages"][0]["status"], "read");
}

#[tokio::test]
async fn removed_member_gets_nothing_more() {
    let app = spawn_app().await;
    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let (cyd, tc) = app.user("cyd").await;
    let gid = group(&app, &ta, "G", &[bob, cyd]).await["id"].as_i64().unwrap();
    let mut a = app.socket(&ta).await;
    let b = app.socket(&tb).await;
    let mut c = app.socket(&tc).await;

    let (status, _) = delete(&app, &format!("/api/conversations/{gid}/members/{cyd}"), &ta).await;
    assert_eq!(status, 204);
    let gone = c.recv("conversation_removed").await.data;
    assert_eq!(gone, json!({"conversationId": gid, "reason": "removed"}));
    let note = b.recv("receive_message").await.data;
    assert_eq!(
        (note["type"].as_str(), note["system"]["event"].as_str()),
        (Some("system"), Some("member_removed"))
    );
    assert_eq!(note["message"], "ana removed cyd");

    a.call("send_message", json!({"conversationId": gid, "message": "after"})).await;
    b.recv("receive_message").await;
    assert!(c.try_recv("receive_message", Duration::from_millis(300)).await.is_none());
    let r = c.call("send_message", json!({"conversationId": gid, "message": "let me in"})).await;
    assert_eq!(code(&r), Some("forbidden"));
    let (status, _) = app.get(&format!("/api/conversations/{gid}/messages"), Some(&tc)).await;
    assert_eq!(status, 403);
    let r = c.call("fetch_unread_messages", json!({"conversationId": gid})).await;
    assert_eq!(code(&r), Some("forbidden"));

    // Leaving is removing oneself.
    let (status, _) = delete(&app, &format!("/api/conversations/{gid}/members/{bob}"), &tb).await;
    assert_eq!(status, 204);
    let (_, page) = app.get(&format!("/api/conversations/{gid}/messages?limit=1"), Some(&ta)).await;
    assert_eq!(page["messages"][0]["system"]["event"], "member_left");
}

#[tokio::test]
async fn roles_decide_who_may_manage() {
    let app = spawn_app().await;
    let (ana, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let (cyd, tc) = app.user("cyd").await;
    let (dan, _) = app.user("dan").await;
    let (eve, _) = app.user("eve").await;
    let gid = group(&app, &ta, "G", &[bob, cyd]).await["id"].as_i64().unwrap();
    let members = format!("/api/conversations/{gid}/members");

    // A member may not add, remove, promote, rename or delete.
    let (status, body) = app.post(&members, Some(&tc), json!({"userIds": [dan]})).await;
    assert_eq!((status, code(&body)), (403, Some("forbidden")));
    let (status, _) = delete(&app, &format!("{members}/{bob}"), &tc).await;
    assert_eq!(status, 403);
    let (status, _) = patch(&app, &format!("{members}/{cyd}"), &tc, json!({"role": "admin"})).await;
    assert_eq!(status, 403);
    let (status, _) = patch(&app, &format!("/api/conversations/{gid}"), &tc, json!({"name": "mine"})).await;
    assert_eq!(status, 403);
    let (status, _) = delete(&app, &format!("/api/conversations/{gid}"), &tc).await;
    assert_eq!(status, 403);

    // The owner makes bob an admin; an admin adds and removes members...
    let (status, c) = patch(&app, &format!("{members}/{bob}"), &ta, json!({"role": "admin"})).await;
    assert_eq!((status, role_of(&c["conversation"], bob).as_deref()), (200, Some("admin")));
    let (status, c) = app.post(&members, Some(&tb), json!({"userIds": [dan, eve]})).await;
    assert_eq!(status, 200);
    assert_eq!(member_ids(&c["conversation"]), vec![ana, bob, cyd, dan, eve]);
    let (status, _) = delete(&app, &format!("{members}/{dan}"), &tb).await;
    assert_eq!(status, 204);
    // ...but not the owner, and not another admin.
    let (status, _) = delete(&app, &format!("{members}/{ana}"), &tb).await;
    assert_eq!(status, 403);
    patch(&app, &format!("{members}/{cyd}"), &ta, json!({"role": "admin"})).await;
    let (status, _) = delete(&app, &format!("{members}/{cyd}"), &tb).await;
    assert_eq!(status, 403, "an admin cannot remove an admin");
    let (status, _) = patch(&app, &format!("{members}/{eve}"), &tb, json!({"role": "admin"})).await;
    assert_eq!(status, 403, "only the owner changes roles");

    // Handing ownership over; the old owner becomes admin.
    let (status, c) = patch(&app, &format!("{members}/{cyd}"), &ta, json!({"role": "owner"})).await;
    assert_eq!(status, 200);
    assert_eq!(role_of(&c["conversation"], cyd).as_deref(), Some("owner"));
    assert_eq!(role_of(&c["conversation"], ana).as_deref(), Some("admin"));

    // The last owner leaving promotes the longest-standing admin.
    let (status, _) = delete(&app, &format!("{members}/{cyd}"), &tc).await;
    assert_eq!(status, 204);
    let (_, c) = app.get(&format!("/api/conversations/{gid}"), Some(&ta)).await;
    let owners: Vec<_> =
        c["conversation"]["members"].as_array().unwrap().iter().filter(|m| m["role"] == "owner").collect();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0]["userId"].as_i64(), Some(ana));

    // Rename appears in history; the owner deletes the group.
    let (status, c) =
        patch(&app, &format!("/api/conversations/{gid}"), &ta, json!({"name": "Renamed"})).await;
    assert_eq!((status, c["conversation"]["name"].as_str()), (200, Some("Renamed")));
    let (_, page) = app.get(&format!("/api/conversations/{gid}/messages?limit=1"), Some(&tb)).await;
    assert_eq!(page["messages"][0]["system"]["event"], "renamed");
    let mut bsock = app.socket(&tb).await;
    let (status, _) = delete(&app, &format!("/api/conversations/{gid}"), &ta).await;
    assert_eq!(status, 204);
    assert_eq!(bsock.recv("conversation_removed").await.data["reason"], "deleted");
    let r = bsock.call("send_message", json!({"conversationId": gid, "message": "hello?"})).await;
    assert_eq!(code(&r), Some("forbidden"));
}

#[tokio::test]
async fn member_cap_is_enforced() {
    let app = spawn_app_with(|c| c.limits.group_max_members = 3).await;
    let (_, ta) = app.user("ana").await;
    let (bob, _) = app.user("bob").await;
    let (cyd, _) = app.user("cyd").await;
    let (dan, _) = app.user("dan").await;
    let (status, body) = app
        .post(
            "/api/conversations",
            Some(&ta),
            json!({"type": "group", "name": "big", "memberIds": [bob, cyd, dan]}),
        )
        .await;
    assert_eq!((status, code(&body)), (409, Some("conflict")));
    assert!(body["error"]["message"].as_str().unwrap().contains('3'));
    let gid = group(&app, &ta, "ok", &[bob, cyd]).await["id"].as_i64().unwrap();
    let (status, body) =
        app.post(&format!("/api/conversations/{gid}/members"), Some(&ta), json!({"userIds": [dan]})).await;
    assert_eq!((status, code(&body)), (409, Some("conflict")));
    let (_, c) = app.get(&format!("/api/conversations/{gid}"), Some(&ta)).await;
    assert_eq!(member_ids(&c["conversation"]).len(), 3, "nothing changed");

    let (status, body) = app
        .post("/api/conversations", Some(&ta), json!({"type": "group", "name": "x", "memberIds": [99999]}))
        .await;
    assert_eq!((status, code(&body)), (400, Some("invalid")));
}

#[tokio::test]
async fn new_members_see_history_from_joining_unless_shared() {
    let app = spawn_app().await;
    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let (cyd, tc) = app.user("cyd").await;
    for (full, name) in [(false, "private"), (true, "shared")] {
        let (_, body) = app
            .post(
                "/api/conversations",
                Some(&ta),
                json!({"type": "group", "name": name, "memberIds": [bob],
                       "historyVisibility": if full { "full" } else { "joined" }}),
            )
            .await;
        let gid = body["conversation"]["id"].as_i64().unwrap();
        app.post("/api/messages", Some(&tb), json!({"conversationId": gid, "message": "before"})).await;
        app.post(&format!("/api/conversations/{gid}/members"), Some(&ta), json!({"userIds": [cyd]})).await;
        app.post("/api/messages", Some(&tb), json!({"conversationId": gid, "message": "after"})).await;
        let (_, page) = app.get(&format!("/api/conversations/{gid}/messages"), Some(&tc)).await;
        let texts: Vec<_> =
            page["messages"].as_array().unwrap().iter().map(|m| m["message"].clone()).collect();
        assert_eq!(texts.contains(&json!("before")), full, "{name}: {texts:?}");
        assert!(texts.contains(&json!("after")));
        let (_, list) = app.get("/api/conversations", Some(&tc)).await;
        let entry =
            list["conversations"].as_array().unwrap().iter().find(|c| c["id"] == gid).cloned().unwrap();
        assert_eq!(entry["unreadCount"], 1, "{name}: only what came after joining is unread");
    }
}

#[tokio::test]
async fn concurrent_adds_and_removes_leave_consistent_membership() {
    let app = spawn_app_with(|c| c.limits.group_max_members = 8).await;
    let (ana, ta) = app.user("ana").await;
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(app.user(&format!("user{i}")).await.0);
    }
    let gid = group(&app, &ta, "race", &[]).await["id"].as_i64().unwrap();
    let members = format!("/api/conversations/{gid}/members");
    let mut tasks = Vec::new();
    for (i, &u) in users.iter().enumerate() {
        let (http, url, token) = (app.http.clone(), app.url(&members), ta.clone());
        let other = users[(i + 3) % users.len()];
        tasks.push(tokio::spawn(async move {
            let add = http.post(&url).bearer_auth(&token).json(&json!({"userIds": [u, other]})).send();
            let status = add.await.unwrap().status().as_u16();
            let del = http.delete(format!("{url}/{other}")).bearer_auth(&token).send().await.unwrap();
            (status, del.status().as_u16())
        }));
    }
    for t in tasks {
        let (add, del) = t.await.unwrap();
        assert!([200, 409].contains(&add), "add answered {add}");
        assert!([204, 404].contains(&del), "remove answered {del}");
    }
    let (_, c) = app.get(&format!("/api/conversations/{gid}"), Some(&ta)).await;
    let ids = member_ids(&c["conversation"]);
    let mut dedup = ids.clone();
    dedup.dedup();
    assert_eq!(ids, dedup, "no one is a member twice");
    assert!(ids.len() <= 8, "the cap held: {ids:?}");
    assert!(ids.contains(&ana));
    let owners =
        c["conversation"]["members"].as_array().unwrap().iter().filter(|m| m["role"] == "owner").count();
    assert_eq!(owners, 1);
    // History agrees with the member list: replaying the system messages gives it.
    let (_, page) = app.get(&format!("/api/conversations/{gid}/messages?limit=500"), Some(&ta)).await;
    let mut replay = vec![ana];
    for m in page["messages"].as_array().unwrap().iter().rev() {
        let ev = &m["system"];
        let targets: Vec<i64> = ev["userIds"]
            .as_array()
            .map(|a| a.iter().map(|u| u.as_i64().unwrap()).collect())
            .unwrap_or_default();
        match ev["event"].as_str() {
            Some("member_added") => replay.extend(targets),
            Some("member_removed") => replay.retain(|u| !targets.contains(u)),
            _ => {}
        }
    }
    replay.sort();
    assert_eq!(replay, ids);
}

#[tokio::test]
async fn every_member_of_a_larger_group_gets_it_and_receipts_add_up() {
    let app = spawn_app().await;
    let (_, ta) = app.user("host").await;
    let mut ids = Vec::new();
    let mut socks = Vec::new();
    for i in 0..30 {
        let (id, t) = app.user(&format!("member{i}")).await;
        ids.push(id);
        socks.push(app.socket(&t).await);
    }
    let gid = group(&app, &ta, "big", &ids).await["id"].as_i64().unwrap();
    let mut host = app.socket(&ta).await;
    let ack = host.call("send_message", json!({"conversationId": gid, "message": "all hands"})).await;
    let mid = ack["message"]["id"].as_i64().unwrap();
    for s in &socks {
        // The creation note arrives first; a client acknowledges everything it receives.
        let note = s.recv("receive_message").await;
        assert_eq!(note.data["type"], "system");
        s.ack(note.ack_id.unwrap(), json!(null));
        let got = s.recv("receive_message").await;
        assert_eq!(got.data["id"].as_i64(), Some(mid));
        s.ack(got.ack_id.unwrap(), json!(null));
    }
    let mut statuses = 0;
    while statuses < 30 {
        let st = host.recv("message_status").await.data;
        assert_eq!((st["messageId"].as_i64(), st["status"].as_str()), (Some(mid), Some("delivered")));
        statuses += 1;
    }
    let (_, r) = app.get(&format!("/api/conversations/{gid}/messages/{mid}/receipts"), Some(&ta)).await;
    assert_eq!((r["deliveredCount"].as_i64(), r["status"].as_str()), (Some(30), Some("delivered")));
}

/// A fetch across conversations tells each sender about their own text
/// messages only: not about the group's creation note, not about others'.
#[tokio::test]
async fn a_fetch_tells_each_sender_of_their_own_text_messages_only() {
    let app = spawn_app().await;
    let (_, th) = app.user("host").await;
    let (ana_id, ta) = app.user("ana").await;
    let (cat, tc) = app.user("cat").await;
    let gid = group(&app, &th, "fetchers", &[ana_id, cat]).await["id"].as_i64().unwrap();
    let mut host = app.socket(&th).await;
    let mut ana = app.socket(&ta).await;
    let id = |ack: Value| ack["message"]["id"].as_i64().unwrap();
    let h1 = id(host.call("send_message", json!({"conversationId": gid, "message": "h1"})).await);
    let a1 = id(ana.call("send_message", json!({"conversationId": gid, "message": "a1"})).await);
    let a2 = id(ana.call("send_message", json!({"receiverId": cat, "message": "a2, direct"})).await);
    let h2 = id(host.call("send_message", json!({"conversationId": gid, "message": "h2"})).await);

    let mut c = app.socket(&tc).await;
    let page = c.call("fetch_unread_messages", json!({})).await;
    let types: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["system", "text", "text", "text", "text"],
        "the creation note and four messages: {page}"
    );

    // What each sender hears about cat, until nothing more comes.
    async fn heard(sock: &common::Sio, cat: i64) -> Vec<(i64, String)> {
        let mut got = Vec::new();
        while let Some(st) = sock.try_recv("message_status", Duration::from_millis(700)).await {
            if st.data["userId"].as_i64() == Some(cat) {
                got.push((
                    st.data["messageId"].as_i64().unwrap(),
                    st.data["status"].as_str().unwrap().to_owned(),
                ));
            }
        }
        got
    }
    let d = |id| (id, "delivered".to_owned());
    assert_eq!(heard(&host, cat).await, [d(h1), d(h2)], "h1 and h2, oldest first; not the note");
    assert_eq!(heard(&ana, cat).await, [d(a1), d(a2)], "a1 in the group, a2 in the direct conversation");
}
