//! The `connections` scenario: N authenticated sockets held idle for T
//! seconds. Reports the handshake rate and latency, failures, and — given
//! the server's pid — its memory per socket and idle CPU, read from
//! `/proc/PID/status` and `/proc/PID/stat`.

use crate::{sio, stats};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::task::JoinSet;

/// Sockets per 127.0.0.x source address (each has ~28k ephemeral ports).
const PER_SOURCE: usize = 20_000;
/// How long after closing every socket the server's memory is read again
/// (the server notices each close at once; this leaves time for its clean-up).
const AFTER_CLOSE: Duration = Duration::from_secs(3);

fn opt(v: Option<u64>) -> String {
    v.map_or("?".into(), |v| v.to_string())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub async fn run(
    urls: &[SocketAddr],
    sockets: usize,
    users: usize,
    concurrency: usize,
    hold: Duration,
    server_pid: Option<u32>,
) -> anyhow::Result<Value> {
    let people = crate::users(urls, users.max(1), "c").await?;
    // Let the server settle after registration before the baseline reading.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = server_pid.and_then(rss_kib);
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    let start = Instant::now();
    for i in 0..sockets {
        let permit = limit.clone().acquire_owned().await?;
        let url = urls[i % urls.len()];
        let token = people[i % people.len()].1.clone();
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i / PER_SOURCE) as u8));
        set.spawn(async move {
            let t0 = Instant::now();
            let conn = sio::connect_from(url, &token, Some(source)).await;
            drop(permit);
            (t0.elapsed(), conn)
        });
    }
    let mut handshake = stats::histogram();
    let mut held = Vec::with_capacity(sockets);
    let mut failures = 0u64;
    let mut first_error = None;
    while let Some(done) = set.join_next().await {
        let (took, conn) = done?;
        match conn {
            Ok(c) => {
                let _ = handshake.record(took.as_micros() as u64);
                held.push(c);
            }
            Err(e) => {
                failures += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let connect_secs = start.elapsed().as_secs_f64();
    eprintln!("{}", stats::line("handshake", &handshake));
    // Idle: nothing is sent; the server only pings. Measure its CPU meanwhile.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ticks_before = server_pid.and_then(cpu_ticks);
    let idle_start = Instant::now();
    tokio::time::sleep(hold).await;
    let idle_cpu = match (ticks_before, server_pid.and_then(cpu_ticks)) {
        // Linux reports 100 ticks per second.
        (Some(a), Some(b)) => Some((b - a) as f64 / 100.0 / idle_start.elapsed().as_secs_f64() * 100.0),
        _ => None,
    };
    let rss_after = server_pid.and_then(rss_kib);
    // Still open: nothing queued says the server closed it.
    let alive = held
        .iter_mut()
        .map(|(_, rx)| {
            loop {
                match rx.try_recv() {
                    Ok(sio::Incoming::Closed) | Err(TryRecvError::Disconnected) => break false,
                    Ok(_) => continue,
                    Err(TryRecvError::Empty) => break true,
                }
            }
        })
        .filter(|open| *open)
        .count();
    let per_socket = match (rss_before, rss_after) {
        (Some(a), Some(b)) if !held.is_empty() => {
            Some((b.saturating_sub(a) * 1024) as f64 / held.len() as f64)
        }
        _ => None,
    };
    for (tx, _) in &held {
        tx.close();
    }
    // Memory once they are gone: does the server give it back?
    let rss_after_close = match server_pid {
        Some(pid) => {
            tokio::time::sleep(AFTER_CLOSE).await;
            rss_kib(pid)
        }
        None => None,
    };
    let report = json!({
        "scenario": "connections", "nodes": urls.len(), "sockets": sockets, "users": people.len(),
        "connected": held.len(), "alive_after_hold": alive, "failures": failures, "first_error": first_error,
        "connect_seconds": connect_secs, "connects_per_sec": held.len() as f64 / connect_secs,
        "handshake_ms": stats::summary(&handshake), "hold_seconds": hold.as_secs_f64(),
        "server_rss_kib_before": rss_before, "server_rss_kib_after": rss_after,
        "server_rss_kib_after_close": rss_after_close,
        "server_bytes_per_socket": per_socket, "server_idle_cpu_pct": idle_cpu,
        "lost": 0, "duplicated": 0, "errors": failures + (held.len() - alive) as u64,
    });
    eprintln!(
        "connections: {}/{} connected in {:.1} s ({:.0}/s), {} failures; server {} bytes/socket, idle CPU {}%; RSS KiB {} before, {} held, {} after close",
        held.len(),
        sockets,
        connect_secs,
        held.len() as f64 / connect_secs,
        failures,
        per_socket.map_or("?".into(), |b| format!("{b:.0}")),
        idle_cpu.map_or("?".into(), |c| format!("{c:.1}")),
        opt(rss_before),
        opt(rss_after),
        opt(rss_after_close),
    );
    Ok(report)
}
