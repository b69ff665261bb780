//! The PostgreSQL backend for cluster mode: every node shares one database.
//!
//! Unlike SQLite there are many concurrent writers, so every transaction
//! that reads-then-writes a conversation first locks its row
//! (`SELECT … FOR UPDATE`): sends, membership changes and role changes on
//! one conversation are serialized, which keeps seqs gap-free, membership
//! checks race-free and the member cap exact. Different conversations never
//! wait for each other.

mod committer;
mod conversations;
mod media;
mod messages;
mod push;
mod users;

use super::*;
use crate::domain::*;
use crate::store::mapping::{Insert, member_cols, message_cols, push_job_cols, subscription_cols};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use std::str::FromStr;
use std::time::Duration;

/// PostgreSQL implementation of [`Store`].
pub struct PostgresStore {
    pool: PgPool,
    /// Batches message appends into group commits (see [`committer`]).
    committer: committer::Committer,
}

impl PostgresStore {
    /// Connects to `url` and runs the migrations (under sqlx's advisory
    /// lock, so nodes starting together do not race).
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?;
        Self::open_with(options, max_connections).await
    }

    /// Like [`open`](Self::open) with prepared options (tests use them to
    /// give each test its own schema).
    pub async fn open_with(options: PgConnectOptions, max_connections: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let committer = committer::Committer::spawn(options)?;
        Ok(Self { pool, committer })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn close(&self) {
        self.pool.close().await;
    }
}

crate::store::mapping::row_mappers!(PgRow);

/// Reads a conversation with its members; with `lock`, inside a
/// transaction, also locks the conversation row until commit.
async fn load_conversation(
    conn: &mut PgConnection,
    id: ConversationId,
    lock: bool,
) -> Result<Option<Conversation>, sqlx::Error> {
    let sql = if lock {
        "SELECT * FROM conversations WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT * FROM conversations WHERE id = $1"
    };
    let Some(row) = sqlx::query(sql).bind(id.0).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let members = sqlx::query(concat!(
        "SELECT ",
        member_cols!(),
        " FROM members m JOIN users u ON u.id = m.user_id
          WHERE m.conversation_id = $1 ORDER BY m.joined_at, m.user_id"
    ))
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(member_row)
    .collect::<Result<_, _>>()?;
    Ok(Some(conversation_row(&row, members)?))
}

/// Appends a message inside an open transaction: takes the next seq (the
/// UPDATE locks the conversation row until commit).
async fn insert_message(conn: &mut PgConnection, m: Insert<'_>) -> Result<Message, sqlx::Error> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = $1 WHERE id = $2 RETURNING last_seq",
    )
    .bind(m.at)
    .bind(m.conversation.0)
    .fetch_one(&mut *conn)
    .await?;
    let row = sqlx::query(concat!(
        "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, body, meta, created_at, attachments)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
        message_cols!()
    ))
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

/// Records a system message inside an open transaction.
async fn insert_note(
    conn: &mut PgConnection,
    conversation: ConversationId,
    note: &SystemNote<'_>,
) -> Result<Message, sqlx::Error> {
    insert_message(conn, Insert::note(conversation, note)).await
}
