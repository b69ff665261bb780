//! The embedded SQLite backend: one file under the data directory, WAL mode.
//!
//! Two connections write. The message hot path — appends, live delivery
//! receipts and the creation of direct conversations (the first message to
//! someone) — goes to the committer (`sqlite_committer`), a thread with its
//! own synchronous connection that writes whatever queued up in one
//! transaction. Everything else writes through a sqlx pool of exactly one
//! connection. Both start their transactions with `BEGIN IMMEDIATE`, so they
//! queue for SQLite's single write lock (with a busy timeout) instead of
//! failing on a stale snapshot, and every write transaction is serialized
//! (which makes membership checks inside them race-free without row locks).
//! Reads use a separate pool and run concurrently with the writers thanks to WAL.
//!
//! Owns: the SQLite pools, migrations and committer handle. May not touch:
//! SQL shared with PostgreSQL (it is in `sql`).

use super::backend::{Backend, SqlStore};
use super::dialect::{Dialect, SQLITE};
use super::sqlite_committer::Committer;
use super::{Appended, NewMessage, StoreError, StoreResult};
use crate::config::SqliteSynchronous as Durability;
use crate::domain::{Advanced, ConversationId, DeliveryMark, Millis, UserId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::future::Future;
use std::path::Path;
use std::time::Duration;

/// The storage traits on SQLite.
pub type SqliteStore = SqlStore<SqliteBackend>;

/// What SQLite gives the shared storage code: a one-connection writer pool,
/// a reader pool and the group committer.
pub struct SqliteBackend {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Batches appends and live receipts into group commits.
    committer: Committer,
    commits: super::CommitWatch,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs migrations.
    /// `synchronous` says whether every commit survives power loss, or only
    /// a crash of the process.
    pub async fn open(path: &Path, synchronous: Durability) -> StoreResult<Self> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(base.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(base.read_only(true)).await?;
        let commits = super::CommitWatch::default();
        let committer = Committer::open(path, synchronous, commits.clone())?;
        Ok(SqlStore { backend: SqliteBackend { writer, reader, committer, commits } })
    }
}

impl Backend for SqliteBackend {
    type Db = Sqlite;
    type Conn = SqliteConnection;
    const DIALECT: &'static Dialect = &SQLITE;

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// Immediate: see the module docs.
    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    fn append(&self, m: NewMessage<'_>) -> impl Future<Output = StoreResult<Appended>> + Send {
        self.committer.append(m)
    }

    fn delivered(
        &self,
        marks: &[DeliveryMark],
    ) -> Option<impl Future<Output = StoreResult<Vec<(DeliveryMark, Advanced)>>> + Send> {
        Some(self.committer.delivered(marks))
    }

    fn commits(&self) -> &super::CommitWatch {
        &self.commits
    }

    fn direct(
        &self,
        a: UserId,
        b: UserId,
        now: Millis,
    ) -> impl Future<Output = StoreResult<ConversationId>> + Send {
        self.committer.direct(a, b, now)
    }

    /// Bulk indexing: see `sqlite_search`.
    fn searchable(&self) -> Option<impl Future<Output = StoreResult<()>> + Send> {
        Some(self.committer.searchable())
    }

    async fn close(&self) {
        self.committer.close();
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// A consistent copy of the live database at `db` into the new file `to`
/// (`VACUUM INTO`): one read transaction, so it sees one committed state
/// while the server keeps writing, and the copy is compact and needs no WAL.
/// Then checks the copy (`PRAGMA integrity_check`).
pub fn backup(db: &Path, to: &Path) -> StoreResult<()> {
    use rusqlite::OpenFlags;
    if to.exists() {
        return Err(StoreError::Backup(format!("{} already exists", to.display())));
    }
    let target = to.to_str().ok_or_else(|| StoreError::Backup("the file name is not UTF-8".into()))?;
    let conn = rusqlite::Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.execute("VACUUM INTO ?1", [target])?;
    let copy = rusqlite::Connection::open_with_flags(to, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let verdict: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(StoreError::Backup(format!("the copy fails its integrity check: {verdict}")));
    }
    Ok(())
}
