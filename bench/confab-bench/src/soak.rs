//! The `soak` scenario: connection churn for a long time, watching the
//! server for leaks.
//!
//! `lanes` loops run side by side until `--duration` is over. A lane owns a
//! few of the registered users (no user is in two lanes, so every socket's
//! traffic is its own session's) and runs sessions back to back: two of its
//! users connect (real token auth over Socket.IO WebSocket, each from the
//! next 127.0.0.x source address), each sends `messages` direct messages to
//! the other, both wait until all their sends are acknowledged and every
//! message the partner had acknowledged has arrived, hold the sockets open
//! a moment, then disconnect — cleanly, or, for a share of the sockets,
//! abruptly (TCP closed without a WebSocket close or a Socket.IO
//! disconnect). Both are connected before anything is sent, so nothing is
//! left for an offline recipient to fetch: every acknowledged message must
//! arrive live, exactly once.
//!
//! The server's VmRSS, open file descriptors and threads are sampled (from
//! `/proc/PID`) after registration (baseline), every few seconds during the
//! churn, and after every socket is closed and `--settle` seconds have
//! passed (final). The run fails on any lost or duplicated message, any
//! refused send or failed handshake, or if the final descriptor count is
//! more than `--fd-margin` above the baseline (a leak). RSS need not come
//! back (the allocator keeps what it has), so its growth is reported only.

use crate::sio::{self, Incoming};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// How long a session waits for its acks and deliveries, and a handshake for its answer.
const PATIENCE: Duration = Duration::from_secs(15);

/// The knobs of a soak run.
#[derive(clap::Args, Clone, Copy)]
pub struct Options {
    /// Users registered up front, split over the lanes.
    #[arg(long, default_value_t = 200)]
    pub users: usize,
    /// Sessions (two sockets each) running at once.
    #[arg(long, default_value_t = 100)]
    pub lanes: usize,
    /// Messages each socket of a session sends to the other.
    #[arg(long, default_value_t = 4)]
    pub messages: usize,
    /// Sockets stay open up to this long (random) after their exchange.
    #[arg(long, default_value_t = 1000)]
    pub hold_ms: u64,
    /// Percentage of sockets dropped without any close (TCP only).
    #[arg(long, default_value_t = 20)]
    pub abrupt_pct: u32,
    /// Source addresses 127.0.0.1, .2, … to connect from (each has ~28k ephemeral ports).
    #[arg(long, default_value_t = 16)]
    pub sources: u8,
    /// Seconds between readings of the server's /proc entries.
    #[arg(long, default_value_t = 5.0)]
    pub sample_secs: f64,
    /// Seconds to wait after the last socket closed before the final reading.
    #[arg(long, default_value_t = 10.0)]
    pub settle_secs: f64,
    /// Descriptors above the baseline still tolerated at the end: database
    /// pools open connections lazily (a SQLite reader holds 2 descriptors;
    /// in a cluster, PostgreSQL connections count too).
    #[arg(long, default_value_t = 16)]
    pub fd_margin: u64,
    /// The server's pid, to read its memory, descriptors and threads from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// One reading of the server's /proc entries.
#[derive(Clone, Copy, Default)]
struct Sample {
    at: f64,
    rss_kib: u64,
    fds: u64,
    threads: u64,
    open_sockets: u64,
}

fn sample(pid: u32, at: f64, open_sockets: u64) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(Sample { at, rss_kib: field("VmRSS:")?, fds, threads: field("Threads:")?, open_sockets })
}

#[derive(Default)]
struct Counters {
    sessions: AtomicU64,
    opened: AtomicU64,
    open_now: AtomicU64,
    aborted: AtomicU64,
    handshake_failures: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    lost: AtomicU64,
    duplicated: AtomicU64,
    refused: AtomicU64,
    /// Sources of connections, round robin.
    next_source: AtomicU64,
    /// What the first refused send was answered.
    first_refusal: std::sync::Mutex<Option<String>>,
}

impl Counters {
    fn source(&self, sources: u8) -> IpAddr {
        let n = self.next_source.fetch_add(1, Relaxed) % u64::from(sources.max(1));
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + n as u8))
    }
}

type User = (i64, String);

/// One side of a session: sends `n` messages to `partner`, acknowledges and
/// collects what the partner sends, until its own sends are answered and
/// `expect` (the partner's acknowledged ids, once known) have all arrived.
async fn side(
    tx: &sio::Sender,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Incoming>,
    partner: i64,
    (session, n): (u64, usize),
    acked_out: tokio::sync::oneshot::Sender<Vec<i64>>,
    expect: tokio::sync::oneshot::Receiver<Vec<i64>>,
) -> (Vec<i64>, u64, Vec<i64>, Option<String>) {
    for i in 0..n {
        let body = json!({"receiverId": partner, "message": format!("soak {i}"), "clientMsgId": format!("k{session}-{i}")});
        tx.emit_with_ack(i as u64, "send_message", &body);
    }
    let (mut acked, mut refused, mut answered) = (Vec::new(), 0u64, 0usize);
    let mut refusal = None;
    let mut acked_out = Some(acked_out);
    let mut expect = Some(expect);
    let mut expected: Option<HashSet<i64>> = None;
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if answered == n
            && let Some(out) = acked_out.take()
        {
            let _ = out.send(acked.clone());
        }
        if let Some(want) = &expected
            && answered == n
            && want.iter().all(|id| received.contains(id))
        {
            break;
        }
        let msg = tokio::select! {
            got = async { expect.as_mut()?.await.ok() }, if expect.is_some() => {
                expect = None;
                expected = Some(got.unwrap_or_default().into_iter().collect());
                continue;
            }
            msg = tokio::time::timeout_at(deadline, rx.recv()) => msg,
        };
        let Ok(Some(msg)) = msg else { break };
        match msg {
            Incoming::Ack { data, .. } => {
                answered += 1;
                match data["message"]["id"].as_i64() {
                    Some(id) => acked.push(id),
                    None => {
                        refused += 1;
                        refusal.get_or_insert_with(|| data.to_string());
                    }
                }
            }
            Incoming::Event { name, data, ack } => {
                if let Some(a) = ack {
                    tx.ack(a);
                }
                if name == "receive_message" && data["senderId"].as_i64() == Some(partner) {
                    received.push(data["id"].as_i64().unwrap_or(-1));
                }
            }
            Incoming::Closed => break,
        }
    }
    if answered < n {
        refused += (n - answered) as u64;
        refusal.get_or_insert_with(|| format!("no answer within {PATIENCE:?}"));
    }
    (acked, refused, received, refusal)
}

/// Exactly-once check: (lost, duplicated).
fn check(acked: &[i64], received: &[i64]) -> (u64, u64) {
    let mut seen = HashSet::new();
    let dups = received.iter().filter(|id| !seen.insert(**id)).count() as u64;
    let lost = acked.iter().filter(|id| !seen.contains(id)).count() as u64;
    (lost, dups)
}

type Connection = (sio::Sender, tokio::sync::mpsc::UnboundedReceiver<Incoming>);

async fn connect(url: SocketAddr, user: &User, o: &Options, c: &Counters) -> Option<Connection> {
    let source = c.source(o.sources);
    match tokio::time::timeout(PATIENCE, sio::connect_from(url, &user.1, Some(source))).await {
        Ok(Ok(conn)) => {
            c.opened.fetch_add(1, Relaxed);
            c.open_now.fetch_add(1, Relaxed);
            Some(conn)
        }
        Ok(Err(e)) => {
            if c.handshake_failures.fetch_add(1, Relaxed) < 5 {
                eprintln!("  handshake failed from {source}: {e}");
            }
            None
        }
        Err(_) => {
            c.handshake_failures.fetch_add(1, Relaxed);
            None
        }
    }
}

/// One session between `a` and `b`; see the module docs.
async fn session(urls: &[SocketAddr], lane: usize, a: &User, b: &User, o: &Options, c: &Counters) {
    let (ua, ub) = (urls[lane % urls.len()], urls[(lane + 1) % urls.len()]);
    let Some((atx, mut arx)) = connect(ua, a, o, c).await else { return };
    let Some((btx, mut brx)) = connect(ub, b, o, c).await else {
        atx.close();
        c.open_now.fetch_sub(1, Relaxed);
        return;
    };
    // Unique per session: a clientMsgId seen before is a retry, answered with the original.
    let session = c.sessions.fetch_add(1, Relaxed);
    let (a_acked_tx, a_acked_rx) = tokio::sync::oneshot::channel();
    let (b_acked_tx, b_acked_rx) = tokio::sync::oneshot::channel();
    let ((a_acked, a_refused, a_got, a_why), (b_acked, b_refused, b_got, b_why)) = tokio::join!(
        side(&atx, &mut arx, b.0, (session, o.messages), a_acked_tx, b_acked_rx),
        side(&btx, &mut brx, a.0, (session, o.messages), b_acked_tx, a_acked_rx),
    );
    let (l1, d1) = check(&a_acked, &b_got);
    let (l2, d2) = check(&b_acked, &a_got);
    c.lost.fetch_add(l1 + l2, Relaxed);
    c.duplicated.fetch_add(d1 + d2, Relaxed);
    c.acked.fetch_add((a_acked.len() + b_acked.len()) as u64, Relaxed);
    c.delivered.fetch_add((a_got.len() + b_got.len()) as u64, Relaxed);
    c.refused.fetch_add(a_refused + b_refused, Relaxed);
    if let Some(why) = a_why.or(b_why) {
        c.first_refusal.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(why);
    }
    if o.hold_ms > 0 {
        tokio::time::sleep(Duration::from_millis(rand_below(o.hold_ms))).await;
    }
    for tx in [&atx, &btx] {
        if rand_below(100) < u64::from(o.abrupt_pct) {
            tx.abort();
            c.aborted.fetch_add(1, Relaxed);
        } else {
            tx.close();
        }
        c.open_now.fetch_sub(1, Relaxed);
    }
}

/// A cheap, good-enough random number below `n` (no extra dependency).
fn rand_below(n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    h.finish() % n.max(1)
}

pub async fn run(urls: &[SocketAddr], o: Options, duration: Duration) -> anyhow::Result<Value> {
    let lanes = o.lanes.max(1);
    let per_lane = (o.users / lanes).max(2);
    let people: Arc<Vec<User>> = Arc::new(crate::users(urls, per_lane * lanes, "k").await?);
    // Registration's HTTP connections are gone; let the server settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = Instant::now();
    let counters = Arc::new(Counters::default());
    let read = |c: &Counters| {
        o.server_pid.and_then(|pid| sample(pid, start.elapsed().as_secs_f64(), c.open_now.load(Relaxed)))
    };
    let baseline = read(&counters);

    let urls: Arc<Vec<SocketAddr>> = Arc::new(urls.to_vec());
    let until = Instant::now() + duration;
    let mut set = JoinSet::new();
    for lane in 0..lanes {
        let (urls, people, c) = (urls.clone(), people.clone(), counters.clone());
        set.spawn(async move {
            let mine = &people[lane * per_lane..(lane + 1) * per_lane];
            let mut turn = 0usize;
            while Instant::now() < until {
                let (a, b) = (&mine[turn % per_lane], &mine[(turn + 1) % per_lane]);
                session(&urls, lane, a, b, &o, &c).await;
                turn += 1;
            }
        });
    }
    // Sample while the lanes run.
    let mut samples: Vec<Sample> = baseline.into_iter().collect();
    let every = Duration::from_secs_f64(o.sample_secs.max(0.5));
    let mut last_print = Instant::now();
    while !set.is_empty() {
        tokio::select! {
            done = set.join_next() => { if let Some(r) = done { r?; } }
            _ = tokio::time::sleep(every) => {
                if let Some(s) = read(&counters) {
                    samples.push(s);
                    if last_print.elapsed() >= Duration::from_secs(30) || o.sample_secs >= 30.0 {
                        last_print = Instant::now();
                        eprintln!("  {:>6.0} s  rss {:>7} KiB  fds {:>6}  threads {:>3}  open sockets {:>6}  opened {}",
                            s.at, s.rss_kib, s.fds, s.threads, s.open_sockets, counters.opened.load(Relaxed));
                    }
                }
            }
        }
    }
    let churn_secs = start.elapsed().as_secs_f64();
    let closed = read(&counters);
    tokio::time::sleep(Duration::from_secs_f64(o.settle_secs)).await;
    let fin = read(&counters);
    samples.extend(closed);
    samples.extend(fin);

    let c = &*counters;
    let get = |a: &AtomicU64| a.load(Relaxed);
    let (lost, dups) = (get(&c.lost), get(&c.duplicated));
    let peak = |f: fn(&Sample) -> u64| samples.iter().map(f).max();
    let (peak_rss, peak_fds, peak_threads) = (peak(|s| s.rss_kib), peak(|s| s.fds), peak(|s| s.threads));
    let fd_leak = match (baseline, fin) {
        (Some(b), Some(f)) => f.fds > b.fds + o.fd_margin,
        _ => false,
    };
    let errors = get(&c.refused) + get(&c.handshake_failures) + u64::from(fd_leak);

    eprintln!(
        "soak: {} node(s), {} users in {lanes} lanes, {churn_secs:.0} s of churn, settle {:.0} s",
        urls.len(),
        people.len(),
        o.settle_secs
    );
    eprintln!(
        "  {} sessions, {} sockets opened ({} dropped abruptly), {} handshakes failed",
        get(&c.sessions),
        get(&c.opened),
        get(&c.aborted),
        get(&c.handshake_failures)
    );
    eprintln!(
        "  {} messages acknowledged, {} delivered; lost {lost}, duplicated {dups}, refused {}",
        get(&c.acked),
        get(&c.delivered),
        get(&c.refused)
    );
    let first_refusal = c.first_refusal.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(why) = &first_refusal {
        eprintln!("  first refusal: {why}");
    }
    if let (Some(b), Some(f)) = (baseline, fin) {
        let row = |name: &str, b: u64, p: Option<u64>, f: u64| {
            eprintln!("  {name:<10} {b:>10} {:>10} {f:>10} {:>+10}", p.unwrap_or(0), f as i64 - b as i64)
        };
        eprintln!("  {:<10} {:>10} {:>10} {:>10} {:>10}", "server", "baseline", "peak", "final", "delta");
        row("rss KiB", b.rss_kib, peak_rss, f.rss_kib);
        row("fds", b.fds, peak_fds, f.fds);
        row("threads", b.threads, peak_threads, f.threads);
        if fd_leak {
            eprintln!(
                "  FAILED: {} descriptors open after settling, {} at baseline (margin {})",
                f.fds, b.fds, o.fd_margin
            );
        }
    }
    let s = |x: Option<Sample>, f: fn(&Sample) -> u64| x.as_ref().map(f);
    Ok(json!({
        "scenario": "soak", "nodes": urls.len(), "users": people.len(), "lanes": lanes,
        "seconds": churn_secs, "settle_seconds": o.settle_secs,
        "sessions": get(&c.sessions), "sockets_opened": get(&c.opened), "sockets_aborted": get(&c.aborted),
        "handshake_failures": get(&c.handshake_failures),
        "messages": get(&c.acked), "delivered": get(&c.delivered),
        "lost": lost, "duplicated": dups, "refused": get(&c.refused), "errors": errors,
        "first_refusal": first_refusal,
        "rss_kib": {"baseline": s(baseline, |x| x.rss_kib), "peak": peak_rss, "after_close": s(closed, |x| x.rss_kib), "final": s(fin, |x| x.rss_kib)},
        "fds": {"baseline": s(baseline, |x| x.fds), "peak": peak_fds, "after_close": s(closed, |x| x.fds), "final": s(fin, |x| x.fds), "leak": fd_leak},
        "threads": {"baseline": s(baseline, |x| x.threads), "peak": peak_threads, "final": s(fin, |x| x.threads)},
        "samples": samples.len(),
    }))
}
