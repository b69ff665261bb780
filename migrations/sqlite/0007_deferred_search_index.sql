-- Speed of the message hot path (#16/#17 follow-up): two writes per message
-- that 0006 added cost a quarter of the durable send rate.
--
-- 1. messages_sender duplicated what the unique (sender_id, client_msg_id)
--    index already gives: lookups by sender use its prefix. (An account
--    export, which pages a sender's messages by id, now sorts each page: a
--    rare request, against one index write less for every message.)
DROP INDEX messages_sender;

-- 2. The search index is no longer written in the message's own transaction.
--    The committer indexes new messages in bulk (one FTS5 segment for many
--    messages instead of one per commit), and a search first indexes whatever
--    is still pending (src/store/sqlite_search.rs), so a search still sees
--    every message stored before it. `upto` is the highest message id the
--    index has considered; the edit and delete triggers leave messages above
--    it alone (the bulk step reads their current text when it gets to them).
CREATE TABLE search_indexed (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    upto  INTEGER NOT NULL
);
INSERT INTO search_indexed (id, upto) VALUES (1, (SELECT COALESCE(MAX(id), 0) FROM messages));

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_unindex;
DROP TRIGGER messages_fts_reindex;
DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_unindex AFTER UPDATE OF body, deleted_at ON messages
    WHEN old.kind = 'text' AND old.deleted_at IS NULL
     AND old.id <= (SELECT upto FROM search_indexed WHERE id = 1)
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_reindex AFTER UPDATE OF body, deleted_at ON messages
    WHEN new.kind = 'text' AND new.deleted_at IS NULL
     AND new.id <= (SELECT upto FROM search_indexed WHERE id = 1)
BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.kind = 'text' AND old.deleted_at IS NULL
     AND old.id <= (SELECT upto FROM search_indexed WHERE id = 1)
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
