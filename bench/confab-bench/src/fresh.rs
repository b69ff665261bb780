//! `new-conversations`: the first messages of many new direct conversations.
//! S senders each write to the same R offline recipients (S × R pairs, none
//! of which has a conversation yet), M messages per conversation, W in
//! flight per sender; each sender goes round the recipients, so its first R
//! sends each create a conversation. Then every recipient connects and
//! fetches its unread messages: each acknowledged message must come back
//! exactly once.

use super::{Incoming, fetch_unread, sio, stats, users, verify};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[derive(clap::Args, Clone, Copy)]
pub struct Options {
    /// Senders, online.
    #[arg(long, default_value_t = 100)]
    senders: usize,
    /// Recipients, offline while the senders write.
    #[arg(long, default_value_t = 100)]
    recipients: usize,
    /// Messages per conversation.
    #[arg(long, default_value_t = 2)]
    messages: usize,
    /// Messages in flight per sender.
    #[arg(long, default_value_t = 16)]
    window: usize,
}

/// One sender's acknowledged message ids, by recipient index.
struct Sent {
    acked: HashMap<usize, Vec<i64>>,
    errors: u64,
    latency: hdrhistogram::Histogram<u64>,
}

/// Sends `targets` (recipient index, id) in order, `window` in flight.
async fn send_all(
    url: SocketAddr,
    token: String,
    targets: Vec<(usize, i64)>,
    window: usize,
) -> anyhow::Result<Sent> {
    let (tx, mut rx) = sio::connect(url, &token).await?;
    let mut sent = Sent { acked: HashMap::new(), errors: 0, latency: stats::histogram() };
    let mut in_flight: HashMap<u64, (usize, Instant)> = HashMap::new();
    let mut next = 0usize;
    let send = |i: usize, in_flight: &mut HashMap<u64, (usize, Instant)>| {
        let (r, id) = targets[i];
        in_flight.insert(i as u64, (r, Instant::now()));
        let body = json!({"receiverId": id, "message": format!("new {i}"), "clientMsgId": format!("n{i}")});
        tx.emit_with_ack(i as u64, "send_message", &body);
    };
    while next < targets.len().min(window) {
        send(next, &mut in_flight);
        next += 1;
    }
    while !in_flight.is_empty() {
        let msg = match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(m)) => m,
            _ => break,
        };
        match msg {
            Incoming::Ack { id, data } => {
                let Some((r, t0)) = in_flight.remove(&id) else { continue };
                let _ = sent.latency.record(t0.elapsed().as_micros() as u64);
                match data["message"]["id"].as_i64() {
                    Some(mid) => sent.acked.entry(r).or_default().push(mid),
                    None => sent.errors += 1,
                }
                if next < targets.len() {
                    send(next, &mut in_flight);
                    next += 1;
                }
            }
            Incoming::Event { ack: Some(a), .. } => tx.ack(a),
            Incoming::Closed => break,
            Incoming::Event { .. } => {}
        }
    }
    sent.errors += in_flight.len() as u64;
    tx.close();
    Ok(sent)
}

pub async fn run(urls: &[SocketAddr], o: Options) -> anyhow::Result<Value> {
    let people = users(urls, o.senders + o.recipients, "n").await?;
    let (senders, recipients) = people.split_at(o.senders);
    let targets: Vec<(usize, i64)> =
        (0..o.messages).flat_map(|_| recipients.iter().enumerate().map(|(j, r)| (j, r.0))).collect();
    let start = Instant::now();
    let mut set = JoinSet::new();
    for (i, s) in senders.iter().enumerate() {
        let (url, token, targets) = (urls[i % urls.len()], s.1.clone(), targets.clone());
        set.spawn(send_all(url, token, targets, o.window));
    }
    let mut by_recipient: HashMap<usize, Vec<i64>> = HashMap::new();
    let (mut errors, mut latency) = (0, stats::histogram());
    while let Some(j) = set.join_next().await {
        let sent = j??;
        errors += sent.errors;
        latency.add(&sent.latency).ok();
        for (r, ids) in sent.acked {
            by_recipient.entry(r).or_default().extend(ids);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stored: u64 = by_recipient.values().map(|v| v.len() as u64).sum();

    let fetch_start = Instant::now();
    let (mut lost, mut dups, mut connecting) = (0, 0, Duration::ZERO);
    for (j, r) in recipients.iter().enumerate() {
        let (ids, c) = fetch_unread(urls[(o.senders + j) % urls.len()], &r.1).await?;
        connecting += c;
        let acked = by_recipient.remove(&j).unwrap_or_default();
        let (l, d) = verify(&acked, &ids);
        lost += l;
        dups += d + (ids.len() as u64).saturating_sub(acked.len() as u64);
    }
    let fetch_secs = fetch_start.elapsed().as_secs_f64();
    let rate = stored as f64 / elapsed;
    let conversations = o.senders * o.recipients;
    eprintln!(
        "new-conversations: {} senders × {} offline recipients = {conversations} new conversations, {} per conversation, window {}, {} node(s)",
        o.senders,
        o.recipients,
        o.messages,
        o.window,
        urls.len()
    );
    eprintln!(
        "  stored {stored} msgs in {elapsed:.1} s = {rate:.0} durable msgs/s; fetched back in {fetch_secs:.2} s ({:.2} s of it connecting); lost {lost}, duplicated {dups}, refused {errors}",
        connecting.as_secs_f64()
    );
    eprintln!("{}", stats::line("ack latency", &latency));
    Ok(json!({"scenario": "new-conversations", "nodes": urls.len(), "senders": o.senders,
        "recipients": o.recipients, "conversations": conversations, "window": o.window, "seconds": elapsed,
        "stored": stored, "msgs_per_sec": rate, "fetch_seconds": fetch_secs,
        "fetch_connect_seconds": connecting.as_secs_f64(), "lost": lost, "duplicated": dups,
        "errors": errors, "ack_ms": stats::summary(&latency)}))
}
