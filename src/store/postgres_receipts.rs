//! Live receipts on PostgreSQL, a batch in three statements whatever its
//! size: lock and read the members' delivered watermarks, find for each
//! member the first message that blocks its watermark, move them all.
//! Written one mark at a time (a lock, a gap check and an update each, on
//! the shared runtime) a node kept up with barely a thousand receipts a
//! second and a backlog after a burst took tens of seconds to drain.
//!
//! The rule is the SQLite committer's (`sqlite_committer::delivered_in`):
//! a member's watermark moves up to an acknowledged message only if no
//! older message from someone else is still undelivered. Applied to a
//! member's marks in seq order, that is: every mark above the watermark
//! and below the first message from someone else that is neither delivered
//! nor acknowledged in this batch (the "gap") moves, each from the one before.
//!
//! Owns: these statements. May not touch: who is told (`chat::delivery`).

use super::exec::Col;
use super::{StoreError, StoreResult};
use crate::domain::{Advanced, ConversationId, DeliveryMark, UserId};
use sqlx::PgPool;
use std::collections::HashMap;

type Moved = Vec<(DeliveryMark, Advanced)>;

/// Locks the members' rows (in key order, so two nodes never wait on each
/// other in a cycle) and reads their delivered watermarks.
const WATERMARKS: &str = "SELECT m.conversation_id, m.user_id, m.delivered_seq
   FROM members m JOIN UNNEST($1::BIGINT[], $2::BIGINT[]) AS v(c, u) ON m.conversation_id = v.c AND m.user_id = v.u
  ORDER BY m.conversation_id, m.user_id FOR UPDATE OF m";

/// Per member (`$1`, `$2`, watermark `$3`, highest mark `$4`): the first
/// message from someone else above the watermark and below the highest mark
/// that is not among the batch's marks (`$5`, `$6`, `$7`).
const FIRST_GAP: &str = "WITH k AS MATERIALIZED (
        SELECT c, u, array_agg(s) AS seqs FROM UNNEST($5::BIGINT[], $6::BIGINT[], $7::BIGINT[]) AS k(c, u, s)
         GROUP BY c, u)
 SELECT v.c, v.u,
        (SELECT x.seq FROM messages x
          WHERE x.conversation_id = v.c AND x.seq > v.old AND x.seq < v.top AND x.sender_id <> v.u
            AND x.seq <> ALL (k.seqs)
          ORDER BY x.seq LIMIT 1) AS gap
   FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[]) AS v(c, u, old, top)
   JOIN k ON k.c = v.c AND k.u = v.u";

const MOVE: &str = "UPDATE members m SET delivered_seq = v.s
   FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) AS v(c, u, s)
  WHERE m.conversation_id = v.c AND m.user_id = v.u";

/// Applies `marks` (sorted by conversation, user, seq; no duplicates) in one
/// transaction; returns the marks that moved a watermark.
pub(super) async fn delivered(pool: &PgPool, marks: Vec<DeliveryMark>) -> StoreResult<Moved> {
    if marks.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    // Each member's marks: a run of the sorted batch.
    let mut members: Vec<(ConversationId, UserId)> = marks.iter().map(|m| (m.conversation, m.user)).collect();
    members.dedup();
    let (cs, us): (Vec<i64>, Vec<i64>) = members.iter().map(|(c, u)| (c.0, u.0)).unzip();
    let rows = sqlx::query(WATERMARKS).bind(&cs).bind(&us).fetch_all(&mut *tx).await?;
    let mut old: HashMap<(i64, i64), i64> = HashMap::with_capacity(rows.len());
    for r in &rows {
        old.insert((r.col("conversation_id")?, r.col("user_id")?), r.col("delivered_seq")?);
    }
    // Members whose highest mark is above their watermark.
    let mut top: HashMap<(i64, i64), i64> = HashMap::new();
    for m in &marks {
        let key = (m.conversation.0, m.user.0);
        if old.get(&key).is_some_and(|&o| m.seq > o) {
            top.insert(key, m.seq);
        }
    }
    if top.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let (mut vc, mut vu, mut vo, mut vt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (&(c, u), &t) in &top {
        vc.push(c);
        vu.push(u);
        vo.push(old[&(c, u)]);
        vt.push(t);
    }
    let (kc, ku, ks): (Vec<i64>, Vec<i64>, Vec<i64>) = {
        let mut kc = Vec::with_capacity(marks.len());
        let mut ku = Vec::with_capacity(marks.len());
        let mut ks = Vec::with_capacity(marks.len());
        for m in marks.iter().filter(|m| top.contains_key(&(m.conversation.0, m.user.0))) {
            kc.push(m.conversation.0);
            ku.push(m.user.0);
            ks.push(m.seq);
        }
        (kc, ku, ks)
    };
    let gaps = sqlx::query(FIRST_GAP)
        .bind(&vc)
        .bind(&vu)
        .bind(&vo)
        .bind(&vt)
        .bind(&kc)
        .bind(&ku)
        .bind(&ks)
        .fetch_all(&mut *tx)
        .await?;
    let mut gap: HashMap<(i64, i64), Option<i64>> = HashMap::with_capacity(gaps.len());
    for r in &gaps {
        gap.insert((r.col("c")?, r.col("u")?), r.col("gap")?);
    }
    // Walk each member's marks in order up to its gap.
    let mut moved = Vec::new();
    let mut current: HashMap<(i64, i64), i64> = HashMap::new();
    for m in marks {
        let key = (m.conversation.0, m.user.0);
        let Some(&blocked) = gap.get(&key) else { continue };
        let now = *current.get(&key).unwrap_or(&old[&key]);
        if m.seq <= now || blocked.is_some_and(|g| g < m.seq) {
            continue;
        }
        current.insert(key, m.seq);
        moved.push((m, Advanced { old: now, new: m.seq }));
    }
    let (mc, mu, ms): (Vec<i64>, Vec<i64>, Vec<i64>) = {
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for (&(c, u), &s) in &current {
            out.0.push(c);
            out.1.push(u);
            out.2.push(s);
        }
        out
    };
    if !mc.is_empty() {
        sqlx::query(MOVE).bind(&mc).bind(&mu).bind(&ms).execute(&mut *tx).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(moved)
}
