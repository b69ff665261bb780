-- Messaging features (#17): edits, deletions (tombstones), replies,
-- reactions, message search and blocking.

-- A deleted message keeps its row (id and seq stay, so no gap appears):
-- its body and attachments are emptied and deleted_at is set.
ALTER TABLE messages ADD COLUMN reply_to INTEGER;      -- the message it answers (same conversation)
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
-- Deleting all of a user's messages (account deletion) finds them by sender.
CREATE INDEX messages_sender ON messages(sender_id);

-- One row per (message, emoji, user); the id orders reactions by first use.
CREATE TABLE reactions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    emoji       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (message_id, emoji, user_id)
);

-- Who blocks whom.
CREATE TABLE blocks (
    blocker_id  INTEGER NOT NULL REFERENCES users(id),
    blocked_id  INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks(blocked_id);

-- Full-text search over users' live text messages: an external-content FTS5
-- index kept by triggers (system messages and tombstones are not indexed).
-- unicode61 with remove_diacritics 2 folds case and accents.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (rowid, body)
    SELECT id, body FROM messages WHERE kind = 'text' AND deleted_at IS NULL;
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
    WHEN new.kind = 'text' AND new.deleted_at IS NULL
BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_unindex AFTER UPDATE OF body, deleted_at ON messages
    WHEN old.kind = 'text' AND old.deleted_at IS NULL
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_reindex AFTER UPDATE OF body, deleted_at ON messages
    WHEN new.kind = 'text' AND new.deleted_at IS NULL
BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.kind = 'text' AND old.deleted_at IS NULL
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
