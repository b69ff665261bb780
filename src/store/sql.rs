//! Every SQL statement both backends run, written once.
//!
//! Owns: the text of the shared statements, and the templates of the few
//! whose text differs by dialect (instantiated in [`super::dialect`]). May
//! not touch: connections — nothing here runs.
//!
//! Placeholders are `$1`, `$2`, …: PostgreSQL's own syntax, which sqlx binds
//! by number on SQLite too. The SQLite committer binds positionally through
//! rusqlite, so every statement names its placeholders in order of first
//! appearance (a test checks it). Column lists are macros so that
//! statements stay `&'static str` (sqlx refuses formatted SQL).

macro_rules! user_cols {
    () => {
        "id, username, display_name, created_at, last_seen_at"
    };
}
macro_rules! message_cols {
    () => {
        "id, conversation_id, seq, sender_id, client_msg_id, kind, body, meta, created_at, attachments,
         reply_to, edited_at, deleted_at"
    };
}
macro_rules! member_cols {
    () => {
        "m.conversation_id, m.user_id, m.role, m.joined_at, m.joined_seq, m.delivered_seq, m.read_seq,
         u.username, u.display_name"
    };
}
macro_rules! subscription_cols {
    () => {
        "s.id, s.user_id, s.kind, s.address, s.p256dh, s.auth, s.environment, s.created_at"
    };
}
pub(crate) use {member_cols, message_cols, user_cols};

// ---- users and tokens ----

pub(crate) const CREATE_USER: &str = concat!(
    "INSERT INTO users (username, username_key, display_name, password_hash, created_at)
     VALUES ($1, $2, $3, $4, $5) RETURNING ",
    user_cols!()
);
pub(crate) const USER: &str = concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1");
pub(crate) const CREDENTIALS: &str = concat!(
    "SELECT ",
    user_cols!(),
    ", password_hash, disabled_at IS NOT NULL AS disabled FROM users WHERE username_key = $1"
);
/// Users whose key starts with `$1`, at most `$3`: the condition is the
/// dialect's (`$2` is the end of the key range).
macro_rules! search_users {
    ($prefix_match:literal) => {
        concat!(
            "SELECT ",
            $crate::store::sql::user_cols!(),
            " FROM users WHERE ",
            $prefix_match,
            " ORDER BY username_key LIMIT $3"
        )
    };
}
/// Which of the ids `$1` exist: the list membership is the dialect's.
macro_rules! existing_users {
    ($in_list:literal) => {
        concat!("SELECT id FROM users WHERE id ", $in_list)
    };
}
pub(crate) const SET_LAST_SEEN: &str = "UPDATE users SET last_seen_at = $1 WHERE id = $2";
pub(crate) const INSERT_TOKEN: &str =
    "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id";
/// A disabled user's tokens count as revoked, even one issued by a login
/// that raced with the disabling.
pub(crate) const TOKEN: &str =
    "SELECT t.id, t.user_id, t.expires_at, (t.revoked_at IS NOT NULL OR u.disabled_at IS NOT NULL) AS revoked
       FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1";
pub(crate) const REVOKE_TOKEN: &str =
    "UPDATE tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL
     RETURNING id, user_id, expires_at";
pub(crate) const REVOKE_USER_TOKENS: &str =
    "UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL RETURNING id, token_hash";
pub(crate) const SET_DISABLED: &str =
    "UPDATE users SET disabled_at = $1 WHERE username_key = $2 RETURNING id";
pub(crate) const DISABLED_USERS: &str = "SELECT id FROM users WHERE disabled_at IS NOT NULL";

// ---- conversations and members ----

pub(crate) const DIRECT_BY_KEY: &str = "SELECT id FROM conversations WHERE direct_key = $1";
/// Two requests may create the same pair's conversation at once: one insert
/// wins, the other returns no row. (SQLite's committer, row by row;
/// PostgreSQL's creates a batch's in one statement, `postgres_directs`.)
pub(crate) const CREATE_DIRECT: &str =
    "INSERT INTO conversations (kind, direct_key, created_at) VALUES ('direct', $1, $2)
     ON CONFLICT (direct_key) DO NOTHING RETURNING id";
pub(crate) const CREATE_GROUP: &str =
    "INSERT INTO conversations (kind, name, description, avatar_url, full_history, created_by, created_at)
     VALUES ('group', $1, $2, $3, $4, $5, $6) RETURNING id";
/// A new member's watermarks start where they joined (`$5`).
pub(crate) const INSERT_MEMBER: &str =
    "INSERT INTO members (conversation_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
     VALUES ($1, $2, $3, $4, $5, $5, $5)";
/// The creator wrote the group's first note; it is read for them.
pub(crate) const CREATOR_READ_NOTE: &str =
    "UPDATE members SET delivered_seq = 1, read_seq = 1 WHERE conversation_id = $1 AND user_id = $2";
pub(crate) const CONVERSATION: &str = "SELECT * FROM conversations WHERE id = $1";
/// The conversation about to be changed in this transaction: the dialect
/// says whether the row must be locked.
macro_rules! conversation_to_change {
    ($lock:literal) => {
        concat!("SELECT * FROM conversations WHERE id = $1", $lock)
    };
}
pub(crate) const MEMBERS: &str = concat!(
    "SELECT ",
    member_cols!(),
    " FROM members m JOIN users u ON u.id = m.user_id
      WHERE m.conversation_id = $1 ORDER BY m.joined_at, m.user_id"
);
/// A page of the user's (`$1`) conversations: those after the place `$2`
/// (activity time), `$3` (id) in the order "most recent activity first,
/// highest id first among equal times", at most `$4`, each with its unread
/// count and last message. The page is chosen first, so the counts and last
/// messages are read for its rows only.
pub(crate) const CONVERSATION_PAGE: &str = "SELECT c.*,
        (SELECT COUNT(*) FROM messages x
          WHERE x.conversation_id = c.id AND x.seq > p.read_seq
            AND x.sender_id != $1 AND x.kind = 'text' AND x.deleted_at IS NULL) AS unread,
        lm.id AS lm_id, lm.seq AS lm_seq, lm.sender_id AS lm_sender_id,
        lm.client_msg_id AS lm_client_msg_id, lm.kind AS lm_kind, lm.body AS lm_body,
        lm.meta AS lm_meta, lm.created_at AS lm_created_at, lm.attachments AS lm_attachments,
        lm.reply_to AS lm_reply_to, lm.edited_at AS lm_edited_at, lm.deleted_at AS lm_deleted_at
   FROM (SELECT m.conversation_id, m.read_seq, COALESCE(k.last_message_at, k.created_at) AS activity
           FROM members m JOIN conversations k ON k.id = m.conversation_id
          WHERE m.user_id = $1 AND (COALESCE(k.last_message_at, k.created_at), k.id) < ($2, $3)
          ORDER BY activity DESC, k.id DESC LIMIT $4) p
   JOIN conversations c ON c.id = p.conversation_id
   LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq
  ORDER BY p.activity DESC, c.id DESC";
/// Conversations of a list of ids (those a fetched page touches).
macro_rules! conversations_by_ids {
    ($in_list:literal) => {
        concat!("SELECT * FROM conversations WHERE id ", $in_list)
    };
}
/// The members of the conversations in the list `$1`: the list membership
/// is the dialect's.
macro_rules! members_of_conversations {
    ($in_list:literal) => {
        concat!(
            "SELECT ",
            $crate::store::sql::member_cols!(),
            " FROM members m JOIN users u ON u.id = m.user_id
              WHERE m.conversation_id ",
            $in_list,
            " ORDER BY m.conversation_id, m.joined_at, m.user_id"
        )
    };
}
/// Who hears of `$1`'s presence: those sharing a conversation with them,
/// unless either blocks the other.
pub(crate) const PEERS_OF: &str = "SELECT DISTINCT b.user_id FROM members a
   JOIN members b ON b.conversation_id = a.conversation_id
  WHERE a.user_id = $1 AND b.user_id != a.user_id
    AND NOT EXISTS (SELECT 1 FROM blocks k
                     WHERE (k.blocker_id = $1 AND k.blocked_id = b.user_id)
                        OR (k.blocker_id = b.user_id AND k.blocked_id = $1))";
pub(crate) const DELETE_MEMBER: &str = "DELETE FROM members WHERE conversation_id = $1 AND user_id = $2";
pub(crate) const MAKE_OWNER: &str =
    "UPDATE members SET role = 'owner' WHERE conversation_id = $1 AND user_id = $2";
/// Handing ownership over: every other owner becomes an admin.
pub(crate) const DEMOTE_OTHER_OWNERS: &str =
    "UPDATE members SET role = 'admin' WHERE conversation_id = $1 AND role = 'owner' AND user_id != $2";
pub(crate) const SET_ROLE: &str = "UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3";
/// `$2`/`$4`: whether description/avatar change (to `$3`/`$5`, maybe NULL).
pub(crate) const UPDATE_GROUP: &str = "UPDATE conversations SET
     name = COALESCE($1, name),
     description = CASE WHEN $2 THEN $3 ELSE description END,
     avatar_url = CASE WHEN $4 THEN $5 ELSE avatar_url END,
     full_history = COALESCE($6, full_history)
  WHERE id = $7";
/// Deleting a conversation, in this order.
pub(crate) const DELETE_CONVERSATION: [&str; 3] = [
    "DELETE FROM messages WHERE conversation_id = $1",
    "DELETE FROM members WHERE conversation_id = $1",
    "DELETE FROM conversations WHERE id = $1",
];

// ---- messages and watermarks ----

/// Takes the conversation's next seq (on PostgreSQL this also locks its row
/// until commit).
pub(crate) const NEXT_SEQ: &str =
    "UPDATE conversations SET last_message_at = $1, last_seq = last_seq + 1 WHERE id = $2 RETURNING last_seq";
pub(crate) const INSERT_MESSAGE: &str = concat!(
    "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, kind, body, meta, created_at, attachments,
                           reply_to)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
    message_cols!()
);
pub(crate) const MESSAGE: &str = concat!("SELECT ", message_cols!(), " FROM messages WHERE id = $1");
pub(crate) const BY_CLIENT_ID: &str =
    concat!("SELECT ", message_cols!(), " FROM messages WHERE sender_id = $1 AND client_msg_id = $2");
pub(crate) const HISTORY: &str = concat!(
    "SELECT ",
    message_cols!(),
    " FROM messages WHERE conversation_id = $1 AND id < $2 AND seq > $3 ORDER BY seq DESC LIMIT $4"
);
/// Messages from others above the user's delivered watermark, in one
/// conversation (`$2`) or all (`$2` NULL).
/// SQLite's: it starts from the user's memberships and probes each
/// conversation's (conversation_id, seq) index. PostgreSQL's is
/// `UNDELIVERED_BY_CONVERSATION`.
pub(crate) const UNDELIVERED: &str =
    "SELECT x.id, x.conversation_id, x.seq, x.sender_id, x.client_msg_id, x.kind, x.body,
        x.meta, x.created_at, x.attachments, x.reply_to, x.edited_at, x.deleted_at
   FROM members m
   JOIN messages x ON x.conversation_id = m.conversation_id AND x.seq > m.delivered_seq
  WHERE m.user_id = $1 AND x.sender_id != $1
    AND (CAST($2 AS BIGINT) IS NULL OR m.conversation_id = $2)
  ORDER BY x.id LIMIT $3";
/// `UNDELIVERED` for PostgreSQL: the first `$3` of each conversation (ids
/// grow with seq in a conversation, so the page is among them), then the
/// page. Written as a join ordered by id with a limit, PostgreSQL could walk
/// every message in id order looking for the user's (measured: 65 ms per
/// fetch on a 65,000-message database without statistics yet, 0.8 ms this way).
pub(crate) const UNDELIVERED_BY_CONVERSATION: &str = concat!(
    "WITH mine AS (SELECT conversation_id, user_id, delivered_seq FROM members
                    WHERE user_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR conversation_id = $2))
     SELECT x.* FROM mine m
      CROSS JOIN LATERAL (SELECT ",
    message_cols!(),
    " FROM messages x
          WHERE x.conversation_id = m.conversation_id AND x.seq > m.delivered_seq AND x.sender_id != m.user_id
          ORDER BY x.seq LIMIT $3) x
     ORDER BY x.id LIMIT $3"
);
pub(crate) const MESSAGES_BETWEEN: &str = concat!(
    "SELECT ",
    message_cols!(),
    " FROM messages
      WHERE conversation_id = $1 AND seq > $2 AND seq <= $3 AND sender_id != $4 AND kind = 'text'
      ORDER BY seq DESC LIMIT $5"
);
/// A member's watermarks, about to be moved: the dialect says whether the
/// row must be locked.
macro_rules! watermarks_to_change {
    ($lock:literal) => {
        concat!(
            "SELECT delivered_seq, read_seq FROM members WHERE conversation_id = $1 AND user_id = $2",
            $lock
        )
    };
}
/// Is a message from someone else than `$4` between seqs `$2` and `$3` (exclusive)?
pub(crate) const GAP: &str = "SELECT EXISTS (SELECT 1 FROM messages
     WHERE conversation_id = $1 AND seq > $2 AND seq < $3 AND sender_id != $4) AS gap";
/// Text messages from others above the user's read watermark in every
/// conversation (deleted ones do not count): the push badge, one aggregate
/// over the user's memberships.
pub(crate) const UNREAD_TOTAL: &str = "SELECT COUNT(*) AS n FROM members m
   JOIN messages x ON x.conversation_id = m.conversation_id AND x.seq > m.read_seq
  WHERE m.user_id = $1 AND x.sender_id != $1 AND x.kind = 'text' AND x.deleted_at IS NULL";
pub(crate) const SET_DELIVERED: &str =
    "UPDATE members SET delivered_seq = $1 WHERE conversation_id = $2 AND user_id = $3";
/// Reading implies delivery.
pub(crate) const SET_READ: &str = "UPDATE members
    SET read_seq = $1, delivered_seq = CASE WHEN delivered_seq > $1 THEN delivered_seq ELSE $1 END
  WHERE conversation_id = $2 AND user_id = $3";

// ---- push devices, mutes and the outbox ----

/// The same endpoint or token registered again (by anyone) moves to this user.
pub(crate) const UPSERT_SUBSCRIPTION: &str =
    "INSERT INTO push_subscriptions (user_id, kind, address, p256dh, auth, environment, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (kind, address) DO UPDATE
        SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
            environment = excluded.environment, created_at = excluded.created_at
     RETURNING id, user_id, kind, address, p256dh, auth, environment, created_at";
/// Keeps the user's `$3` most recently registered devices besides `$2` (the
/// one just registered, which stays whatever its clock said); their waiting
/// push jobs go with the others (`ON DELETE CASCADE`).
pub(crate) const TRIM_SUBSCRIPTIONS: &str = "DELETE FROM push_subscriptions
  WHERE user_id = $1 AND id != $2
    AND id NOT IN (SELECT id FROM push_subscriptions WHERE user_id = $1 AND id != $2
                    ORDER BY created_at DESC, id DESC LIMIT $3)";
pub(crate) const SUBSCRIPTIONS_OF: &str =
    concat!("SELECT ", subscription_cols!(), " FROM push_subscriptions s WHERE s.user_id = $1 ORDER BY s.id");
/// `$2` NULL: whoever's it is.
pub(crate) const DELETE_SUBSCRIPTION: &str =
    "DELETE FROM push_subscriptions WHERE id = $1 AND (CAST($2 AS BIGINT) IS NULL OR user_id = $2)";
/// Conversation 0 stands for "every conversation".
pub(crate) const SET_MUTE: &str =
    "INSERT INTO push_mutes (user_id, conversation_id, until) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, conversation_id) DO UPDATE SET until = excluded.until";
pub(crate) const DELETE_MUTE: &str = "DELETE FROM push_mutes WHERE user_id = $1 AND conversation_id = $2";
pub(crate) const MUTES_OF: &str =
    "SELECT conversation_id, until FROM push_mutes WHERE user_id = $1 ORDER BY conversation_id";
/// One push job per device of each user in `$4` not muting the
/// conversation; a job already waiting for that device and conversation
/// takes the newer message instead (a burst collapses into one push). The
/// list membership is the dialect's.
macro_rules! enqueue_pushes {
    ($in_list:literal) => {
        concat!(
            "INSERT INTO push_jobs (subscription_id, user_id, conversation_id, message_id, due_at)
             SELECT s.id, s.user_id, $1, $2, $3 FROM push_subscriptions s
              WHERE s.user_id ",
            $in_list,
            " AND NOT EXISTS (SELECT 1 FROM push_mutes x
                                WHERE x.user_id = s.user_id AND x.conversation_id IN (0, $1)
                                  AND (x.until IS NULL OR x.until > $5))
             ON CONFLICT (subscription_id, conversation_id) DO UPDATE
                SET message_id = excluded.message_id, pending = push_jobs.pending + 1,
                    version = push_jobs.version + 1"
        )
    };
}
/// Marks up to `$4` due, unclaimed jobs with claim `$2` until `$1`; the
/// dialect says how jobs other nodes are claiming are skipped.
macro_rules! claim_push_jobs {
    ($skip_locked:literal) => {
        concat!(
            "UPDATE push_jobs SET claimed_until = $1, claim = $2
              WHERE id IN (SELECT id FROM push_jobs WHERE due_at <= $3 AND claimed_until <= $3
                            ORDER BY due_at LIMIT $4",
            $skip_locked,
            ")"
        )
    };
}
pub(crate) const CLAIMED_JOBS: &str = concat!(
    "SELECT j.id AS job_id, j.conversation_id, j.message_id, j.pending, j.version, j.attempts, ",
    subscription_cols!(),
    " FROM push_jobs j JOIN push_subscriptions s ON s.id = j.subscription_id WHERE j.claim = $1"
);
/// Deletes the job unless a newer message collapsed into it (version changed).
pub(crate) const DELETE_JOB_AT_VERSION: &str = "DELETE FROM push_jobs WHERE id = $1 AND version = $2";
/// The job got newer messages while it was sent: due again at `$1`, for
/// the `$2` messages the sent push did not cover (at least one).
pub(crate) const REQUEUE_JOB: &str =
    "UPDATE push_jobs SET claimed_until = 0, claim = 0, attempts = 0, due_at = $1,
        pending = CASE WHEN pending - $2 > 1 THEN pending - $2 ELSE 1 END WHERE id = $3";
pub(crate) const RETRY_JOB: &str =
    "UPDATE push_jobs SET claimed_until = 0, claim = 0, attempts = attempts + 1, due_at = $1 WHERE id = $2";
pub(crate) const RELEASE_JOB: &str = "UPDATE push_jobs SET claimed_until = 0, claim = 0 WHERE id = $1";
pub(crate) const COUNT_JOBS: &str = "SELECT COUNT(*) AS n FROM push_jobs";

// ---- media ----

pub(crate) const INSERT_MEDIA: &str =
    "INSERT INTO media (id, owner_id, backend, kind, mime, size, name, width, height, sha256,
                        thumb_sha256, remote, created_at, attached_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
pub(crate) const MEDIA: &str = "SELECT * FROM media WHERE id = $1";
pub(crate) const MEDIA_VISIBLE: &str = "SELECT (EXISTS (SELECT 1 FROM media WHERE id = $1 AND owner_id = $2)
     OR EXISTS (SELECT 1 FROM media_links l
                  JOIN members m ON m.conversation_id = l.conversation_id AND m.user_id = $2
                 WHERE l.media_id = $1)) AS visible";
pub(crate) const UNATTACHED_MEDIA: &str =
    "SELECT * FROM media WHERE attached_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2";
pub(crate) const DELETE_MEDIA_LINKS: &str = "DELETE FROM media_links WHERE media_id = $1";
pub(crate) const DELETE_MEDIA: &str = "DELETE FROM media WHERE id = $1";
pub(crate) const FILES_IN_USE: &str =
    "SELECT COUNT(*) AS n FROM media WHERE sha256 = $1 OR thumb_sha256 = $1";
/// Each distinct content counted once; thumbnails not counted.
pub(crate) const MEDIA_BYTES_OF: &str = "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n FROM
   (SELECT MAX(size) AS size FROM media WHERE owner_id = $1 AND backend = 'local' GROUP BY sha256) t";
/// Members of the conversation may now fetch the medium; it is no orphan.
pub(crate) const LINK_MEDIA: &str = "INSERT INTO media_links (media_id, conversation_id, message_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
pub(crate) const MEDIA_ATTACHED: &str =
    "UPDATE media SET attached_at = COALESCE(attached_at, $1) WHERE id = $2";
pub(crate) const INSERT_SECRET: &str =
    "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING";
pub(crate) const SECRET: &str = "SELECT value FROM secrets WHERE name = $1";

pub(crate) use super::messaging_sql::*;
pub(crate) use watermarks_to_change;
pub(crate) use {
    claim_push_jobs, conversation_to_change, conversations_by_ids, enqueue_pushes, existing_users,
    members_of_conversations, search_users,
};

/// Readiness probe: the database answers.
pub const PING: &str = "SELECT 1";

// ---- account deletion and export (`account_store`) ----

/// Push devices; their waiting jobs go with them (`ON DELETE CASCADE`).
pub(crate) const ERASE_SUBSCRIPTIONS: &str = "DELETE FROM push_subscriptions WHERE user_id = $1";
pub(crate) const ERASE_MUTES: &str = "DELETE FROM push_mutes WHERE user_id = $1";
/// What memberships are left once the groups were left with a note (direct
/// conversations): the user's messages stay, from a sender no longer a member.
pub(crate) const ERASE_MEMBERSHIPS: &str = "DELETE FROM members WHERE user_id = $1";
/// The row stays (messages refer to it) without anything personal: a
/// username no one can register or log in with, no password, disabled.
pub(crate) const ERASE_USER: &str = "UPDATE users SET username = $1, username_key = $1, display_name = $2,
        password_hash = '', disabled_at = COALESCE(disabled_at, $3), last_seen_at = NULL WHERE id = $4";
pub(crate) const MESSAGES_BY_SENDER: &str = concat!(
    "SELECT ",
    message_cols!(),
    " FROM messages WHERE sender_id = $1 AND kind = 'text' AND id > $2 ORDER BY id LIMIT $3"
);
pub(crate) const MEDIA_OF: &str = "SELECT * FROM media WHERE owner_id = $1 ORDER BY created_at, id";
