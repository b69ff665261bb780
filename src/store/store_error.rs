//! What can go wrong in storage, and how the domain sees it.
//!
//! Owns: [`StoreError`], its conversions from the drivers' errors, and the
//! one conversion to the domain [`Error`] (so the domain never imports
//! storage). May not touch: anything else.

use crate::domain::Error;
use std::sync::Arc;

/// Storage failures. `Conflict`, `NotMember`, `Blocked` and `GroupFull` are answers
/// about the data; the rest are infrastructure problems.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (for example a taken username).
    #[error("unique constraint violated")]
    Conflict,
    /// The acting user is not a member of the conversation (checked inside
    /// the transaction, so a concurrent removal cannot slip through).
    #[error("not a member of the conversation")]
    NotMember,
    /// The two people of a direct conversation block each other (either
    /// way): checked inside the transaction, like `NotMember`, so a message
    /// racing a block cannot be stored after it.
    #[error("the members of this direct conversation block each other")]
    Blocked,
    /// Adding the members would pass the group's member cap.
    #[error("the group is full")]
    GroupFull,
    /// The store is shutting down and accepts no more work.
    #[error("store is closed")]
    Closed,
    /// A database error through sqlx.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// From the SQLite committer's own connection (not sqlx's).
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The group commit this write was part of failed; nothing of the batch
    /// was stored. Every caller of the batch gets the same cause.
    #[error("the write batch failed: {0}")]
    Batch(#[source] Arc<StoreError>),
    /// A committer's thread could not be started.
    #[error("cannot start the committer thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The database did not hold what this code just wrote or expects
    /// (a row read back, a known value): a bug or a damaged database.
    #[error("inconsistent data: expected {0}")]
    Inconsistent(&'static str),
    /// A backup (`confab admin backup`) could not be made; says why.
    #[error("backup failed: {0}")]
    Backup(String),
    /// The schema could not be brought up to date.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// The database refused a statement because of the data (a constraint,
    /// a value, a lock conflict), as opposed to the connection failing: a
    /// batch that meets one is written again in parts, so that only the
    /// refused row fails.
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, StoreError::Conflict | StoreError::Database(sqlx::Error::Database(_)))
    }

    /// The answers of the `jobs` jobs of a batch that failed with `self`:
    /// `Closed` stays itself, any other cause is shared by all as `Batch`.
    pub(crate) fn for_each_job<T>(self, jobs: usize) -> Vec<StoreResult<T>> {
        let cause = Arc::new(self);
        (0..jobs)
            .map(|_| {
                Err(match *cause {
                    StoreError::Closed => StoreError::Closed,
                    _ => StoreError::Batch(cause.clone()),
                })
            })
            .collect()
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::PoolClosed => StoreError::Closed,
            _ => StoreError::Database(e),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(f.extended_code, SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY) =>
            {
                StoreError::Conflict
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

/// Storage failures as the domain reports them: a closing store is
/// `unavailable`; anything else is logged here and is `internal` to clients.
/// Answers about the data (`Conflict`, `NotMember`, `Blocked`, `GroupFull`) are mapped
/// by the service that asked, which knows what they mean.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Closed => Error::Unavailable("the server is shutting down"),
            other => {
                tracing::error!(error = %other, "storage failure");
                Error::Internal
            }
        }
    }
}

/// What every storage call returns.
pub type StoreResult<T> = Result<T, StoreError>;
