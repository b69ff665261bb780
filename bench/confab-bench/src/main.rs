//! `confab-bench`: a load generator that connects like any client
//! (Socket.IO over WebSocket, real registration and tokens) and **verifies
//! while it measures**: every acknowledged message must arrive exactly once
//! (in order, per conversation); losses and duplicates are counted, and a
//! run with any fails (exit code 1).
//!
//! Scenarios (each bounded in time): `direct` (pairs, closed loop, or open
//! loop with `--rate`; `--history N` first stores N messages in the pairs'
//! conversations on PostgreSQL), `offline` (store for offline recipients,
//! then they fetch), `new-conversations` (the first messages of S × R new
//! direct conversations, bounded in count), `group` (one sender to a group
//! of N online members), `connections` (N idle sockets: handshake rate,
//! server memory per socket). Several `--url`s spread the
//! users over the nodes of a cluster.

mod connections;
mod fresh;
mod prefill;
mod sio;
mod soak;
mod stats;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use sio::Incoming;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[derive(Parser)]
#[command(about = "Load generator for Confab: measures and verifies")]
struct Cli {
    /// Server address(es), e.g. 127.0.0.1:8080; repeat for a cluster.
    #[arg(long = "url", required = true)]
    urls: Vec<SocketAddr>,
    /// How long the measured phase lasts, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// The server's PostgreSQL database, for `direct --history` (which
    /// writes the history there before the run).
    #[arg(long)]
    database_url: Option<String>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Clone, Copy)]
enum Scenario {
    /// P online pairs; each sender keeps W messages in flight (closed
    /// loop), or with `--rate` sends on a fixed schedule (open loop).
    Direct {
        #[arg(long, default_value_t = 50)]
        pairs: usize,
        #[arg(long, default_value_t = 8)]
        window: usize,
        /// Open loop: this many msgs/s in total, spread evenly over the
        /// pairs, whatever the acks do; latency counts from the scheduled
        /// send time (no coordinated omission). 0: closed loop.
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Messages already stored in the pairs' conversations before the
        /// run, written straight into PostgreSQL (needs `--database-url`).
        #[arg(long, default_value_t = 0)]
        history: u64,
    },
    /// P senders write to P offline recipients, who then connect and fetch.
    Offline {
        #[arg(long, default_value_t = 50)]
        pairs: usize,
        #[arg(long, default_value_t = 8)]
        window: usize,
    },
    /// One sender to a group of N online members, W messages in flight.
    Group {
        #[arg(long, default_value_t = 100)]
        members: usize,
        #[arg(long, default_value_t = 4)]
        window: usize,
    },
    /// N authenticated sockets (of U users) held idle for `--duration`.
    Connections {
        #[arg(long, default_value_t = 1000)]
        sockets: usize,
        #[arg(long, default_value_t = 50)]
        users: usize,
        /// Handshakes in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// The server's pid, to read its memory and CPU from /proc.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// S senders write the first messages of S × R new direct
    /// conversations to R offline recipients, who then fetch them.
    NewConversations(fresh::Options),
    /// Connection churn for `--duration`: pairs connect, exchange direct
    /// messages, disconnect (some abruptly); watches the server for leaks.
    Soak(soak::Options),
}

/// Microseconds since the run started: carried in each message body, so a
/// receiver computes end-to-end latency (sender and receiver share the clock).
fn micros(start: Instant) -> u64 {
    start.elapsed().as_micros() as u64
}

async fn register(http: &reqwest::Client, url: SocketAddr, name: &str) -> anyhow::Result<(i64, String)> {
    let res = http
        .post(format!("http://{url}/api/auth/register"))
        .json(&json!({"username": name, "password": "bench-password"}))
        .send()
        .await?;
    anyhow::ensure!(res.status().as_u16() == 201, "register {name}: {}", res.status());
    let body: Value = res.json().await?;
    Ok((body["user"]["id"].as_i64().context("id")?, body["token"].as_str().context("token")?.to_string()))
}

/// Registers `n` users, at most 8 at a time (password hashing is costly by design).
async fn users(urls: &[SocketAddr], n: usize, tag: &str) -> anyhow::Result<Vec<(i64, String)>> {
    let http = reqwest::Client::new();
    let run = std::process::id();
    let mut out = vec![(0, String::new()); n];
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let mut set = JoinSet::new();
        for &i in chunk {
            let (http, url) = (http.clone(), urls[i % urls.len()]);
            let name = format!("b{run}{tag}{i}");
            set.spawn(async move { (i, register(&http, url, &name).await) });
        }
        while let Some(done) = set.join_next().await {
            let (i, user) = done?;
            out[i] = user?;
        }
    }
    Ok(out)
}

/// What a sender learned: ids of acknowledged messages, in order.
struct Sent {
    acked: Vec<i64>,
    errors: u64,
    ack_latency: hdrhistogram::Histogram<u64>,
}

/// How a sender paces itself.
#[derive(Clone, Copy)]
enum Pace {
    /// Keep this many messages in flight.
    Window(usize),
    /// Send one message every interval, starting at the offset.
    Every(Duration, Duration),
}

/// Sends to `target` (a `receiverId` or `conversationId` field) until
/// `until`, paced by `pace`, then waits for the outstanding acks.
async fn send_loop(
    tx: sio::Sender,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Incoming>,
    target: (&'static str, i64),
    pace: Pace,
    start: Instant,
    until: Instant,
) -> Sent {
    let mut sent = Sent { acked: Vec::new(), errors: 0, ack_latency: stats::histogram() };
    let mut in_flight: HashMap<u64, Instant> = HashMap::new();
    let mut next = 0u64;
    // `at`: when the message was due, which is what latency counts from.
    let send = |id: u64, at: Instant, in_flight: &mut HashMap<u64, Instant>| {
        in_flight.insert(id, at);
        let due = at.duration_since(start).as_micros() as u64;
        let body = json!({ target.0: target.1, "message": due.to_string(), "clientMsgId": format!("c{id}") });
        tx.emit_with_ack(id, "send_message", &body);
    };
    let mut due = match pace {
        Pace::Window(window) => {
            for _ in 0..window {
                send(next, Instant::now(), &mut in_flight);
                next += 1;
            }
            None
        }
        Pace::Every(_, offset) => Some(start + offset),
    };
    let grace = until + Duration::from_secs(10);
    loop {
        if due.is_none() && in_flight.is_empty() {
            break;
        }
        let wake = due.unwrap_or(grace);
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = tokio::time::sleep_until(wake.into()) => {
                match (due, pace) {
                    (Some(at), Pace::Every(interval, _)) => {
                        send(next, at, &mut in_flight);
                        next += 1;
                        due = Some(at + interval).filter(|&t| t < until);
                        continue;
                    }
                    _ => break, // the grace period is over
                }
            }
        };
        let Some(msg) = msg else { break };
        match msg {
            Incoming::Ack { id, data } => {
                if let Some(t0) = in_flight.remove(&id) {
                    let _ = sent.ack_latency.record(t0.elapsed().as_micros() as u64);
                }
                match data["message"]["id"].as_i64() {
                    Some(mid) => sent.acked.push(mid),
                    None => sent.errors += 1,
                }
                if matches!(pace, Pace::Window(_)) && Instant::now() < until {
                    send(next, Instant::now(), &mut in_flight);
                    next += 1;
                }
            }
            Incoming::Event { ack: Some(a), .. } => tx.ack(a),
            Incoming::Closed => break,
            Incoming::Event { .. } => {}
        }
    }
    tx.close();
    sent
}

/// Per group message: how many members got it, and the slowest delivery (µs).
type Fanin = Arc<Mutex<HashMap<i64, (usize, u64)>>>;

/// What a receiver saw: message ids in arrival order, text messages only.
struct Received {
    ids: Vec<i64>,
    out_of_order: u64,
    latency: hdrhistogram::Histogram<u64>,
}

/// Receives (and acknowledges) until `until`.
async fn receive_loop(
    tx: sio::Sender,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Incoming>,
    start: Instant,
    until: Instant,
    firsts: Option<Fanin>,
) -> Received {
    let mut got = Received { ids: Vec::new(), out_of_order: 0, latency: stats::histogram() };
    let mut last_seq: HashMap<i64, i64> = HashMap::new();
    while let Ok(Some(msg)) = tokio::time::timeout_at(until.into(), rx.recv()).await {
        let Incoming::Event { name, data, ack } = msg else { continue };
        if let Some(a) = ack {
            tx.ack(a);
        }
        if name != "receive_message" || data["type"] != "text" {
            continue;
        }
        let now = micros(start);
        let lat = data["message"].as_str().and_then(|s| s.parse::<u64>().ok()).map(|t| now.saturating_sub(t));
        if let Some(l) = lat {
            let _ = got.latency.record(l.max(1));
        }
        let (id, conv, seq) = (
            data["id"].as_i64().unwrap_or(-1),
            data["conversationId"].as_i64().unwrap_or(0),
            data["seq"].as_i64().unwrap_or(0),
        );
        if last_seq.insert(conv, seq).is_some_and(|prev| prev >= seq) {
            got.out_of_order += 1;
        }
        if let (Some(f), Some(l)) = (&firsts, lat) {
            let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
            let e = f.entry(id).or_insert((0, 0));
            e.0 += 1;
            e.1 = e.1.max(l);
        }
        got.ids.push(id);
    }
    tx.close();
    got
}

/// Exactly-once check of one stream: (lost, duplicated).
fn verify(acked: &[i64], received: &[i64]) -> (u64, u64) {
    let mut seen = HashSet::new();
    let dups = received.iter().filter(|id| !seen.insert(**id)).count() as u64;
    let lost = acked.iter().filter(|id| !seen.contains(id)).count() as u64;
    (lost, dups)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // reqwest may be built with rustls but no provider (feature unification
    // with the server); an error only means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let urls = cli.urls.clone();
    let measure = Duration::from_secs_f64(cli.duration);
    let report = match cli.scenario {
        Scenario::Direct { pairs, window, rate, history } => {
            let history = (history > 0).then(|| (cli.database_url.clone(), history));
            direct(&urls, pairs, window, rate, history, measure).await?
        }
        Scenario::Offline { pairs, window } => offline(&urls, pairs, window, measure).await?,
        Scenario::Group { members, window } => group(&urls, members, window, measure).await?,
        Scenario::Connections { sockets, users, concurrency, server_pid } => {
            connections::run(&urls, sockets, users, concurrency, measure, server_pid).await?
        }
        Scenario::NewConversations(o) => fresh::run(&urls, o).await?,
        Scenario::Soak(o) => soak::run(&urls, o, measure).await?,
    };
    println!("{report}");
    let failed = report["lost"].as_u64().unwrap_or(1)
        + report["duplicated"].as_u64().unwrap_or(1)
        + report["errors"].as_u64().unwrap_or(1)
        > 0;
    if failed {
        eprintln!("FAILED: messages were lost, duplicated or refused");
        std::process::exit(1);
    }
    Ok(())
}

async fn direct(
    urls: &[SocketAddr],
    pairs: usize,
    window: usize,
    open_rate: f64,
    history: Option<(Option<String>, u64)>,
    measure: Duration,
) -> anyhow::Result<Value> {
    let people = users(urls, pairs * 2, "d").await?;
    let stored = match history {
        Some((Some(db), n)) => {
            let ids: Vec<(i64, i64)> = (0..pairs).map(|p| (people[2 * p].0, people[2 * p + 1].0)).collect();
            let took = tokio::task::spawn_blocking(move || prefill::direct_history(&db, &ids, n)).await??;
            eprintln!("history: {n} messages written in {:.1} s", took.as_secs_f64());
            n
        }
        Some((None, _)) => anyhow::bail!("--history needs --database-url"),
        None => 0,
    };
    // Every socket is connected before the clock starts: an open loop's
    // schedule counts from `start`, so a pair connected late would begin
    // with messages already overdue by the time the others took to connect.
    let connecting = Instant::now();
    let mut conns = Vec::with_capacity(pairs);
    for p in 0..pairs {
        let (s, r) = (&people[2 * p], &people[2 * p + 1]);
        // Across nodes when there are several: sender and receiver on different ones.
        let receiver = sio::connect(urls[(2 * p + 1) % urls.len()], &r.1).await?;
        let sender = sio::connect(urls[(2 * p) % urls.len()], &s.1).await?;
        conns.push((p, receiver, sender, r.0));
    }
    eprintln!("connected {} sockets in {:.2} s", 2 * pairs, connecting.elapsed().as_secs_f64());
    let start = Instant::now();
    let until = start + measure;
    let mut senders = JoinSet::new();
    let mut receivers = JoinSet::new();
    for (p, (rtx, rrx), (stx, srx), target) in conns {
        receivers.spawn(async move {
            (p, receive_loop(rtx, rrx, start, until + Duration::from_secs(3), None).await)
        });
        let pace = if open_rate > 0.0 {
            // Each pair sends every pairs/rate seconds; the pairs are staggered.
            let interval = Duration::from_secs_f64(pairs as f64 / open_rate);
            Pace::Every(interval, interval.mul_f64(p as f64 / pairs as f64))
        } else {
            Pace::Window(window)
        };
        senders
            .spawn(async move { (p, send_loop(stx, srx, ("receiverId", target), pace, start, until).await) });
    }
    let mut acked: HashMap<usize, Sent> = HashMap::new();
    while let Some(j) = senders.join_next().await {
        let (p, s) = j?;
        acked.insert(p, s);
    }
    let elapsed = start.elapsed().as_secs_f64().min(measure.as_secs_f64() + 10.0);
    let (mut lost, mut dups, mut ooo, mut delivered, mut errors) = (0, 0, 0, 0u64, 0);
    let (mut e2e, mut ack_lat) = (stats::histogram(), stats::histogram());
    while let Some(j) = receivers.join_next().await {
        let (p, r) = j?;
        let s = &acked[&p];
        let (l, d) = verify(&s.acked, &r.ids);
        (lost, dups, ooo, errors) = (lost + l, dups + d, ooo + r.out_of_order, errors + s.errors);
        delivered += r.ids.len() as u64;
        e2e.add(&r.latency).ok();
        ack_lat.add(&s.ack_latency).ok();
    }
    let rate = delivered as f64 / elapsed;
    let pacing =
        if open_rate > 0.0 { format!("open loop at {open_rate} msgs/s") } else { format!("window {window}") };
    eprintln!(
        "direct: {pairs} pairs, {pacing}, {elapsed:.1} s, {} node(s), {stored} messages of history",
        urls.len()
    );
    eprintln!(
        "  delivered {delivered} msgs = {rate:.0} msgs/s; lost {lost}, duplicated {dups}, out of order {ooo}, refused {errors}"
    );
    eprintln!("{}", stats::line("ack latency", &ack_lat));
    eprintln!("{}", stats::line("end-to-end latency", &e2e));
    Ok(
        json!({"scenario": "direct", "nodes": urls.len(), "pairs": pairs, "window": window, "rate": open_rate, "history": stored, "seconds": elapsed,
        "delivered": delivered, "msgs_per_sec": rate, "lost": lost, "duplicated": dups + ooo, "errors": errors,
        "ack_ms": stats::summary(&ack_lat), "e2e_ms": stats::summary(&e2e)}),
    )
}

/// Connects as the user behind `token` and fetches every unread message
/// (page by page); returns their ids in the order received and how long the
/// connection took (the rest of the time is the fetch's).
async fn fetch_unread(url: SocketAddr, token: &str) -> anyhow::Result<(Vec<i64>, Duration)> {
    let t0 = Instant::now();
    let (tx, mut rx) = sio::connect(url, token).await?;
    let connecting = t0.elapsed();
    let mut ids = Vec::new();
    let mut call = 0u64;
    loop {
        tx.emit_with_ack(call, "fetch_unread_messages", &json!({}));
        let page = loop {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(Incoming::Ack { id, data })) if id == call => break data,
                Ok(Some(Incoming::Event { ack: Some(a), .. })) => tx.ack(a),
                Ok(Some(Incoming::Closed)) | Ok(None) | Err(_) => {
                    anyhow::bail!("fetch_unread_messages failed")
                }
                Ok(Some(_)) => {}
            }
        };
        let msgs = page["messages"].as_array().cloned().unwrap_or_default();
        ids.extend(msgs.iter().filter_map(|m| m["id"].as_i64()));
        call += 1;
        if !page["hasMore"].as_bool().unwrap_or(false) {
            break;
        }
    }
    tx.close();
    Ok((ids, connecting))
}

async fn offline(
    urls: &[SocketAddr],
    pairs: usize,
    window: usize,
    measure: Duration,
) -> anyhow::Result<Value> {
    let people = users(urls, pairs * 2, "o").await?;
    // Connected first, so the late ones do not shorten the measured window.
    let mut conns = Vec::with_capacity(pairs);
    for p in 0..pairs {
        let (s, r) = (&people[2 * p], &people[2 * p + 1]);
        conns.push((p, sio::connect(urls[(2 * p) % urls.len()], &s.1).await?, r.0));
    }
    let start = Instant::now();
    let until = start + measure;
    let mut senders = JoinSet::new();
    for (p, (stx, srx), target) in conns {
        senders.spawn(async move {
            (p, send_loop(stx, srx, ("receiverId", target), Pace::Window(window), start, until).await)
        });
    }
    let mut acked: HashMap<usize, Sent> = HashMap::new();
    while let Some(j) = senders.join_next().await {
        let (p, s) = j?;
        acked.insert(p, s);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stored: u64 = acked.values().map(|s| s.acked.len() as u64).sum();
    let errors: u64 = acked.values().map(|s| s.errors).sum();
    let mut ack_lat = stats::histogram();
    for s in acked.values() {
        ack_lat.add(&s.ack_latency).ok();
    }
    // Recipients come online and fetch until nothing is left.
    let fetch_start = Instant::now();
    let (mut lost, mut dups, mut connecting) = (0, 0, Duration::ZERO);
    for p in 0..pairs {
        let r = &people[2 * p + 1];
        let (ids, c) = fetch_unread(urls[(2 * p + 1) % urls.len()], &r.1).await?;
        connecting += c;
        let (l, d) = verify(&acked[&p].acked, &ids);
        lost += l;
        dups += d + (ids.len() as u64).saturating_sub(acked[&p].acked.len() as u64);
    }
    let fetch_secs = fetch_start.elapsed().as_secs_f64();
    let rate = stored as f64 / elapsed;
    eprintln!("offline: {pairs} senders, window {window}, {elapsed:.1} s, {} node(s)", urls.len());
    eprintln!(
        "  stored {stored} msgs = {rate:.0} durable msgs/s; fetched back in {fetch_secs:.2} s ({:.2} s of it connecting); lost {lost}, duplicated {dups}, refused {errors}",
        connecting.as_secs_f64()
    );
    eprintln!("{}", stats::line("ack latency", &ack_lat));
    Ok(
        json!({"scenario": "offline", "nodes": urls.len(), "pairs": pairs, "window": window, "seconds": elapsed,
        "stored": stored, "msgs_per_sec": rate, "fetch_seconds": fetch_secs,
        "fetch_connect_seconds": connecting.as_secs_f64(), "lost": lost, "duplicated": dups,
        "errors": errors, "ack_ms": stats::summary(&ack_lat)}),
    )
}

async fn group(
    urls: &[SocketAddr],
    members: usize,
    window: usize,
    measure: Duration,
) -> anyhow::Result<Value> {
    let people = users(urls, members + 1, "g").await?;
    let (owner, rest) = (&people[0], &people[1..]);
    let http = reqwest::Client::new();
    let res = http
        .post(format!("http://{}/api/conversations", urls[0]))
        .bearer_auth(&owner.1)
        .json(&json!({"type": "group", "name": "bench", "memberIds": rest.iter().map(|u| u.0).collect::<Vec<_>>()}))
        .send()
        .await?;
    anyhow::ensure!(res.status().as_u16() == 201, "create group: {}", res.status());
    let gid = res.json::<Value>().await?["conversation"]["id"].as_i64().context("group id")?;

    let firsts: Fanin = Arc::default();
    let mut conns = Vec::new();
    for (i, m) in rest.iter().enumerate() {
        conns.push(sio::connect(urls[(i + 1) % urls.len()], &m.1).await?);
    }
    let start = Instant::now();
    let until = start + measure;
    let mut receivers = JoinSet::new();
    for (tx, rx) in conns {
        let f = firsts.clone();
        receivers.spawn(receive_loop(tx, rx, start, until + Duration::from_secs(5), Some(f)));
    }
    let (stx, srx) = sio::connect(urls[0], &owner.1).await?;
    let sent = send_loop(stx, srx, ("conversationId", gid), Pace::Window(window), start, until).await;
    let elapsed = start.elapsed().as_secs_f64();
    let (mut lost, mut dups, mut deliveries) = (0, 0, 0u64);
    let mut e2e = stats::histogram();
    while let Some(j) = receivers.join_next().await {
        let r = j?;
        let (l, d) = verify(&sent.acked, &r.ids);
        (lost, dups) = (lost + l, dups + d + r.out_of_order);
        deliveries += r.ids.len() as u64;
        e2e.add(&r.latency).ok();
    }
    let mut to_last = stats::histogram();
    for (count, worst) in firsts.lock().unwrap_or_else(|e| e.into_inner()).values() {
        if *count == members {
            let _ = to_last.record((*worst).max(1));
        }
    }
    let rate = deliveries as f64 / elapsed;
    eprintln!(
        "group: {members} members online, window {window}, {} messages, {elapsed:.1} s, {} node(s)",
        sent.acked.len(),
        urls.len()
    );
    eprintln!(
        "  {deliveries} deliveries = {rate:.0} deliveries/s; lost {lost}, duplicated {dups}, refused {}",
        sent.errors
    );
    eprintln!("{}", stats::line("ack latency", &sent.ack_latency));
    eprintln!("{}", stats::line("delivery latency", &e2e));
    eprintln!("{}", stats::line("publish → last member", &to_last));
    Ok(
        json!({"scenario": "group", "nodes": urls.len(), "members": members, "window": window, "seconds": elapsed,
        "messages": sent.acked.len(), "deliveries": deliveries, "deliveries_per_sec": rate, "lost": lost,
        "duplicated": dups, "errors": sent.errors, "ack_ms": stats::summary(&sent.ack_latency),
        "delivery_ms": stats::summary(&e2e), "to_last_member_ms": stats::summary(&to_last)}),
    )
}
