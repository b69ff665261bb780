-- Push notifications: devices, mutes, and the outbox of push jobs.

CREATE TABLE push_subscriptions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    kind         TEXT    NOT NULL CHECK (kind IN ('webpush', 'fcm', 'apns')),
    address      TEXT    NOT NULL,          -- Web Push endpoint URL, or the FCM/APNs device token
    p256dh       TEXT,                      -- Web Push: the browser's public key (base64url)
    auth         TEXT,                      -- Web Push: the auth secret (base64url)
    environment  TEXT,                      -- APNs: 'sandbox' or 'production'
    created_at   INTEGER NOT NULL,
    UNIQUE (kind, address)
);
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);

CREATE TABLE push_mutes (
    user_id          INTEGER NOT NULL REFERENCES users(id),
    conversation_id  INTEGER NOT NULL,      -- 0: every conversation
    until            INTEGER,               -- NULL: until unmuted
    PRIMARY KEY (user_id, conversation_id)
);

-- One row per (device, conversation): a burst of messages collapses into one
-- job (message_id is the newest, pending counts them, version changes).
-- Written in the message's transaction, deleted once the push went out.
CREATE TABLE push_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  INTEGER NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL,
    conversation_id  INTEGER NOT NULL,
    message_id       INTEGER NOT NULL,
    pending          INTEGER NOT NULL DEFAULT 1,
    version          INTEGER NOT NULL DEFAULT 1,
    due_at           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    claimed_until    INTEGER NOT NULL DEFAULT 0,  -- a worker holds the job until then
    claim            INTEGER NOT NULL DEFAULT 0,  -- the claiming worker's token
    UNIQUE (subscription_id, conversation_id)
);
CREATE INDEX push_jobs_due ON push_jobs(due_at);
CREATE INDEX push_jobs_claim ON push_jobs(claim);
