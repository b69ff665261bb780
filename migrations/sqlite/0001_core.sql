-- Confab schema (SQLite). Times are milliseconds since the Unix epoch.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT    NOT NULL,
    username_key   TEXT    NOT NULL UNIQUE,  -- lower-cased: usernames are unique regardless of case
    display_name   TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER
);

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    token_hash  BLOB    NOT NULL UNIQUE,     -- SHA-256 of the token; the token itself is never stored
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL CHECK (kind IN ('direct', 'group')),
    direct_key       TEXT    UNIQUE,         -- "low:high" user ids, so a pair has one direct conversation
    name             TEXT,
    description      TEXT,
    avatar_url       TEXT,
    full_history     INTEGER NOT NULL DEFAULT 0,   -- groups: new members may read earlier messages
    created_by       INTEGER REFERENCES users(id),
    created_at       INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    last_message_at  INTEGER
);

-- Delivered/read state is two watermarks per member, not a row per message per reader.
CREATE TABLE members (
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    user_id          INTEGER NOT NULL REFERENCES users(id),
    role             TEXT    NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    joined_at        INTEGER NOT NULL,
    joined_seq       INTEGER NOT NULL DEFAULT 0,   -- last seq before joining: history starts after it
    delivered_seq    INTEGER NOT NULL DEFAULT 0,
    read_seq         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_user ON members(user_id);

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    seq              INTEGER NOT NULL,
    sender_id        INTEGER NOT NULL REFERENCES users(id),
    client_msg_id    TEXT,
    kind             TEXT    NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'system')),
    body             TEXT    NOT NULL,
    meta             TEXT,                         -- system messages: JSON describing the event
    created_at       INTEGER NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (sender_id, client_msg_id)
);
