//! Rolling restart of a two-node cluster under load: nodes A and B share one
//! PostgreSQL database and the shared Redis (a prefix of their own). Pairs of
//! users chat across the nodes while A gets SIGTERM, must exit by itself
//! with success (the drain), and comes back on the same port; then the same
//! for B. Clients behave like a real one behind two addresses: a sender whose
//! socket closes or whose send goes unanswered reconnects (to the other node
//! if its own refuses) and retries the same `clientMsgId` until acknowledged;
//! a recipient acknowledges each `receive_message`, and after every
//! (re)connect calls `fetch_unread_messages`.
//!
//! What it proves:
//! - each node exits with success within [`DRAIN`] of SIGTERM, with sockets open;
//! - every acknowledged message is stored exactly once in PostgreSQL, and
//!   nothing is stored that no client sent (retries store nothing twice);
//! - each recipient gets each of its messages at least once, live or by fetch,
//!   and nothing that is not its; `fetch_unread_messages` returns a message at
//!   most once, and live delivery delivers it at most once. A message may come
//!   both live and by fetch (a live receipt not yet written when the fetch ran):
//!   API.md tells clients to de-duplicate by `id`, so that overlap is allowed
//!   and counted, nothing else is.
//!
//! PostgreSQL or Redis unreachable fails the test; the shared Redis is only
//! used under this test's prefix, never flushed.

use crate::common;
use common::{Process, Sio, register_at};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

const PAIRS: usize = 6;
/// How long a node may take to exit after SIGTERM.
const DRAIN: Duration = Duration::from_secs(15);
/// An unanswered call counts as lost after this (the node may be going away).
const ANSWER: Duration = Duration::from_secs(3);
/// A client that cannot get a message through for this long fails the test.
const GIVE_UP: Duration = Duration::from_secs(25);

/// Both nodes' addresses; a restarted node keeps its address, as behind a
/// fixed DNS name or load balancer entry.
type Nodes = [SocketAddr; 2];

#[derive(Default)]
struct Counts {
    reconnects: AtomicUsize,
    retries: AtomicUsize,
    /// Sends answered `unavailable` by a node shutting down (then retried).
    unavailable: AtomicUsize,
    lost_fetches: AtomicUsize,
}

/// Connects to `nodes[*at]`, switching to the other node each time one
/// refuses (down, or closing): `*at` ends on the node that took it.
async fn connect(nodes: &Nodes, at: &mut usize, token: &str) -> Sio {
    let deadline = Instant::now() + GIVE_UP;
    loop {
        match Sio::connect(nodes[*at], Some(token)).await {
            Ok(s) => return s,
            Err(e) => {
                assert!(Instant::now() < deadline, "no node takes a connection: {e}");
                *at = 1 - *at;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Sends `p{pair}-0`, `p{pair}-1`, … until `stop`, each one until it is
/// acknowledged; returns clientMsgId → message id.
async fn sender(
    nodes: Nodes,
    mut at: usize,
    token: String,
    to: i64,
    pair: usize,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) -> HashMap<String, i64> {
    let mut acked = HashMap::new();
    let mut s = connect(&nodes, &mut at, &token).await;
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let client_id = format!("p{pair}-{i}");
        let body = json!({"receiverId": to, "message": client_id, "clientMsgId": client_id});
        let deadline = Instant::now() + GIVE_UP;
        let id = loop {
            let answer = s.try_call("send_message", body.clone(), ANSWER).await;
            if let Some(id) = answer.as_ref().and_then(|a| a["message"]["id"].as_i64()) {
                break id;
            }
            assert!(Instant::now() < deadline, "{client_id} never acknowledged (last answer {answer:?})");
            // A node shutting down answers `unavailable`; any other error
            // answer (not a lost one) would be a bug, not a restart.
            if let Some(a) = &answer {
                assert_eq!(a["error"]["code"], "unavailable", "{client_id} refused: {a}");
                counts.unavailable.fetch_add(1, Ordering::Relaxed);
            }
            // Closed, refused or silent for ANSWER: a new connection, same clientMsgId.
            counts.retries.fetch_add(1, Ordering::Relaxed);
            counts.reconnects.fetch_add(1, Ordering::Relaxed);
            s = connect(&nodes, &mut at, &token).await;
        };
        acked.insert(client_id, id);
    }
    acked
}

/// What a recipient saw: message ids delivered live (in order, repeats kept)
/// and returned by its fetches.
#[derive(Default)]
struct Seen {
    live: Vec<i64>,
    fetched: Vec<i64>,
}

/// All pages of `fetch_unread_messages`; `None` if an answer was lost or
/// the node is shutting down.
async fn fetch_all(s: &mut Sio) -> Option<Vec<i64>> {
    let mut ids = Vec::new();
    loop {
        let page = s.try_call("fetch_unread_messages", json!({}), ANSWER).await?;
        if page["error"]["code"] == "unavailable" {
            return None; // a node shutting down: fetch again after reconnecting
        }
        let messages = page["messages"].as_array().unwrap_or_else(|| panic!("fetch answered {page}"));
        ids.extend(messages.iter().map(|m| m["id"].as_i64().unwrap()));
        if !page["hasMore"].as_bool().unwrap() {
            return Some(ids);
        }
    }
}

async fn recipient(
    nodes: Nodes,
    mut at: usize,
    token: String,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) -> Seen {
    let mut seen = Seen::default();
    let mut s = connect(&nodes, &mut at, &token).await;
    let mut fetch_due = true;
    loop {
        if fetch_due {
            // What was sent while this recipient had no socket.
            match fetch_all(&mut s).await {
                Some(ids) => {
                    seen.fetched.extend(ids);
                    fetch_due = false;
                }
                None => {
                    counts.lost_fetches.fetch_add(1, Ordering::Relaxed);
                    counts.reconnects.fetch_add(1, Ordering::Relaxed);
                    s = connect(&nodes, &mut at, &token).await;
                }
            }
            continue;
        }
        if let Some(m) = s.try_recv("receive_message", Duration::from_millis(200)).await {
            if let Some(ack) = m.ack_id {
                s.ack(ack, json!({}));
            }
            seen.live.push(m.data["id"].as_i64().unwrap());
            continue;
        }
        if stop.load(Ordering::Relaxed) {
            return seen;
        }
        if s.is_closed() {
            counts.reconnects.fetch_add(1, Ordering::Relaxed);
            s = connect(&nodes, &mut at, &token).await;
            fetch_due = true;
        }
    }
}

/// SIGTERM, the drain bound and a clean exit, then the same node again on its address.
async fn roll(node: &mut Process, name: &str, dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) {
    let at = node.addr().to_string();
    let started = Instant::now();
    let status = node.terminate(DRAIN).await;
    let took = started.elapsed();
    let status = status.unwrap_or_else(|| panic!("node {name} still running {DRAIN:?} after SIGTERM"));
    assert!(status.success(), "node {name} exits with success after SIGTERM, got {status}");
    eprintln!("node {name}: SIGTERM -> exited ({status}) in {} ms", took.as_millis());
    *node = Process::start_at(&at, dir, args, env);
    eprintln!("node {name}: back on {at}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_restart_under_load_loses_no_acknowledged_message() {
    confab::install_tls_provider();
    let began = Instant::now();
    let db = common::fresh_postgres().await;
    let db_name = db.rsplit('/').next().unwrap().to_string();
    let redis_url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    // Fail here, clearly, if Redis is down (not as a node that does not start).
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.expect("Redis reachable");
    let _: String = redis::cmd("PING").query_async(&mut conn).await.expect("Redis answers PING");

    let dir = tempfile::tempdir().unwrap();
    let args = ["--database-url", db.as_str(), "--redis-url", redis_url.as_str()];
    let env = [
        ("CONFAB_CLUSTER__REDIS_PREFIX", db_name.as_str()),
        ("CONFAB_CLUSTER__NODE_TTL_SECS", "4"),
        ("CONFAB_CLUSTER__POSTGRES_MAX_CONNECTIONS", "4"),
        ("CONFAB_LIMITS__EVENTS_PER_SECOND", "100000"),
        ("CONFAB_LIMITS__EVENTS_BURST", "100000"),
        ("CONFAB_LIMITS__EVENTS_PER_SECOND_PER_USER", "100000"),
        ("CONFAB_LIMITS__EVENTS_BURST_PER_USER", "100000"),
    ];
    let mut a = Process::start(dir.path(), &args, &env);
    let mut b = Process::start(dir.path(), &args, &env);
    let nodes: Nodes = [a.addr(), b.addr()];
    let http = reqwest::Client::new();

    // Pair i: the sender on node i % 2, its recipient on the other one.
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for i in 0..PAIRS {
        senders.push(register_at(&http, nodes[i % 2], &format!("sender{i}")).await);
        receivers.push(register_at(&http, nodes[(i + 1) % 2], &format!("receiver{i}")).await);
    }
    let counts = Arc::new(Counts::default());
    let stop_receiving = Arc::new(AtomicBool::new(false));
    let mut receiving = Vec::new();
    for (i, r) in receivers.iter().enumerate() {
        let task = recipient(nodes, (i + 1) % 2, r.1.clone(), stop_receiving.clone(), counts.clone());
        receiving.push(tokio::spawn(task));
    }
    let stop_sending = Arc::new(AtomicBool::new(false));
    let mut sending = Vec::new();
    for (i, s) in senders.iter().enumerate() {
        let task = sender(nodes, i % 2, s.1.clone(), receivers[i].0, i, stop_sending.clone(), counts.clone());
        sending.push(tokio::spawn(task));
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    roll(&mut a, "A", dir.path(), &args, &env).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    roll(&mut b, "B", dir.path(), &args, &env).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;

    // Every send a sender started is acknowledged before its task ends.
    stop_sending.store(true, Ordering::Relaxed);
    let mut acked: HashMap<String, (usize, i64)> = HashMap::new();
    for (pair, task) in sending.into_iter().enumerate() {
        for (client_id, id) in task.await.unwrap() {
            acked.insert(client_id, (pair, id));
        }
    }
    // Live deliveries in flight arrive; then the recipients stop.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop_receiving.store(true, Ordering::Relaxed);
    let mut seen = Vec::new();
    for task in receiving {
        seen.push(task.await.unwrap());
    }
    assert!(acked.len() > 100, "the run sent messages ({} acknowledged)", acked.len());

    // Stored exactly once: every acknowledged message, nothing else.
    let sender_ids: Vec<i64> = senders.iter().map(|s| s.0).collect();
    common::assert_stored_once(&db, &sender_ids, &acked).await;

    // Each recipient: every message at least once (live or fetched), no
    // repeat within live delivery nor within fetches, nothing foreign.
    let (mut live_total, mut fetched_total, mut overlap_total, mut final_total) = (0, 0, 0, 0);
    for (i, r) in receivers.iter().enumerate() {
        let mine: HashSet<i64> = acked.values().filter(|(p, _)| *p == i).map(|(_, id)| *id).collect();
        let seen = &mut seen[i];
        // A message whose live delivery was cut by a shutdown reaches a
        // client at its next connect; the run's last connect is this one.
        let mut at = i % 2;
        let mut s = connect(&nodes, &mut at, &r.1).await;
        let last = fetch_all(&mut s).await.expect("final fetch answered");
        final_total += last.len();
        seen.fetched.extend(last);

        let live: HashSet<i64> = seen.live.iter().copied().collect();
        let fetched: HashSet<i64> = seen.fetched.iter().copied().collect();
        assert_eq!(live.len(), seen.live.len(), "receiver{i}: no message delivered live twice");
        assert_eq!(fetched.len(), seen.fetched.len(), "receiver{i}: no message fetched twice");
        let got: HashSet<i64> = live.union(&fetched).copied().collect();
        let missing: Vec<_> = mine.difference(&got).collect();
        let foreign: Vec<_> = got.difference(&mine).collect();
        assert!(
            missing.is_empty(),
            "receiver{i} never got {} of its {} messages ({} fetch answers lost in the run): {missing:?}",
            missing.len(),
            mine.len(),
            counts.lost_fetches.load(Ordering::Relaxed)
        );
        assert!(foreign.is_empty(), "receiver{i} got messages not sent to it: {foreign:?}");
        live_total += live.len();
        fetched_total += fetched.len();
        overlap_total += live.intersection(&fetched).count();
    }
    eprintln!(
        "rolling: {} messages acknowledged and stored once, {} send retries ({} answered \
         unavailable), {} reconnects, {} fetches to redo; recipients got {live_total} live and {fetched_total} by fetch \
         ({final_total} in the final fetch, {overlap_total} both ways); {:.1} s",
        acked.len(),
        counts.retries.load(Ordering::Relaxed),
        counts.unavailable.load(Ordering::Relaxed),
        counts.reconnects.load(Ordering::Relaxed),
        counts.lost_fetches.load(Ordering::Relaxed),
        began.elapsed().as_secs_f64()
    );
}
