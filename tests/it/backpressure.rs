//! A client that stops reading: the server holds a bounded queue for it,
//! drops the connection (once the kernel's buffers are full nothing gets
//! through, not even a heartbeat ping; `limits.write_timeout_ms` makes the
//! kernel give up on it), never slows its peers down, and keeps every
//! message for the client's next fetch. And the other way: a small
//! per-socket read buffer (`limits.socket_read_buffer`, kept small so idle
//! sockets cost little) still takes packets many times its size.

use crate::common;
use common::{Sio, spawn_app_with};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Connects over a raw WebSocket, completes the Socket.IO handshake, and
/// returns the connection without ever reading it again. The small receive
/// buffer makes the kernel's share of the backlog small.
async fn connect_and_stop_reading(
    addr: std::net::SocketAddr,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small receive buffer");
    let tcp = socket.connect(addr).await.expect("tcp connect");
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::client_async(url, tcp).await.expect("websocket");
    let open = ws.next().await.expect("open").expect("open");
    assert!(open.to_text().expect("text").starts_with('0'));
    ws.send(Message::text(format!("40{}", json!({ "token": token })))).await.expect("auth");
    loop {
        let reply = ws.next().await.expect("reply").expect("reply");
        if reply.to_text().expect("text").starts_with("40") {
            return ws;
        }
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_loses_nothing() {
    let app = spawn_app_with(|c| {
        c.limits.socket_buffer = 32;
        // Long enough that a send held up until the stalled socket is gone
        // would take well over the bound checked below.
        c.limits.heartbeat_interval_ms = 1500;
        c.limits.heartbeat_timeout_ms = 1500;
        // Once its buffers are full nothing gets through to it, not even a
        // ping; the kernel then drops it after this long.
        c.limits.write_timeout_ms = 1000;
        c.limits.events_per_second = 100_000;
        c.limits.events_burst = 100_000;
        c.limits.events_per_second_per_user = 100_000;
        c.limits.events_burst_per_user = 100_000;
    })
    .await;
    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut ana = app.socket(&ta).await;
    // The conversation exists before bob connects, so ana hears his presence.
    let first =
        ana.call("send_message", json!({"receiverId": bob, "message": "hello", "clientMsgId": "m-0"})).await;
    let mut sent = vec![first["message"]["id"].as_i64().expect("acked")];
    let stalled = connect_and_stop_reading(app.addr, &tb).await;
    let online = ana.recv("presence").await.data;
    assert_eq!(online["online"], true);

    // Big messages fill the backlog quickly. ana keeps sending until the
    // server gives up on bob; every send must be acknowledged promptly.
    let text = "x".repeat(4000);
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut dropped = false;
    while started.elapsed() < Duration::from_secs(60) {
        let at = Instant::now();
        let id = format!("m-{}", sent.len());
        let ack =
            ana.call("send_message", json!({"receiverId": bob, "message": text, "clientMsgId": id})).await;
        slowest = slowest.max(at.elapsed());
        sent.push(ack["message"]["id"].as_i64().unwrap_or_else(|| panic!("send not acked: {ack}")));
        if let Some(p) = ana.try_recv("presence", Duration::ZERO).await {
            assert_eq!(p.data["online"], false, "{}", p.data);
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the stalled socket was still open after {} messages", sent.len());
    assert!(slowest < Duration::from_secs(1), "a send waited {slowest:?} behind the stalled client");
    drop(stalled);

    // Nothing was acknowledged by bob, so everything is waiting for him, once.
    let mut b = Sio::connect(app.addr, Some(&tb)).await.expect("bob reconnects");
    let mut fetched = Vec::new();
    loop {
        let page = b.call("fetch_unread_messages", json!({})).await;
        let messages = page["messages"].as_array().expect("messages").clone();
        fetched.extend(messages.iter().map(|m| m["id"].as_i64().expect("id")));
        if page["hasMore"] != true {
            break;
        }
    }
    let unique: HashSet<i64> = fetched.iter().copied().collect();
    assert_eq!(unique.len(), fetched.len(), "a message was fetched twice");
    assert_eq!(unique, sent.iter().copied().collect::<HashSet<_>>());
    eprintln!("stalled client dropped after {} messages; slowest send {slowest:?}", sent.len());
}

#[tokio::test]
async fn packets_far_bigger_than_the_read_buffer_arrive_whole() {
    let app = spawn_app_with(|c| c.limits.socket_read_buffer = 16).await;
    let (_, ta) = app.user("ana").await;
    let (bob, tb) = app.user("bob").await;
    let mut ana = app.socket(&ta).await;
    let b = app.socket(&tb).await;
    // 4,000 characters of two and four bytes each: ~12 KB in one frame,
    // split across many reads of 16 bytes.
    for (i, unit) in ["é", "😀", "ab"].into_iter().enumerate() {
        let text = unit.repeat(4000 / unit.chars().count());
        let ack = ana
            .call(
                "send_message",
                json!({"receiverId": bob, "message": text, "clientMsgId": format!("big-{i}")}),
            )
            .await;
        assert_eq!(ack["message"]["message"], text.as_str(), "ack {i}: {ack}");
        let got = b.recv("receive_message").await.data;
        assert_eq!(got["message"], text.as_str(), "delivery {i}");
    }
}
