//! The embedded SQLite backend: one file under the data directory, WAL mode.
//!
//! Two connections write. The message hot path — appends and live delivery
//! receipts — goes to the [`committer`], a thread with its own synchronous
//! connection that writes whatever queued up in one transaction. Everything
//! else writes through a sqlx pool of exactly one connection. Both start
//! their transactions with `BEGIN IMMEDIATE`, so they queue for SQLite's
//! single write lock (with a busy timeout) instead of failing on a stale
//! snapshot, and every write transaction is serialized (which makes
//! membership checks inside them race-free). Reads use a separate pool and
//! run concurrently with the writers thanks to WAL.

mod committer;
mod conversations;
mod media;
mod messages;
mod push;
mod users;

use super::*;
use crate::domain::*;

use crate::config::SqliteSynchronous as Durability;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// SQLite implementation of [`Store`].
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Batches message appends into group commits (see [`committer`]).
    committer: committer::Committer,
}

use crate::store::mapping::{Insert, member_cols, message_cols, push_job_cols, subscription_cols, user_cols};

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs migrations.
    /// `synchronous` says whether every commit survives power loss, or only
    /// a crash of the process.
    pub async fn open(path: &Path, synchronous: Durability) -> StoreResult<Self> {
        let synchronous_full = synchronous == Durability::Full;
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if synchronous_full { SqliteSynchronous::Full } else { SqliteSynchronous::Normal })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(base.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(base.read_only(true)).await?;
        let committer = committer::Committer::open(path, synchronous_full)?;
        Ok(Self { writer, reader, committer })
    }

    /// A write transaction on the sqlx writer; see the module docs for why immediate.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn close(&self) {
        self.committer.close();
        self.writer.close().await;
        self.reader.close().await;
    }
}

crate::store::mapping::row_mappers!(SqliteRow);

// The statements the committer's rusqlite connection shares with sqlx's.
const SQL_CONVERSATION: &str = "SELECT * FROM conversations WHERE id = ?";
const SQL_MEMBERS: &str = concat!(
    "SELECT ",
    member_cols!(),
    " FROM members m JOIN users u ON u.id = m.user_id
      WHERE m.conversation_id = ? ORDER BY m.joined_at, m.user_id"
);
const SQL_NEXT_SEQ: &str =
    "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = ? WHERE id = ? RETURNING last_seq";
const SQL_INSERT_MESSAGE: &str = concat!(
    "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, body, meta, created_at, attachments)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
    message_cols!()
);

/// Reads a conversation with its members on the given connection (inside a
/// write transaction, or on a reader).
async fn load_conversation(
    conn: &mut SqliteConnection,
    id: ConversationId,
) -> Result<Option<Conversation>, sqlx::Error> {
    let Some(row) = sqlx::query(SQL_CONVERSATION).bind(id.0).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let members = sqlx::query(SQL_MEMBERS)
        .bind(id.0)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(member_row)
        .collect::<Result<_, _>>()?;
    Ok(Some(conversation_row(&row, members)?))
}

/// Appends a message inside an open write transaction: takes the next seq.
async fn insert_message(conn: &mut SqliteConnection, m: Insert<'_>) -> Result<Message, sqlx::Error> {
    let seq: i64 =
        sqlx::query_scalar(SQL_NEXT_SEQ).bind(m.at).bind(m.conversation.0).fetch_one(&mut *conn).await?;
    let row = sqlx::query(SQL_INSERT_MESSAGE)
        .bind(m.conversation.0)
        .bind(seq)
        .bind(m.sender.0)
        .bind(m.client_msg_id)
        .bind(m.kind.as_str())
        .bind(m.body)
        .bind(m.meta)
        .bind(m.at)
        .bind(&m.attachments)
        .fetch_one(&mut *conn)
        .await?;
    message_row(&row)
}

/// Records a system message inside an open write transaction.
async fn insert_note(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    note: &SystemNote<'_>,
) -> Result<Message, sqlx::Error> {
    insert_message(conn, Insert::note(conversation, note)).await
}
