-- Created on start (idempotent). Every node runs it under an advisory lock.

CREATE TABLE IF NOT EXISTS users (
  id            BIGSERIAL PRIMARY KEY,
  username      TEXT NOT NULL,
  display_name  TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS users_username_key ON users (lower(username));

-- Opaque bearer tokens, stored as SHA-256 (hex); the plain token is only ever in the client.
CREATE TABLE IF NOT EXISTS tokens (
  token_hash TEXT PRIMARY KEY,
  user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens (user_id);

-- A direct conversation has direct_key = 'low:high' (the two user ids); groups have NULL.
-- last_seq is bumped (UPDATE ... RETURNING) in the transaction that inserts a message, so
-- seq is gap-free per conversation and the row lock orders concurrent writers.
CREATE TABLE IF NOT EXISTS conversations (
  id         BIGSERIAL PRIMARY KEY,
  type       TEXT NOT NULL CHECK (type IN ('direct', 'group')),
  direct_key TEXT UNIQUE,
  name       TEXT,
  created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
  last_seq   BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Receipts are watermarks: every message with seq <= delivered_seq (read_seq) reached
-- (was read by) the member.
CREATE TABLE IF NOT EXISTS conversation_members (
  conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role            TEXT NOT NULL DEFAULT 'member',
  joined_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  delivered_seq   BIGINT NOT NULL DEFAULT 0,
  read_seq        BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX IF NOT EXISTS conversation_members_user ON conversation_members (user_id);

CREATE TABLE IF NOT EXISTS messages (
  id              BIGSERIAL PRIMARY KEY,
  conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  seq             BIGINT NOT NULL,
  sender_id       BIGINT NOT NULL REFERENCES users (id),
  type            TEXT NOT NULL DEFAULT 'text',
  body            TEXT NOT NULL,
  client_msg_id   TEXT,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (conversation_id, seq),
  -- Idempotent sends: a retry with the same clientMsgId finds the original.
  UNIQUE (sender_id, client_msg_id)
);
