//! A lean Socket.IO v4 client over WebSocket (Engine.IO v4 framing), enough
//! to drive Confab at load: connect with a token, emit with acks, receive
//! events and answer their ack requests.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::net::SocketAddr;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Something the server sent.
pub enum Incoming {
    /// An event; `ack` is set when the server asked for an acknowledgement.
    Event {
        name: String,
        data: Value,
        ack: Option<u64>,
    },
    /// The answer to one of our emits.
    Ack {
        id: u64,
        data: Value,
    },
    Closed,
}

/// The sending half of a connection; cheap to clone.
#[derive(Clone)]
pub struct Sender {
    out: mpsc::UnboundedSender<String>,
    /// Tells the reader to let go of the connection (see [`Sender::abort`]).
    kill: std::sync::Arc<tokio::sync::Notify>,
}

/// Tells the writer to drop its half without a close frame.
const ABORT: &str = "\0abort";

impl Sender {
    pub fn emit_with_ack(&self, id: u64, event: &str, data: &Value) {
        let _ = self.out.send(format!("42{id}{}", Value::Array(vec![Value::from(event), data.clone()])));
    }

    pub fn ack(&self, id: u64) {
        let _ = self.out.send(format!("43{id}[]"));
    }

    pub fn close(&self) {
        let _ = self.out.send(String::new());
    }

    /// Drops the connection like a vanished client: the TCP connection is
    /// closed with neither a WebSocket close frame nor a Socket.IO disconnect.
    pub fn abort(&self) {
        let _ = self.out.send(ABORT.into());
        self.kill.notify_one();
    }
}

/// Connects and authenticates; returns the sender and the stream of what arrives.
pub async fn connect(
    addr: SocketAddr,
    token: &str,
) -> anyhow::Result<(Sender, mpsc::UnboundedReceiver<Incoming>)> {
    connect_from(addr, token, None).await
}

/// [`connect`] from a chosen local address (many 127.0.0.x sources get past
/// the ~28k ephemeral ports one source address has towards one server port).
pub async fn connect_from(
    addr: SocketAddr,
    token: &str,
    source: Option<std::net::IpAddr>,
) -> anyhow::Result<(Sender, mpsc::UnboundedReceiver<Incoming>)> {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let socket =
        if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let tcp = socket.connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async(url, tcp).await?;
    let (mut sink, mut stream) = ws.split();
    let mut next_text = async || -> anyhow::Result<String> {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_string()),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("closed during the handshake"),
            }
        }
    };
    let open = next_text().await?;
    anyhow::ensure!(open.starts_with('0'), "unexpected open packet {open}");
    sink.send(Message::text(format!("40{}", serde_json::json!({ "token": token })))).await?;
    // Events may precede the connect acknowledgement (the server joins the
    // socket to its rooms during the handshake); keep them, as socket.io-client does.
    let mut early = Vec::new();
    let mut reply = next_text().await?;
    while reply == "2" || reply.starts_with("42") {
        if reply == "2" {
            sink.send(Message::text("3")).await?;
        } else {
            early.push(reply);
        }
        reply = next_text().await?;
    }
    anyhow::ensure!(reply.starts_with("40"), "connection refused: {reply}");

    let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    for text in early {
        if let Some(rest) = text.strip_prefix("42") {
            let (ack, json) = split_id(rest);
            if let Ok(Value::Array(mut arr)) = serde_json::from_str::<Value>(json) {
                let data = if arr.len() > 1 { arr.swap_remove(1) } else { Value::Null };
                let name = arr.first().and_then(Value::as_str).unwrap_or_default().to_string();
                let _ = in_tx.send(Incoming::Event { name, data, ack });
            }
        }
    }
    tokio::spawn(async move {
        while let Some(s) = out_rx.recv().await {
            if s == ABORT {
                break;
            }
            if s.is_empty() || sink.send(Message::text(s)).await.is_err() {
                let _ = sink.close().await;
                break;
            }
        }
    });
    let pong = out.clone();
    let kill = std::sync::Arc::new(tokio::sync::Notify::new());
    let killed = kill.clone();
    tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                _ = killed.notified() => break,
                msg = stream.next() => msg,
            };
            let Some(Ok(msg)) = msg else { break };
            let Message::Text(text) = msg else { continue };
            let text = text.as_str();
            if text == "2" {
                let _ = pong.send("3".into());
            } else if let Some(rest) = text.strip_prefix("42") {
                let (ack, json) = split_id(rest);
                let Ok(Value::Array(mut arr)) = serde_json::from_str::<Value>(json) else { continue };
                let data = if arr.len() > 1 { arr.swap_remove(1) } else { Value::Null };
                let name = arr.first().and_then(Value::as_str).unwrap_or_default().to_string();
                let _ = in_tx.send(Incoming::Event { name, data, ack });
            } else if let Some(rest) = text.strip_prefix("43") {
                let (id, json) = split_id(rest);
                let data =
                    serde_json::from_str::<Value>(json).ok().and_then(|mut v| v.get_mut(0).map(Value::take));
                if let Some(id) = id {
                    let _ = in_tx.send(Incoming::Ack { id, data: data.unwrap_or(Value::Null) });
                }
            } else if text.starts_with("41") || text == "1" {
                break;
            }
        }
        let _ = in_tx.send(Incoming::Closed);
    });
    Ok((Sender { out, kill }, in_rx))
}

fn split_id(s: &str) -> (Option<u64>, &str) {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (s[..digits].parse().ok(), &s[digits..])
}
