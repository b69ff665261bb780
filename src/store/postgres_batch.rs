//! One PostgreSQL group-commit batch, written inside its transaction: a
//! handful of statements whatever its size — one lock statement for all its
//! conversations, one look-up of retried `clientMsgId`s, one multi-row
//! insert, one seq update, one statement for the push jobs.
//!
//! Several nodes write at once, so a batch locks its conversation rows in id
//! order: two batches never wait for each other in a cycle, and a send,
//! membership change or role change on one conversation is still serialized
//! (seqs stay gap-free, the membership check race-free).
//!
//! Owns: the batch statements only the committer runs (PostgreSQL arrays:
//! one statement for all of a batch's rows). May not touch: the committer's
//! queue and transactions (`postgres_committer`), other writes — it links
//! media with the shared statements of `sql`.

use super::exec::{Col, Exec, args};
use super::mapping::{self, Insert};
use super::sql::{self, member_cols, message_cols};
use super::{Appended, QueuedMessage, StoreError, StoreResult};
use crate::domain::{Conversation, ConversationId, Message, Millis, UserId};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};

// The batch's own statements: PostgreSQL arrays, one statement for all of
// a batch's rows (SQLite's committer writes row by row on its own thread).

/// Of the user pairs `($1[i], $2[i])`, those where either blocks the other.
const BLOCKED_PAIRS: &str = "SELECT p.a, p.b FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS p(a, b)
  WHERE EXISTS (SELECT 1 FROM blocks x
                 WHERE (x.blocker_id = p.a AND x.blocked_id = p.b) OR (x.blocker_id = p.b AND x.blocked_id = p.a))";

/// The push jobs of a batch's messages: message `$3[i]` of conversation
/// `$2[i]` for user `$1[i]`, due at `$4[i]`, sent at `$5[i]` — one job per
/// device of a user not muting the conversation then (the rule of
/// `sql::enqueue_pushes!`, message by message). PostgreSQL refuses to
/// update one row twice in a statement, so the batch's messages are first
/// counted per (device, conversation): the job takes the newest message and
/// the count, and keeps the due time of the earliest.
const ENQUEUE_PUSHES_ALL: &str =
    "INSERT INTO push_jobs (subscription_id, user_id, conversation_id, message_id, pending, due_at)
  SELECT s.id, s.user_id, v.c, MAX(v.m), COUNT(*), MIN(v.due)
    FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[]) AS v(u, c, m, due, at)
    JOIN push_subscriptions s ON s.user_id = v.u
   WHERE NOT EXISTS (SELECT 1 FROM push_mutes x
                      WHERE x.user_id = s.user_id AND x.conversation_id IN (0, v.c)
                        AND (x.until IS NULL OR x.until > v.at))
   GROUP BY s.id, s.user_id, v.c
  ON CONFLICT (subscription_id, conversation_id) DO UPDATE
     SET message_id = excluded.message_id, pending = push_jobs.pending + excluded.pending,
         version = push_jobs.version + 1";

/// The members of every conversation in `$1`.
const MEMBERS_OF_ALL: &str = concat!(
    "SELECT ",
    member_cols!(),
    " FROM members m JOIN users u ON u.id = m.user_id
      WHERE m.conversation_id = ANY($1) ORDER BY m.joined_at, m.user_id"
);

/// Writes the batch inside `tx`; one answer per request, in order. The outer
/// error is a database failure (aborts the batch); an inner one an answer
/// about the data (not a member) that leaves the others alone.
pub(super) async fn write_batch(
    tx: &mut PgConnection,
    batch: &[&QueuedMessage],
) -> StoreResult<Vec<StoreResult<Appended>>> {
    let mut conversations = lock_conversations(tx, batch).await?;
    let existing = retried(tx, batch).await?;
    let blocked = blocked_directs(tx, batch, &conversations).await?;

    // Decide each request in order; seqs are taken in memory from the locked rows.
    let mut results: Vec<Option<StoreResult<Appended>>> = Vec::with_capacity(batch.len());
    let mut new_rows: Vec<(usize, i64)> = Vec::new(); // (request index, seq)
    let mut pending: HashMap<(UserId, &str), usize> = HashMap::new(); // first request of a clientMsgId
    for (i, r) in batch.iter().enumerate() {
        let Some(c) = conversations.get_mut(&r.conversation_id) else {
            results.push(Some(Err(StoreError::NotMember)));
            continue;
        };
        let client = r.client_msg_id.as_ref().map(|c| (r.sender_id, c.as_str()));
        if let Some(message) = client.and_then(|(u, c)| existing.get(&(u, c.to_string()))) {
            // Stored earlier: answer with the original (the chat service
            // refuses it if it was for another conversation).
            results.push(Some(Ok(Appended {
                message: message.clone(),
                created: false,
                conversation: c.clone(),
            })));
            continue;
        }
        if client.is_some_and(|k| pending.contains_key(&k)) {
            results.push(None); // answered once the first one is inserted
            continue;
        }
        if c.member(r.sender_id).is_none() {
            results.push(Some(Err(StoreError::NotMember)));
            continue;
        }
        if c.peer_of(r.sender_id).is_some_and(|peer| blocked.contains(&(r.sender_id, peer))) {
            results.push(Some(Err(StoreError::Blocked)));
            continue;
        }
        c.last_seq += 1;
        c.last_message_at = Some(r.created_at);
        new_rows.push((i, c.last_seq));
        if let Some(k) = client {
            pending.insert(k, i);
        }
        results.push(None);
    }

    let inserted = insert_messages(tx, batch, &new_rows).await?;
    update_seqs(tx, &conversations, &new_rows, batch).await?;
    enqueue_pushes(tx, batch, &new_rows, &inserted).await?;
    let mut by_request: HashMap<usize, Message> = HashMap::new();
    for ((i, _), message) in new_rows.iter().zip(inserted) {
        link_media(tx, &message).await?;
        by_request.insert(*i, message);
    }

    Ok(results
        .into_iter()
        .enumerate()
        .map(|(i, answer)| {
            if let Some(answer) = answer {
                return answer;
            }
            let r = &batch[i];
            let conversation = conversations.get(&r.conversation_id).cloned().ok_or(StoreError::NotMember)?;
            if let Some(message) = by_request.get(&i) {
                return Ok(Appended { message: message.clone(), created: true, conversation });
            }
            // A repeat of a clientMsgId first used earlier in this batch.
            let first = r.client_msg_id.as_ref().and_then(|c| pending.get(&(r.sender_id, c.as_str())));
            let message = first.and_then(|f| by_request.get(f)).cloned().ok_or(StoreError::NotMember)?;
            Ok(Appended { message, created: false, conversation })
        })
        .collect())
}

/// The `(sender, peer)` pairs of the batch's direct messages where either
/// blocks the other. Read after the conversations are locked: a block locks
/// its direct conversation too (`MessagingStore::block`), so one that
/// commits first is seen here and one that commits later comes after these
/// messages.
async fn blocked_directs(
    tx: &mut PgConnection,
    batch: &[&QueuedMessage],
    conversations: &HashMap<ConversationId, Conversation>,
) -> StoreResult<HashSet<(UserId, UserId)>> {
    let (mut senders, mut peers) = (Vec::new(), Vec::new());
    for r in batch {
        if let Some(peer) = conversations.get(&r.conversation_id).and_then(|c| c.peer_of(r.sender_id)) {
            senders.push(r.sender_id.0);
            peers.push(peer.0);
        }
    }
    if senders.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = sqlx::query(BLOCKED_PAIRS).bind(&senders).bind(&peers).fetch_all(&mut *tx).await?;
    rows.iter().map(|r| Ok((UserId(r.col("a")?), UserId(r.col("b")?)))).collect()
}

/// Locks every conversation of the batch (in id order) and loads it with its members.
async fn lock_conversations(
    tx: &mut PgConnection,
    batch: &[&QueuedMessage],
) -> StoreResult<HashMap<ConversationId, Conversation>> {
    let mut ids: Vec<i64> = batch.iter().map(|r| r.conversation_id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = sqlx::query("SELECT * FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
    let member_rows = sqlx::query(MEMBERS_OF_ALL).bind(&ids).fetch_all(&mut *tx).await?;
    let mut members = mapping::members_by_conversation(&member_rows)?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.col("id")?;
            Ok((ConversationId(id), mapping::conversation(r, members.remove(&id).unwrap_or_default())?))
        })
        .collect()
}

/// Messages already stored under the batch's `(sender, clientMsgId)` pairs.
async fn retried(
    tx: &mut PgConnection,
    batch: &[&QueuedMessage],
) -> StoreResult<HashMap<(UserId, String), Message>> {
    let (senders, clients): (Vec<i64>, Vec<&str>) =
        batch.iter().filter_map(|r| r.client_msg_id.as_ref().map(|c| (r.sender_id.0, c.as_str()))).unzip();
    if senders.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(concat!(
        "SELECT ",
        message_cols!(),
        " FROM messages WHERE (sender_id, client_msg_id) IN (SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[]))"
    ))
    .bind(&senders)
    .bind(&clients)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|r| {
            let m = mapping::message(r)?;
            let key =
                (m.sender_id, m.client_msg_id.as_ref().map_or(String::new(), |c| c.as_str().to_string()));
            Ok((key, m))
        })
        .collect()
}

/// One multi-row insert; ids are drawn in the batch's order.
async fn insert_messages(
    tx: &mut PgConnection,
    batch: &[&QueuedMessage],
    new_rows: &[(usize, i64)],
) -> StoreResult<Vec<Message>> {
    if new_rows.is_empty() {
        return Ok(Vec::new());
    }
    let inserts: Vec<Insert<'_>> = new_rows.iter().map(|&(i, _)| Insert::text(&batch[i].as_new())).collect();
    let conversations: Vec<i64> = inserts.iter().map(|m| m.conversation.0).collect();
    let seqs: Vec<i64> = new_rows.iter().map(|&(_, seq)| seq).collect();
    let senders: Vec<i64> = inserts.iter().map(|m| m.sender.0).collect();
    let clients: Vec<Option<&str>> = inserts.iter().map(|m| m.client_msg_id).collect();
    let bodies: Vec<&str> = inserts.iter().map(|m| m.body).collect();
    let created: Vec<Millis> = inserts.iter().map(|m| m.at).collect();
    let attachments: Vec<Option<&str>> = inserts.iter().map(|m| m.attachments.as_deref()).collect();
    let replies: Vec<Option<i64>> = inserts.iter().map(|m| m.reply_to.map(|r| r.0)).collect();
    let rows = sqlx::query(concat!(
        "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, body, created_at, attachments,
                               reply_to)
         SELECT c, s, u, k, 'text', b, t, a, r
           FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::TEXT[],
                       $8::BIGINT[])
                WITH ORDINALITY AS v(c, s, u, k, b, t, a, r, n)
          ORDER BY n
         RETURNING ",
        message_cols!()
    ))
    .bind(&conversations)
    .bind(&seqs)
    .bind(&senders)
    .bind(&clients)
    .bind(&bodies)
    .bind(&created)
    .bind(&attachments)
    .bind(&replies)
    .fetch_all(&mut *tx)
    .await?;
    let mut by_seq: HashMap<(i64, i64), Message> = HashMap::with_capacity(rows.len());
    for r in &rows {
        let m = mapping::message(r)?;
        by_seq.insert((m.conversation_id.0, m.seq), m);
    }
    new_rows
        .iter()
        .zip(&conversations)
        .map(|(&(_, seq), &c)| {
            by_seq.remove(&(c, seq)).ok_or(StoreError::Inconsistent("a message it just inserted"))
        })
        .collect()
}

/// Stores each touched conversation's new last seq and activity time.
async fn update_seqs(
    tx: &mut PgConnection,
    conversations: &HashMap<ConversationId, Conversation>,
    new_rows: &[(usize, i64)],
    batch: &[&QueuedMessage],
) -> StoreResult<()> {
    let mut touched: Vec<ConversationId> = new_rows.iter().map(|&(i, _)| batch[i].conversation_id).collect();
    touched.sort_unstable();
    touched.dedup();
    if touched.is_empty() {
        return Ok(());
    }
    let (mut ids, mut seqs, mut ats) = (Vec::new(), Vec::new(), Vec::new());
    for id in touched {
        if let Some(c) = conversations.get(&id) {
            ids.push(id.0);
            seqs.push(c.last_seq);
            ats.push(c.last_message_at);
        }
    }
    sqlx::query(
        "UPDATE conversations c SET last_seq = v.s, last_message_at = v.t
           FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[]) AS v(id, s, t) WHERE c.id = v.id",
    )
    .bind(&ids)
    .bind(&seqs)
    .bind(&ats)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records that `message` carries its attachments: members of its
/// conversation may now fetch them, and they are no longer orphans.
async fn link_media(conn: &mut PgConnection, message: &Message) -> StoreResult<()> {
    for a in &message.attachments {
        conn.execute(sql::LINK_MEDIA, args![a.id.as_str(), message.conversation_id, message.id]).await?;
        conn.execute(sql::MEDIA_ATTACHED, args![message.created_at, a.id.as_str()]).await?;
    }
    Ok(())
}

/// Records the push jobs of the batch's new messages, in one statement
/// whatever their number (a statement per message was most of a batch's
/// round trips when recipients are offline).
async fn enqueue_pushes(
    tx: &mut PgConnection,
    batch: &[&QueuedMessage],
    new_rows: &[(usize, i64)],
    inserted: &[Message],
) -> StoreResult<()> {
    let (mut users, mut conversations, mut messages, mut due, mut at) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((i, _), message) in new_rows.iter().zip(inserted) {
        let m = batch[*i].as_new();
        for user in m.push_to {
            users.push(user.0);
            conversations.push(message.conversation_id.0);
            messages.push(message.id.0);
            due.push(m.push_at);
            at.push(message.created_at);
        }
    }
    if users.is_empty() {
        return Ok(());
    }
    sqlx::query(ENQUEUE_PUSHES_ALL)
        .bind(&users)
        .bind(&conversations)
        .bind(&messages)
        .bind(&due)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
