-- Confab schema (PostgreSQL). Times are milliseconds since the Unix epoch.
-- sqlx runs migrations under an advisory lock, so several nodes may start at once.

CREATE TABLE users (
    id             BIGSERIAL PRIMARY KEY,
    username       TEXT   NOT NULL,
    username_key   TEXT   NOT NULL UNIQUE,      -- lower-cased: usernames are unique regardless of case
    display_name   TEXT   NOT NULL,
    password_hash  TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT
);

CREATE TABLE tokens (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    token_hash  BYTEA  NOT NULL UNIQUE,         -- SHA-256 of the token; the token itself is never stored
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE conversations (
    id               BIGSERIAL PRIMARY KEY,
    kind             TEXT    NOT NULL CHECK (kind IN ('direct', 'group')),
    direct_key       TEXT    UNIQUE,            -- "low:high" user ids, so a pair has one direct conversation
    name             TEXT,
    description      TEXT,
    avatar_url       TEXT,
    full_history     BOOLEAN NOT NULL DEFAULT FALSE,
    created_by       BIGINT REFERENCES users(id),
    created_at       BIGINT  NOT NULL,
    last_seq         BIGINT  NOT NULL DEFAULT 0,
    last_message_at  BIGINT
);

-- Delivered/read state is two watermarks per member, not a row per message per reader.
CREATE TABLE members (
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id),
    user_id          BIGINT NOT NULL REFERENCES users(id),
    role             TEXT   NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    joined_at        BIGINT NOT NULL,
    joined_seq       BIGINT NOT NULL DEFAULT 0,
    delivered_seq    BIGINT NOT NULL DEFAULT 0,
    read_seq         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_user ON members(user_id);

CREATE TABLE messages (
    id               BIGSERIAL PRIMARY KEY,
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id),
    seq              BIGINT NOT NULL,
    sender_id        BIGINT NOT NULL REFERENCES users(id),
    client_msg_id    TEXT,
    kind             TEXT   NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'system')),
    body             TEXT   NOT NULL,
    meta             TEXT,
    created_at       BIGINT NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (sender_id, client_msg_id)
);
