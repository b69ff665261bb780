//! Group commit for message appends on PostgreSQL: the sends that queue up
//! on this node while a batch is written go into the next one, and a batch
//! is one transaction (written by `postgres_batch`) and one commit, instead
//! of eight round trips and a commit per message. New direct conversations
//! that queued meanwhile are created first, together (`postgres_directs`). A row the database
//! refuses fails only its own send: the batch is then committed in parts
//! (see [`commit_isolating`]).
//!
//! The committer runs on its own thread, with its own runtime and its own
//! connection: on the shared runtime each of a batch's round trips waited
//! behind socket tasks to be resumed (a trivial `BEGIN` took 1.5 ms under
//! load), and the single committer was the cluster's bottleneck.
//!
//! Owns: the committer thread and runtime, its queue, and how a batch is
//! split when a row is refused. May not touch: SQL — a batch's statements
//! are in `postgres_batch`.

use super::postgres_batch::write_batch;
use super::postgres_directs::{Pair, find_or_create};
use super::{Appended, NewMessage, QueuedMessage, StoreError, StoreResult};
use crate::domain::{ConversationId, Millis, UserId};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most appends in one transaction.
const BATCH_MAX: usize = 256;

/// An append waiting for the committer.
struct Request {
    message: QueuedMessage,
    reply: oneshot::Sender<StoreResult<Appended>>,
}

enum Job {
    Append(Request),
    /// A pair's direct conversation, found or created (see `postgres_directs`).
    Direct(Pair, oneshot::Sender<StoreResult<ConversationId>>),
}

/// The handle the store keeps; the task stops when it is dropped.
pub(super) struct Committer {
    tx: mpsc::Sender<Job>,
}

impl Committer {
    pub(super) fn spawn(options: PgConnectOptions, watch: super::CommitWatch) -> StoreResult<Self> {
        let (tx, rx) = mpsc::channel(BATCH_MAX * 8);
        std::thread::Builder::new()
            .name("pg-committer".into())
            .spawn(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                // A pool of one: it reconnects by itself after a failure.
                Ok(rt) => rt.block_on(async {
                    let pool = PgPoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(Duration::from_secs(10))
                        .connect_lazy_with(options);
                    run(pool, rx, watch).await;
                }),
                Err(e) => tracing::error!(error = %e, "cannot start the committer's runtime"),
            })
            .map_err(StoreError::Thread)?;
        Ok(Self { tx })
    }

    pub(super) async fn append(&self, m: NewMessage<'_>) -> StoreResult<Appended> {
        let (reply, answer) = oneshot::channel();
        let request = Request { message: QueuedMessage::of(&m), reply };
        self.submit(Job::Append(request), answer).await
    }

    /// Finds or creates the direct conversation of `a` and `b` (see
    /// [`crate::store::ConversationStore::direct_conversation`]), with the
    /// other new conversations that queued meanwhile.
    pub(super) async fn direct(&self, a: UserId, b: UserId, at: Millis) -> StoreResult<ConversationId> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Direct(Pair { a, b, at }, reply), answer).await
    }

    async fn submit<T>(&self, job: Job, answer: oneshot::Receiver<StoreResult<T>>) -> StoreResult<T> {
        self.tx.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(pool: PgPool, mut rx: mpsc::Receiver<Job>, watch: super::CommitWatch) {
    let mut jobs = Vec::with_capacity(BATCH_MAX);
    let (mut batch, mut directs) = (Vec::with_capacity(BATCH_MAX), Vec::new());
    while rx.recv_many(&mut jobs, BATCH_MAX).await > 0 {
        for job in jobs.drain(..) {
            match job {
                Job::Append(request) => batch.push(request),
                Job::Direct(pair, reply) => directs.push((pair, reply)),
            }
        }
        // A send waits for its conversation before it queues its append, so
        // the two kinds of job in one batch are never for the same message.
        if !directs.is_empty() {
            let (pairs, replies): (Vec<Pair>, Vec<_>) = directs.drain(..).unzip();
            for (reply, answer) in replies.into_iter().zip(find_or_create(&pool, &pairs).await) {
                let _ = reply.send(answer);
            }
        }
        if batch.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        let answers = {
            let messages: Vec<&QueuedMessage> = batch.iter().map(|r| &r.message).collect();
            commit_isolating(&pool, &messages).await
        };
        watch.report(batch.len(), started.elapsed());
        for (r, answer) in batch.drain(..).zip(answers) {
            let _ = r.reply.send(answer);
        }
    }
}

/// Commits `batch` in one transaction; one answer per message, in order.
///
/// If the database refuses one of its rows — the same `(sender, clientMsgId)`
/// committed a moment ago by another node to another conversation, a push
/// device deleted meanwhile, a value PostgreSQL cannot store — the
/// transaction is rolled back and the batch split in halves, each committed
/// on its own (in order), until the refused message is alone: it alone gets
/// the error, after [`ATTEMPTS`] tries if the refusal may have been a race
/// (its retry then finds the other node's row and answers as for a retried
/// `clientMsgId`). One bad row costs about 2·log₂(batch) extra transactions,
/// not its batch-mates' sends. Any other failure (the connection) fails the
/// part being written; nothing of that part is stored, and clients retry
/// with the same `clientMsgId`.
async fn commit_isolating(pool: &PgPool, batch: &[&QueuedMessage]) -> Vec<StoreResult<Appended>> {
    let mut answers = Vec::with_capacity(batch.len());
    // A stack of parts (start, end): the next one is on top.
    let mut todo: Vec<(usize, usize)> = vec![(0, batch.len())];
    while let Some((start, end)) = todo.pop() {
        let part = &batch[start..end];
        if let [one] = part {
            answers.push(commit_one(pool, one).await);
            continue;
        }
        match commit(pool, part).await {
            Ok(results) => answers.extend(results),
            Err(e) if e.is_refusal() => {
                tracing::warn!(error = %e, count = part.len(), "a row of a message batch was refused; committing the batch in parts");
                let mid = start + part.len() / 2;
                todo.push((mid, end));
                todo.push((start, mid));
            }
            Err(e) => {
                tracing::error!(error = %e, count = part.len(), "message batch failed; nothing of it was stored");
                answers.extend(e.for_each_job(part.len()));
            }
        }
    }
    answers
}

/// Tries of a message committed alone whose refusal may have been a race.
const ATTEMPTS: usize = 3;

/// Commits one message in its own transaction (see [`commit_isolating`]).
async fn commit_one(pool: &PgPool, m: &QueuedMessage) -> StoreResult<Appended> {
    let mut attempt = 1;
    loop {
        match commit(pool, &[m]).await {
            Ok(mut results) => return results.pop().unwrap_or(Err(StoreError::Inconsistent("an answer"))),
            Err(e) if attempt < ATTEMPTS && raced(&e) => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

async fn commit(pool: &PgPool, batch: &[&QueuedMessage]) -> StoreResult<Vec<StoreResult<Appended>>> {
    let mut tx = pool.begin().await?;
    let results = write_batch(&mut tx, batch).await?;
    tx.commit().await?;
    Ok(results)
}

/// A refusal that another transaction caused and a retry may not meet: a
/// unique key committed meanwhile (the retry reads it), a deadlock or a
/// serialization failure.
fn raced(e: &StoreError) -> bool {
    match e {
        StoreError::Conflict => true,
        StoreError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}
