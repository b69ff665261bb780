//! Group commit for message appends: concurrent sends are written in one
//! transaction and made durable by one commit (one fsync), then each caller
//! gets its own answer. Under light load a batch is a single message; under
//! load the batch grows by itself to whatever queued while the previous
//! commit ran, which is what lets durable throughput exceed the disk's
//! fsync rate.

use super::media::link_media;
use super::push::enqueue_pushes;
use super::{Insert, insert_message, load_conversation, message_cols, message_row};
use crate::domain::{ClientMsgId, ConversationId, Millis, UserId};
use crate::store::{Appended, Attachment, NewMessage, StoreError, StoreResult};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

/// Most appends in one transaction.
const BATCH_MAX: usize = 256;

/// An append waiting for the committer.
struct Request {
    conversation_id: ConversationId,
    sender_id: UserId,
    client_msg_id: Option<ClientMsgId>,
    body: String,
    created_at: Millis,
    attachments: Vec<Attachment>,
    push_to: Vec<UserId>,
    push_at: Millis,
    reply: oneshot::Sender<StoreResult<Appended>>,
}

/// The handle the store keeps; the task stops when it is dropped.
pub(super) struct Committer {
    tx: mpsc::Sender<Request>,
}

impl Committer {
    pub(super) fn spawn(writer: SqlitePool) -> Self {
        let (tx, rx) = mpsc::channel(BATCH_MAX * 8);
        tokio::spawn(run(writer, rx));
        Self { tx }
    }

    pub(super) async fn append(&self, m: NewMessage<'_>) -> StoreResult<Appended> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            conversation_id: m.conversation_id,
            sender_id: m.sender_id,
            client_msg_id: m.client_msg_id.cloned(),
            body: m.body.to_string(),
            created_at: m.created_at,
            attachments: m.attachments.to_vec(),
            push_to: m.push_to.to_vec(),
            push_at: m.push_at,
            reply,
        };
        self.tx.send(request).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(writer: SqlitePool, mut rx: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while rx.recv_many(&mut batch, BATCH_MAX).await > 0 {
        write_batch(&writer, &mut batch).await;
    }
}

/// One transaction for the whole batch. Answers that are about the data
/// (not a member) do not abort the others; a database failure fails them
/// all, and nothing of the batch is stored (clients retry with the same
/// `clientMsgId`).
async fn write_batch(writer: &SqlitePool, batch: &mut Vec<Request>) {
    let outcome: Result<Vec<StoreResult<Appended>>, sqlx::Error> = async {
        let mut tx = writer.begin().await?;
        let mut results = Vec::with_capacity(batch.len());
        for r in batch.iter() {
            results.push(append_in(&mut tx, r).await?);
        }
        tx.commit().await?;
        Ok(results)
    }
    .await;
    match outcome {
        Ok(results) => {
            for (r, result) in batch.drain(..).zip(results) {
                let _ = r.reply.send(result);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, count = batch.len(), "message batch failed; nothing of it was stored");
            for r in batch.drain(..) {
                let _ = r.reply.send(Err(match &e {
                    sqlx::Error::PoolClosed => StoreError::Closed,
                    _ => StoreError::Database(sqlx::Error::Protocol(format!("batch failed: {e}"))),
                }));
            }
        }
    }
}

/// Appends one message inside the batch's transaction. The outer error is a
/// database failure (aborts the batch); the inner one an answer about the data.
async fn append_in(conn: &mut SqliteConnection, m: &Request) -> Result<StoreResult<Appended>, sqlx::Error> {
    let Some(conversation) = load_conversation(conn, m.conversation_id).await? else {
        return Ok(Err(StoreError::NotMember));
    };
    if let Some(client) = &m.client_msg_id {
        let existing = sqlx::query(concat!(
            "SELECT ",
            message_cols!(),
            " FROM messages WHERE sender_id = ? AND client_msg_id = ?"
        ))
        .bind(m.sender_id.0)
        .bind(client.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = existing {
            return Ok(Ok(Appended { message: message_row(&r)?, created: false, conversation }));
        }
    }
    if conversation.member(m.sender_id).is_none() {
        return Ok(Err(StoreError::NotMember));
    }
    let new = NewMessage {
        conversation_id: m.conversation_id,
        sender_id: m.sender_id,
        client_msg_id: m.client_msg_id.as_ref(),
        body: &m.body,
        created_at: m.created_at,
        attachments: &m.attachments,
        push_to: &m.push_to,
        push_at: m.push_at,
    };
    let message = insert_message(conn, Insert::text(&new)).await?;
    link_media(conn, &message).await?;
    enqueue_pushes(conn, &new, &message).await?;
    Ok(Ok(Appended { message, created: true, conversation }))
}
