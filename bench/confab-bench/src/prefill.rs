//! Stored history before a run: `direct --history N --database-url …` writes
//! N messages into the pairs' own direct conversations straight in Confab's
//! PostgreSQL database (one `INSERT … SELECT generate_series`, about a
//! million rows in tens of seconds), so latency can be measured on a
//! database that already holds a large history without sending it first.
//!
//! The history looks like what a long chat leaves behind: each pair's
//! conversation exists with `N / pairs` messages alternating between the two,
//! ids interleaved across conversations as if sent over time, every member's
//! delivered and read watermarks at the end (nothing unread), and the
//! planner's statistics refreshed. It goes through `psql` (the bench needs
//! PostgreSQL's tools anyway) so the load tool links no database driver.
//!
//! Confab's schema only: the Node baseline stores messages differently.

use anyhow::Context;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Writes `total` messages spread over the direct conversations of `pairs`
/// (sender, receiver ids); returns how long it took.
pub fn direct_history(database_url: &str, pairs: &[(i64, i64)], total: u64) -> anyhow::Result<Duration> {
    anyhow::ensure!(!pairs.is_empty(), "no pairs to fill");
    let per = (total / pairs.len() as u64).max(1);
    let t0 =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64 - per * 10;
    let values: Vec<String> = pairs.iter().map(|(a, b)| format!("({a},{b})")).collect();
    let script = format!(
        "\\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE bench_pairs (a BIGINT, b BIGINT) ON COMMIT DROP;
INSERT INTO bench_pairs VALUES {values};
CREATE TEMP TABLE bench_convs ON COMMIT DROP AS
  WITH ins AS (
    INSERT INTO conversations (kind, direct_key, created_at, last_seq, last_message_at)
    SELECT 'direct', LEAST(a, b) || ':' || GREATEST(a, b), {t0}, {per}, {t0} + {per} * 10 FROM bench_pairs
    RETURNING id, direct_key)
  SELECT ins.id, p.a, p.b FROM ins JOIN bench_pairs p ON ins.direct_key = LEAST(p.a, p.b) || ':' || GREATEST(p.a, p.b);
INSERT INTO members (conversation_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
  SELECT id, a, 'member', {t0}, 0, {per}, {per} FROM bench_convs
  UNION ALL SELECT id, b, 'member', {t0}, 0, {per}, {per} FROM bench_convs;
INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, body, created_at)
  SELECT c.id, s, CASE WHEN s % 2 = 1 THEN c.a ELSE c.b END, 'h' || c.id || '-' || s, 'text',
         'an earlier message of this conversation, number ' || s, {t0} + s * 10
    FROM generate_series(1, {per}) s CROSS JOIN bench_convs c
   ORDER BY s, c.id;
COMMIT;
VACUUM ANALYZE conversations;
VACUUM ANALYZE members;
VACUUM ANALYZE messages;
",
        values = values.join(",")
    );
    let start = Instant::now();
    let mut psql = Command::new("psql")
        .args(["-q", "-X", database_url, "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("running psql (PostgreSQL's client) for --history")?;
    psql.stdin.take().context("psql's stdin")?.write_all(script.as_bytes())?;
    let status = psql.wait()?;
    anyhow::ensure!(status.success(), "psql failed filling the history: {status}");
    Ok(start.elapsed())
}
