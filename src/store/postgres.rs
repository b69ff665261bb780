//! The PostgreSQL backend for cluster mode: every node shares one database.
//!
//! Unlike SQLite there are many concurrent writers, so every transaction
//! that reads-then-writes a conversation first locks its row
//! (`SELECT … FOR UPDATE`, see `dialect`): sends, membership changes and
//! role changes on one conversation are serialized, which keeps seqs
//! gap-free, membership checks race-free and the member cap exact.
//! Different conversations never wait for each other. Appends and new direct
//! conversations go through the committer (`postgres_committer`); live receipts are written a batch
//! at a time in three statements (`postgres_receipts`).
//!
//! Owns: the PostgreSQL pool, migrations and committer handle. May not touch:
//! SQL shared with SQLite (it is in `sql`).

use super::backend::{Backend, SqlStore};
use super::dialect::{Dialect, POSTGRES};
use super::postgres_committer::Committer;
use super::{Appended, NewMessage, StoreResult};
use crate::domain::{Advanced, ConversationId, DeliveryMark, Millis, UserId};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::future::{Future, Ready};
use std::str::FromStr;
use std::time::Duration;

/// The storage traits on PostgreSQL.
pub type PostgresStore = SqlStore<PostgresBackend>;

/// What PostgreSQL gives the shared storage code: one pool for reads and
/// writes, and the group committer for appends.
pub struct PostgresBackend {
    pool: PgPool,
    /// Batches message appends into group commits.
    committer: Committer,
    commits: super::CommitWatch,
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
        // Every execution is planned for its own values. Left to itself,
        // PostgreSQL caches a prepared statement's generic plan from the
        // statistics of its first runs, and keeps it for the connection's
        // life: on a node that started on an empty database that was a
        // sequential scan of `messages` in every commit, slower with every
        // message stored. Planning these short statements costs less.
        let options = options.options([("plan_cache_mode", "force_custom_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let commits = super::CommitWatch::default();
        let committer = Committer::spawn(options, commits.clone())?;
        Ok(SqlStore { backend: PostgresBackend { pool, committer, commits } })
    }
}

impl Backend for PostgresBackend {
    type Db = Postgres;
    type Conn = PgConnection;
    const DIALECT: &'static Dialect = &POSTGRES;

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    fn append(&self, m: NewMessage<'_>) -> impl Future<Output = StoreResult<Appended>> + Send {
        self.committer.append(m)
    }

    fn delivered(
        &self,
        marks: &[DeliveryMark],
    ) -> Option<impl Future<Output = StoreResult<Vec<(DeliveryMark, Advanced)>>> + Send> {
        Some(super::postgres_receipts::delivered(&self.pool, marks.to_vec()))
    }

    fn direct(
        &self,
        a: UserId,
        b: UserId,
        now: Millis,
    ) -> impl Future<Output = StoreResult<ConversationId>> + Send {
        self.committer.direct(a, b, now)
    }

    /// The tsvector column and its GIN index are written with the message.
    fn searchable(&self) -> Option<impl Future<Output = StoreResult<()>> + Send> {
        None::<Ready<StoreResult<()>>>
    }

    fn close(&self) -> impl Future<Output = ()> + Send {
        self.pool.close()
    }

    fn commits(&self) -> &super::CommitWatch {
        &self.commits
    }
}
