//! Group commit for the message hot path: appends, live delivery receipts
//! and new direct conversations that arrive together are written in one transaction and made
//! durable by one commit (one fsync), then each caller gets its own answer.
//! Under light load a batch is a single job; under load it grows by itself
//! to whatever queued while the previous commit ran, which is what lets
//! durable throughput exceed the disk's fsync rate.
//!
//! It runs on its own thread with its own synchronous (rusqlite) connection.
//! Through sqlx every statement is a round trip to a worker thread and back
//! to an async task that waits for a turn on the busy runtime; a batch of
//! messages costs dozens of those, and the single writer, not SQLite, was
//! the limit. Here a batch runs start to finish without a thread switch.
//!
//! It also keeps SQLite's search index: see `sqlite_search`.
//!
//! Owns: the committer thread, its connection and its queue. May not touch:
//! SQL text of its own — it runs the shared statements of `sql` and
//! `dialect::SQLITE`, and maps rows with `mapping`, like the async code.

use super::dialect::{SQLITE, SQLITE_ENQUEUE_PUSHES};
use super::exec::json_ids;
use super::mapping::{self, Insert};
use super::sql::{
    BLOCKED_EITHER_WAY, BY_CLIENT_ID, CONVERSATION, CREATE_DIRECT, DIRECT_BY_KEY, GAP, INSERT_MEMBER,
    INSERT_MESSAGE, LINK_MEDIA, MEDIA_ATTACHED, MEMBERS, NEXT_SEQ, SET_DELIVERED,
};
use super::sqlite_search::Pending;
use super::{Appended, NewMessage, QueuedMessage, StoreError, StoreResult};
use crate::config::SqliteSynchronous;
use crate::domain::{
    Advanced, Attachment, ClientMsgId, Conversation, ConversationId, DeliveryMark, Message, MessageId,
    Millis, Role, UserId,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most jobs in one transaction.
const BATCH_MAX: usize = 256;

/// An append waiting for the committer.
struct Append {
    message: QueuedMessage,
    reply: oneshot::Sender<StoreResult<Appended>>,
}

type Moved = Vec<(DeliveryMark, Advanced)>;

enum Job {
    Append(Box<Append>),
    /// Live receipts, in the order to apply them (see `chat::delivery`).
    Delivered(Vec<DeliveryMark>, oneshot::Sender<StoreResult<Moved>>),
    /// A pair's direct conversation, found or created.
    Direct(UserId, UserId, Millis, oneshot::Sender<StoreResult<ConversationId>>),
    /// Index every message stored so far for search (a search waits for it).
    Searchable(oneshot::Sender<StoreResult<()>>),
}

/// What one job of a committed batch answers.
enum Answer {
    Appended(Box<StoreResult<Appended>>),
    Delivered(Moved),
    Direct(StoreResult<ConversationId>),
    Searchable,
}

/// The handle the store keeps; the thread stops when it is dropped.
pub(super) struct Committer {
    tx: mpsc::Sender<Job>,
    /// Set by [`Committer::close`]: the store takes no more writes.
    closed: AtomicBool,
}

impl Committer {
    /// Opens the committer's connection to the (already migrated) database
    /// and starts its thread.
    pub(super) fn open(
        path: &Path,
        synchronous: SqliteSynchronous,
        watch: super::CommitWatch,
    ) -> StoreResult<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "wal")?;
        conn.pragma_update(None, "synchronous", synchronous.as_str())?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.set_prepared_statement_cache_capacity(32);
        let (tx, rx) = mpsc::channel(BATCH_MAX * 8);
        std::thread::Builder::new()
            .name("sqlite-committer".into())
            .spawn(move || run(conn, rx, watch))
            .map_err(StoreError::Thread)?;
        Ok(Self { tx, closed: AtomicBool::new(false) })
    }

    /// Refuses further jobs; those already queued are still written.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    async fn submit<T>(&self, job: Job, answer: oneshot::Receiver<StoreResult<T>>) -> StoreResult<T> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(StoreError::Closed);
        }
        self.tx.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Appends a message (see [`crate::store::MessageStore::append_message`]).
    pub(super) async fn append(&self, m: NewMessage<'_>) -> StoreResult<Appended> {
        let (reply, answer) = oneshot::channel();
        let job = Append { message: QueuedMessage::of(&m), reply };
        self.submit(Job::Append(Box::new(job)), answer).await
    }

    /// Finds or creates the direct conversation of `a` and `b` (see
    /// [`crate::store::ConversationStore::direct_conversation`]). In the
    /// batch's transaction, so the first message to someone costs no commit
    /// of its own: a separate write transaction waited for SQLite's write
    /// lock, which the committer holds most of the time under load.
    pub(super) async fn direct(&self, a: UserId, b: UserId, now: Millis) -> StoreResult<ConversationId> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Direct(a, b, now, reply), answer).await
    }

    /// Indexes for search every message stored so far (see `sqlite_search`).
    pub(super) async fn searchable(&self) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Searchable(reply), answer).await
    }

    /// Moves delivered watermarks (see [`crate::store::MessageStore::advance_delivered_many`]).
    pub(super) async fn delivered(&self, marks: &[DeliveryMark]) -> StoreResult<Moved> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Delivered(marks.to_vec(), reply), answer).await
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, watch: super::CommitWatch) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    let mut pending = Pending::at_start();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (started, writes) = (std::time::Instant::now(), batch.len());
        write_batch(&mut conn, &mut batch, &mut pending);
        watch.report(writes, started.elapsed());
    }
}

/// One transaction for the whole batch. Answers that are about the data
/// (not a member) do not abort the others; a database failure fails them
/// all, and nothing of the batch is stored (clients retry with the same
/// `clientMsgId`; a lost receipt means a later fetch returns the message).
fn write_batch(conn: &mut Connection, batch: &mut Vec<Job>, pending: &mut Pending) {
    let appends = batch.iter().filter(|j| matches!(j, Job::Append(_))).count();
    let index = pending.due(appends) || batch.iter().any(|j| matches!(j, Job::Searchable(_)));
    let outcome = (|| -> StoreResult<Vec<Answer>> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let answers = batch
            .iter()
            .map(|job| match job {
                Job::Append(a) => append_in(&tx, a).map(|r| Answer::Appended(Box::new(r))),
                Job::Delivered(marks, _) => delivered_in(&tx, marks).map(Answer::Delivered),
                &Job::Direct(a, b, now, _) => direct_in(&tx, a, b, now).map(Answer::Direct),
                Job::Searchable(_) => Ok(Answer::Searchable),
            })
            .collect::<StoreResult<Vec<_>>>()?;
        if index {
            // Last, so that it covers this batch's messages too.
            Pending::index(&tx)?;
        }
        tx.commit()?;
        Ok(answers)
    })();
    match outcome {
        Ok(answers) => {
            if index {
                pending.indexed();
            } else {
                pending.appended(appends);
            }
            for (job, answer) in batch.drain(..).zip(answers) {
                match (job, answer) {
                    (Job::Append(a), Answer::Appended(r)) => drop(a.reply.send(*r)),
                    (Job::Delivered(_, reply), Answer::Delivered(moved)) => drop(reply.send(Ok(moved))),
                    (Job::Direct(.., reply), Answer::Direct(id)) => drop(reply.send(id)),
                    (Job::Searchable(reply), Answer::Searchable) => drop(reply.send(Ok(()))),
                    _ => unreachable!("answers are made from the batch in order"),
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, count = batch.len(), "write batch failed; nothing of it was stored");
            let e = std::sync::Arc::new(e);
            for job in batch.drain(..) {
                let failed = || StoreError::Batch(e.clone());
                match job {
                    Job::Append(a) => drop(a.reply.send(Err(failed()))),
                    Job::Delivered(_, reply) => drop(reply.send(Err(failed()))),
                    Job::Direct(.., reply) => drop(reply.send(Err(failed()))),
                    Job::Searchable(reply) => drop(reply.send(Err(failed()))),
                }
            }
        }
    }
}

/// Appends one message inside the batch's transaction. The outer error is a
/// database failure (aborts the batch); the inner one an answer about the data.
fn append_in(conn: &Connection, append: &Append) -> StoreResult<StoreResult<Appended>> {
    let m = append.message.as_new();
    let Some(conversation) = load_conversation(conn, m.conversation_id)? else {
        return Ok(Err(StoreError::NotMember));
    };
    if let Some(client) = m.client_msg_id {
        let mut stmt = conn.prepare_cached(BY_CLIENT_ID)?;
        let mut rows = stmt.query(params![m.sender_id.0, client.as_str()])?;
        if let Some(r) = rows.next()? {
            return Ok(Ok(Appended { message: mapping::message(r)?, created: false, conversation }));
        }
    }
    if conversation.member(m.sender_id).is_none() {
        return Ok(Err(StoreError::NotMember));
    }
    if let Some(other) = conversation.peer_of(m.sender_id) {
        // The chat service checked before; this is the check a block that
        // committed since cannot slip past (writes are serialized).
        let blocked: bool = conn
            .prepare_cached(BLOCKED_EITHER_WAY)?
            .query_row(params![m.sender_id.0, other.0], |r| r.get(0))?;
        if blocked {
            return Ok(Err(StoreError::Blocked));
        }
    }
    let message = insert_message(conn, Insert::text(&m), m.attachments)?;
    for a in &message.attachments {
        conn.prepare_cached(LINK_MEDIA)?.execute(params![a.id, message.conversation_id.0, message.id.0])?;
        conn.prepare_cached(MEDIA_ATTACHED)?.execute(params![message.created_at, a.id])?;
    }
    if !m.push_to.is_empty() {
        let users = json_ids(&m.push_to.iter().map(|u| u.0).collect::<Vec<_>>());
        conn.prepare_cached(SQLITE_ENQUEUE_PUSHES)?.execute(params![
            message.conversation_id.0,
            message.id.0,
            m.push_at,
            users,
            message.created_at
        ])?;
    }
    Ok(Ok(Appended { message, created: true, conversation }))
}

/// Finds or creates a pair's direct conversation inside the batch's
/// transaction. Its statements run under a savepoint: a refusal (a user that
/// does not exist) answers this job only and leaves the batch alone.
fn direct_in(
    conn: &Connection,
    a: UserId,
    b: UserId,
    now: Millis,
) -> StoreResult<StoreResult<ConversationId>> {
    conn.execute_batch("SAVEPOINT direct")?;
    let created = (|| -> rusqlite::Result<i64> {
        let key = mapping::direct_key(a, b);
        let created: Option<i64> =
            conn.prepare_cached(CREATE_DIRECT)?.query_row(params![key, now], |r| r.get(0)).optional()?;
        let Some(id) = created else {
            return conn.prepare_cached(DIRECT_BY_KEY)?.query_row(params![key], |r| r.get(0));
        };
        for user in [a, b] {
            conn.prepare_cached(INSERT_MEMBER)?.execute(params![
                id,
                user.0,
                Role::Member.as_str(),
                now,
                0
            ])?;
        }
        Ok(id)
    })();
    match created {
        Ok(id) => {
            conn.execute_batch("RELEASE direct")?;
            Ok(Ok(ConversationId(id)))
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO direct; RELEASE direct")?;
            Ok(Err(e.into()))
        }
    }
}

fn load_conversation(conn: &Connection, id: ConversationId) -> StoreResult<Option<Conversation>> {
    let mut members = Vec::new();
    {
        let mut stmt = conn.prepare_cached(MEMBERS)?;
        let mut rows = stmt.query([id.0])?;
        while let Some(r) = rows.next()? {
            members.push(mapping::member(r)?);
        }
    }
    let mut stmt = conn.prepare_cached(CONVERSATION)?;
    let mut rows = stmt.query([id.0])?;
    Ok(match rows.next()? {
        Some(r) => Some(mapping::conversation(r, members)?),
        None => None,
    })
}

/// Takes the next seq and inserts the row; the row is built from what was
/// written rather than read back (`attachments` are `m`'s, before their
/// JSON encoding).
fn insert_message(conn: &Connection, m: Insert<'_>, attachments: &[Attachment]) -> StoreResult<Message> {
    let seq: i64 = conn.prepare_cached(NEXT_SEQ)?.query_row(params![m.at, m.conversation.0], |r| r.get(0))?;
    let id: i64 = conn.prepare_cached(INSERT_MESSAGE)?.query_row(
        params![
            m.conversation.0,
            seq,
            m.sender.0,
            m.client_msg_id,
            m.kind.as_str(),
            m.body,
            m.meta,
            m.at,
            m.attachments,
            m.reply_to.map(|r| r.0)
        ],
        |r| r.get("id"),
    )?;
    Ok(Message {
        id: MessageId(id),
        conversation_id: m.conversation,
        seq,
        sender_id: m.sender,
        client_msg_id: m.client_msg_id.map(|c| ClientMsgId::from_stored(c.to_string())),
        kind: m.kind,
        body: m.body.to_string(),
        meta: m.meta.map(str::to_string),
        created_at: m.at,
        attachments: attachments.to_vec(),
        reply_to: m.reply_to,
        edited_at: None,
        deleted_at: None,
    })
}

/// Moves each member's delivered watermark up to the mark's seq, unless an
/// older message from someone else is still undelivered (then it waits for
/// `fetch_unread_messages`, which returns that message exactly once).
fn delivered_in(conn: &Connection, marks: &[DeliveryMark]) -> StoreResult<Moved> {
    let mut moved = Vec::new();
    for &m in marks {
        let old: Option<i64> = conn
            .prepare_cached(SQLITE.watermarks_to_change)?
            .query_row(params![m.conversation.0, m.user.0], |r| r.get("delivered_seq"))
            .optional()?;
        let Some(old) = old else { continue };
        if m.seq <= old {
            continue;
        }
        let gap: bool = conn
            .prepare_cached(GAP)?
            .query_row(params![m.conversation.0, old, m.seq, m.user.0], |r| r.get(0))?;
        if gap {
            continue;
        }
        conn.prepare_cached(SET_DELIVERED)?.execute(params![m.seq, m.conversation.0, m.user.0])?;
        moved.push((m, Advanced { old, new: m.seq }));
    }
    Ok(moved)
}
