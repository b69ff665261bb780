//! New direct conversations on PostgreSQL, found or created a batch at a
//! time by the committer: the first messages to many new people cost one
//! transaction and one commit together. Alone, each creation was a
//! transaction of four round trips and a commit on the shared pool, each
//! round trip waiting behind socket tasks to be resumed.
//!
//! Nodes create at once: a batch inserts its keys in key order, so two
//! batches that create the same pairs wait for each other (the unique key)
//! without a cycle; a key that another transaction created is read back
//! once that one has committed.
//!
//! Owns: the batch statements for it (PostgreSQL arrays). May not touch: the
//! committer's queue (`postgres_committer`).

use super::exec::Col;
use super::mapping::direct_key;
use super::{StoreError, StoreResult};
use crate::domain::{ConversationId, Millis, Role, UserId};
use sqlx::PgPool;
use std::collections::HashMap;

/// Creates the conversations of the keys `$1` (created at `$2`) that do not
/// exist yet, in key order; returns those it created.
const CREATE_DIRECTS: &str = "INSERT INTO conversations (kind, direct_key, created_at)
    SELECT 'direct', k.key, k.at FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS k(key, at) ORDER BY k.key
    ON CONFLICT (direct_key) DO NOTHING RETURNING id, direct_key";

/// Members `($1[i], $2[i])` joined at `$3[i]` with role `$4`, their
/// watermarks at the start (as `sql::INSERT_MEMBER` with `joined_seq` 0).
const ADD_MEMBERS: &str =
    "INSERT INTO members (conversation_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
    SELECT m.c, m.u, $4, m.t, 0, 0, 0 FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) AS m(c, u, t)";

const DIRECTS_BY_KEY: &str = "SELECT id, direct_key FROM conversations WHERE direct_key = ANY($1)";

/// A pair whose direct conversation is wanted, and when.
pub(super) struct Pair {
    pub a: UserId,
    pub b: UserId,
    pub at: Millis,
}

/// Finds or creates each pair's conversation; one answer per pair, in order.
///
/// If the database refuses the batch (a user that does not exist), each pair
/// is then written alone, so only that pair's creation fails. Any other
/// failure fails the batch; nothing of it was stored and senders retry.
pub(super) async fn find_or_create(pool: &PgPool, pairs: &[Pair]) -> Vec<StoreResult<ConversationId>> {
    match in_one_transaction(pool, pairs).await {
        Ok(ids) => ids,
        Err(e) if pairs.len() > 1 && e.is_refusal() => {
            tracing::warn!(error = %e, count = pairs.len(), "a new conversation was refused; creating the batch's one by one");
            let mut answers = Vec::with_capacity(pairs.len());
            for pair in pairs {
                let answer = in_one_transaction(pool, std::slice::from_ref(pair)).await;
                answers.push(
                    answer
                        .and_then(|mut one| one.pop().unwrap_or(Err(StoreError::Inconsistent("an answer")))),
                );
            }
            answers
        }
        Err(e) => e.for_each_job(pairs.len()),
    }
}

/// The outer error fails every pair; inner ones are per pair.
async fn in_one_transaction(pool: &PgPool, pairs: &[Pair]) -> StoreResult<Vec<StoreResult<ConversationId>>> {
    let keys: Vec<String> = pairs.iter().map(|p| direct_key(p.a, p.b)).collect();
    // Each key once (a batch may hold both directions of a pair).
    let mut first: HashMap<&str, &Pair> = HashMap::with_capacity(pairs.len());
    for (key, pair) in keys.iter().zip(pairs) {
        first.entry(key.as_str()).or_insert(pair);
    }
    let (unique, ats): (Vec<&str>, Vec<Millis>) = first.iter().map(|(k, p)| (*k, p.at)).unzip();

    let mut tx = pool.begin().await?;
    let created = sqlx::query(CREATE_DIRECTS).bind(&unique).bind(&ats).fetch_all(&mut *tx).await?;
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(unique.len());
    let (mut conversations, mut users, mut joined) = (Vec::new(), Vec::new(), Vec::new());
    for row in &created {
        let (id, key): (i64, String) = (row.col("id")?, row.col("direct_key")?);
        let pair = first.get(key.as_str()).ok_or(StoreError::Inconsistent("a key it just inserted"))?;
        for user in [pair.a, pair.b] {
            conversations.push(id);
            users.push(user.0);
            joined.push(pair.at);
        }
        ids.insert(key, id);
    }
    if !conversations.is_empty() {
        sqlx::query(ADD_MEMBERS)
            .bind(&conversations)
            .bind(&users)
            .bind(&joined)
            .bind(Role::Member.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let existing: Vec<&str> = unique.iter().copied().filter(|k| !ids.contains_key(*k)).collect();
    if !existing.is_empty() {
        for row in sqlx::query(DIRECTS_BY_KEY).bind(&existing).fetch_all(&mut *tx).await? {
            ids.insert(row.col("direct_key")?, row.col("id")?);
        }
    }
    tx.commit().await?;
    Ok(keys
        .iter()
        .map(|k| {
            ids.get(k)
                .map(|&id| ConversationId(id))
                .ok_or(StoreError::Inconsistent("a conversation it found"))
        })
        .collect())
}
