//! SQLite's message search index, kept behind the messages instead of in
//! their transaction (migration 0007).
//!
//! Indexing a message with an FTS5 trigger wrote a new index segment with
//! every group commit, and the merges that follow: a quarter of the
//! committer's time went there. Instead the committer indexes new messages
//! in bulk, inside one of its batches, once [`Pending`] says enough piled up;
//! and a search first asks the committer to index whatever is still pending.
//! So a search sees every message stored before it, while most commits do
//! no indexing at all.
//!
//! Owns: the bulk-indexing statements and when to run them. The edit and
//! delete triggers that keep already-indexed messages right are in the
//! migration.

use rusqlite::Connection;

/// Messages appended since the last bulk step after which the committer
/// indexes in its next batch. Larger means fewer, bigger index segments
/// (less work per message) but a longer step now and then.
const INDEX_EVERY: usize = 512;

/// Indexes the live text messages above the high-water mark and moves the
/// mark to the newest message. Messages above the mark that were edited or
/// deleted meanwhile are indexed as they stand now (or not at all).
const INDEX_PENDING: &str = "INSERT INTO messages_fts (rowid, body)
    SELECT id, body FROM messages
     WHERE id > (SELECT upto FROM search_indexed WHERE id = 1)
       AND kind = 'text' AND deleted_at IS NULL
     ORDER BY id";
const MOVE_MARK: &str = "UPDATE search_indexed
    SET upto = (SELECT COALESCE(MAX(id), upto) FROM messages) WHERE id = 1";

/// The committer's count of messages not yet indexed.
#[derive(Debug)]
pub(super) struct Pending {
    appended: usize,
}

impl Pending {
    /// At start-up something may be pending (the process stopped between a
    /// commit and the next bulk step): the first batch indexes it.
    pub(super) fn at_start() -> Self {
        Self { appended: INDEX_EVERY }
    }

    pub(super) fn appended(&mut self, n: usize) {
        self.appended += n;
    }

    /// Whether a batch that appends `n` more messages should index.
    pub(super) fn due(&self, n: usize) -> bool {
        self.appended + n >= INDEX_EVERY
    }

    /// Indexes everything pending, inside the caller's transaction. The
    /// count is reset only by the caller once that transaction commits.
    pub(super) fn index(conn: &Connection) -> rusqlite::Result<usize> {
        let n = conn.prepare_cached(INDEX_PENDING)?.execute([])?;
        if n > 0 {
            // Left alone otherwise, so that a search with nothing pending
            // writes nothing (only system messages can be above the mark
            // then, and the next step skips them again, cheaply).
            conn.prepare_cached(MOVE_MARK)?.execute([])?;
        }
        Ok(n)
    }

    /// The batch that indexed has committed.
    pub(super) fn indexed(&mut self) {
        self.appended = 0;
    }
}
