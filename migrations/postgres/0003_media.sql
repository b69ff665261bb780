-- Media attachments.

-- The attachments a message carries, as JSON (see store::Attachment): read
-- with the message, so history and unread fetches need no join.
ALTER TABLE messages ADD COLUMN attachments TEXT;

CREATE TABLE media (
    id            TEXT    PRIMARY KEY,           -- random and unguessable
    owner_id      BIGINT  NOT NULL REFERENCES users(id),
    backend       TEXT    NOT NULL CHECK (backend IN ('local', 'cloudinary')),
    kind          TEXT    NOT NULL CHECK (kind IN ('image', 'video', 'audio', 'file')),
    mime          TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    name          TEXT    NOT NULL,
    width         BIGINT,
    height        BIGINT,
    sha256        TEXT,                          -- local: the file's content address
    thumb_sha256  TEXT,                          -- local: the thumbnail's, for images
    remote        TEXT,                          -- cloudinary: JSON {publicId, version, resourceType, format}
    created_at    BIGINT  NOT NULL,
    attached_at   BIGINT                         -- first sent in a message; NULL: an orphan if old
);
CREATE INDEX media_unattached ON media(created_at) WHERE attached_at IS NULL;
CREATE INDEX media_sha ON media(sha256);

-- Which conversations may see a media item: one row per message carrying it.
CREATE TABLE media_links (
    media_id         TEXT    NOT NULL,
    conversation_id  BIGINT  NOT NULL,
    message_id       BIGINT  NOT NULL,
    PRIMARY KEY (media_id, message_id)
);
CREATE INDEX media_links_conversation ON media_links(conversation_id);

-- Server-wide secrets shared by every node (e.g. the key of signed media URLs).
CREATE TABLE secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
