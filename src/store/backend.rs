//! The one implementation of the storage traits, over either database.
//!
//! Owns: [`SqlStore`], which implements every storage trait once (in
//! `user_store`, `conversation_store`, `message_store`, `push_store`,
//! `media_store`) on top of a [`Backend`]: the little each database must
//! provide itself — its pools, how a write transaction begins, its
//! [`Dialect`], and its group committer. Also the steps several traits share
//! inside a transaction (reading a conversation, appending a message, moving
//! a watermark). May not touch: the domain's rules — it stores what the
//! services decided.

use super::dialect::Dialect;
use super::exec::{Col, Exec, args};
use super::mapping::{self, Insert};
use super::{Appended, NewMessage, StoreResult, SystemNote};
use crate::domain::{
    Advanced, Conversation, ConversationId, DeliveryMark, Message, Millis, Receipt, Seq, UserId,
};
use sqlx::pool::PoolConnection;
use sqlx::{Pool, Transaction};
use std::future::Future;

/// What a database gives the shared storage code.
pub trait Backend: Send + Sync + 'static {
    /// The sqlx driver.
    type Db: sqlx::Database<Connection = Self::Conn>;
    /// One of its connections, which runs statements.
    type Conn: Exec + sqlx::Connection<Database = Self::Db>;
    /// Its statements where the text differs.
    const DIALECT: &'static Dialect;

    /// Connections for reads.
    fn reader(&self) -> &Pool<Self::Db>;
    /// Connections for writes outside a transaction.
    fn writer(&self) -> &Pool<Self::Db>;
    /// Begins a transaction that will write.
    fn begin(&self) -> impl Future<Output = StoreResult<Transaction<'static, Self::Db>>> + Send;
    /// Appends a message through the backend's group committer.
    fn append(&self, m: NewMessage<'_>) -> impl Future<Output = StoreResult<Appended>> + Send;
    /// Live receipts through the group committer, if the backend batches
    /// them there; `None`: the shared code writes them in a transaction.
    fn delivered(
        &self,
        marks: &[DeliveryMark],
    ) -> Option<impl Future<Output = StoreResult<Vec<(DeliveryMark, Advanced)>>> + Send>;
    /// Finds or creates a pair's direct conversation, through the group
    /// committer on both databases: the first message to someone new then
    /// costs no commit of its own.
    fn direct(
        &self,
        a: UserId,
        b: UserId,
        now: Millis,
    ) -> impl Future<Output = StoreResult<ConversationId>> + Send;
    /// Makes every message stored so far searchable, if the backend indexes
    /// for search behind the commits; `None`: each message is indexed in
    /// its own transaction.
    fn searchable(&self) -> Option<impl Future<Output = StoreResult<()>> + Send>;
    /// Waits for in-flight writes and refuses new ones.
    fn close(&self) -> impl Future<Output = ()> + Send;
    /// Where its group committer reports commits.
    fn commits(&self) -> &super::CommitWatch;
}

/// A SQL store: every storage trait over the backend `B`. See
/// [`super::sqlite::SqliteStore`] and [`super::postgres::PostgresStore`].
pub struct SqlStore<B> {
    pub(super) backend: B,
}

impl<B: Backend> SqlStore<B> {
    /// A connection for reads.
    pub(super) async fn read(&self) -> StoreResult<PoolConnection<B::Db>> {
        Ok(self.backend.reader().acquire().await?)
    }

    /// A connection for a single write.
    pub(super) async fn write(&self) -> StoreResult<PoolConnection<B::Db>> {
        Ok(self.backend.writer().acquire().await?)
    }

    /// A write transaction.
    pub(super) async fn begin(&self) -> StoreResult<Transaction<'static, B::Db>> {
        self.backend.begin().await
    }
}

#[async_trait::async_trait]
impl<B: Backend> super::Store for SqlStore<B> {
    async fn close(&self) {
        self.backend.close().await;
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read().await?.optional(super::sql::PING, super::exec::args![]).await?;
        Ok(())
    }

    fn watch_commits(&self, metrics: std::sync::Arc<crate::telemetry::Metrics>) {
        let _ = self.backend.commits().0.set(metrics);
    }
}

/// Reads a conversation with its members; `sql` is [`super::sql::CONVERSATION`]
/// or the dialect's `conversation_to_change`.
pub(super) async fn load_conversation(
    conn: &mut impl Exec,
    sql: &'static str,
    id: ConversationId,
) -> StoreResult<Option<Conversation>> {
    let Some(row) = conn.optional(sql, args![id]).await? else { return Ok(None) };
    let members = conn.all(super::sql::MEMBERS, args![id]).await?;
    let members = members.iter().map(mapping::member).collect::<StoreResult<_>>()?;
    Ok(Some(mapping::conversation(&row, members)?))
}

/// Appends a message inside an open transaction: takes the next seq.
pub(super) async fn insert_message(conn: &mut impl Exec, m: Insert<'_>) -> StoreResult<Message> {
    let row = conn.one(super::sql::NEXT_SEQ, args![m.at, m.conversation]).await?;
    let seq: Seq = row.col("last_seq")?;
    let row = conn
        .one(
            super::sql::INSERT_MESSAGE,
            args![
                m.conversation,
                seq,
                m.sender,
                m.client_msg_id,
                m.kind.as_str(),
                m.body,
                m.meta,
                m.at,
                m.attachments.as_deref(),
                m.reply_to.map(|r| r.0)
            ],
        )
        .await?;
    mapping::message(&row)
}

/// Records a system message inside an open transaction.
pub(super) async fn insert_note(
    conn: &mut impl Exec,
    conversation: ConversationId,
    note: &SystemNote<'_>,
) -> StoreResult<Message> {
    insert_message(conn, Insert::note(conversation, note)).await
}

/// [`super::MessageStore::advance`] inside an open transaction.
pub(super) async fn advance_in(
    conn: &mut impl Exec,
    dialect: &Dialect,
    conversation: ConversationId,
    user: UserId,
    receipt: Receipt,
    up_to: Seq,
    contiguous: bool,
) -> StoreResult<Option<Advanced>> {
    let Some(row) = conn.optional(dialect.watermarks_to_change, args![conversation, user]).await? else {
        return Ok(None);
    };
    let old: i64 = row.col(match receipt {
        Receipt::Delivered => "delivered_seq",
        Receipt::Read => "read_seq",
    })?;
    if up_to <= old {
        return Ok(None);
    }
    if contiguous && receipt == Receipt::Delivered {
        let gap: bool = conn.one(super::sql::GAP, args![conversation, old, up_to, user]).await?.col("gap")?;
        if gap {
            return Ok(None);
        }
    }
    let sql = match receipt {
        Receipt::Delivered => super::sql::SET_DELIVERED,
        Receipt::Read => super::sql::SET_READ,
    };
    conn.execute(sql, args![up_to, conversation, user]).await?;
    Ok(Some(Advanced { old, new: up_to }))
}
