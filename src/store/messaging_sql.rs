//! The statements of edits, deletions, replies, reactions, message search
//! and blocking: part of [`super::sql`] (re-exported there), kept in their
//! own file so that `sql.rs` stays readable. Same rules: written once for
//! both databases, `$n` placeholders in order of first appearance, the few
//! dialect differences as templates instantiated in [`super::dialect`].
//!
//! Owns: these statements' text. May not touch: connections.

use super::sql::{message_cols, user_cols};

// ---- edits and deletions ----

/// Only a live text message can be edited.
pub(crate) const EDIT_MESSAGE: &str = concat!(
    "UPDATE messages SET body = $1, edited_at = $2
      WHERE id = $3 AND kind = 'text' AND deleted_at IS NULL RETURNING ",
    message_cols!()
);
/// Turns a message into a tombstone: its id and seq stay, its text and
/// attachments go. No row if it was already one.
pub(crate) const TOMBSTONE: &str = concat!(
    "UPDATE messages SET body = '', attachments = NULL, deleted_at = $1
      WHERE id = $2 AND deleted_at IS NULL RETURNING ",
    message_cols!()
);
/// What goes with a deleted message: its media links (members may no
/// longer fetch the media through it) and its reactions.
pub(crate) const UNLINK_MESSAGE_MEDIA: &str = "DELETE FROM media_links WHERE message_id = $1";
pub(crate) const DELETE_MESSAGE_REACTIONS: &str = "DELETE FROM reactions WHERE message_id = $1";
/// A waiting push for a deleted message is not sent: a job that is only
/// about it is dropped…
pub(crate) const DROP_MESSAGE_PUSHES: &str = "DELETE FROM push_jobs WHERE message_id = $1 AND pending <= 1";
/// …and a job it collapsed into with others counts one message fewer (the
/// worker shows no preview of a deleted message).
pub(crate) const UNCOUNT_MESSAGE_PUSHES: &str =
    "UPDATE push_jobs SET pending = pending - 1, version = version + 1 WHERE message_id = $1 AND pending > 1";
/// The same for every live message of a sender (`$1`), in this order
/// before [`TOMBSTONE_SENDER`].
pub(crate) const UNLINK_SENDER_MEDIA: &str = "DELETE FROM media_links WHERE message_id IN
   (SELECT id FROM messages WHERE sender_id = $1 AND kind = 'text' AND deleted_at IS NULL)";
pub(crate) const DELETE_SENDER_REACTIONS: &str = "DELETE FROM reactions WHERE message_id IN
   (SELECT id FROM messages WHERE sender_id = $1 AND kind = 'text' AND deleted_at IS NULL)";
pub(crate) const DROP_SENDER_PUSHES: &str = "DELETE FROM push_jobs WHERE message_id IN
   (SELECT id FROM messages WHERE sender_id = $1 AND kind = 'text' AND deleted_at IS NULL)";
pub(crate) const TOMBSTONE_SENDER: &str = "UPDATE messages SET body = '', attachments = NULL, deleted_at = $1
      WHERE sender_id = $2 AND kind = 'text' AND deleted_at IS NULL RETURNING id, conversation_id";

// ---- reactions ----

/// Reacting twice with the same emoji changes nothing.
pub(crate) const ADD_REACTION: &str = "INSERT INTO reactions (message_id, user_id, emoji, created_at)
     VALUES ($1, $2, $3, $4) ON CONFLICT (message_id, emoji, user_id) DO NOTHING";
pub(crate) const REMOVE_REACTION: &str =
    "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3";
/// In the order they were made: groups come out ordered by first use.
pub(crate) const REACTIONS: &str =
    "SELECT message_id, emoji, user_id FROM reactions WHERE message_id = $1 ORDER BY id";
/// The reactions of a page of messages (the list `$1`) in one statement.
macro_rules! reactions_of_messages {
    ($in_list:literal) => {
        concat!(
            "SELECT message_id, emoji, user_id FROM reactions WHERE message_id ",
            $in_list,
            " ORDER BY id"
        )
    };
}
/// The messages with the ids in `$1` (the quotes of a page's replies).
macro_rules! messages_by_ids {
    ($in_list:literal) => {
        concat!("SELECT ", $crate::store::sql::message_cols!(), " FROM messages WHERE id ", $in_list)
    };
}

// ---- search ----

/// The caller's (`$1`) live text messages matching `$2`, newest first: only
/// in conversations they are a member of, only what their history
/// visibility shows (a group without full history: after they joined), in
/// conversation `$3` if given, older than message `$4`, at most `$5`. The
/// match condition is the dialect's (FTS5 on SQLite, a tsvector on PostgreSQL).
macro_rules! search_messages {
    ($matches:literal) => {
        concat!(
            "SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.client_msg_id, m.kind, m.body, m.meta,
                    m.created_at, m.attachments, m.reply_to, m.edited_at, m.deleted_at
               FROM messages m
               JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = $1
               JOIN conversations c ON c.id = m.conversation_id
              WHERE ",
            $matches,
            " AND m.kind = 'text' AND m.deleted_at IS NULL
                AND (CAST($3 AS BIGINT) IS NULL OR m.conversation_id = $3)
                AND m.id < $4
                AND m.seq > CASE WHEN c.kind = 'group' AND NOT c.full_history THEN mb.joined_seq ELSE 0 END
              ORDER BY m.id DESC LIMIT $5"
        )
    };
}

// ---- blocking ----

pub(crate) const BLOCK: &str = "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3)
     ON CONFLICT (blocker_id, blocked_id) DO NOTHING";
pub(crate) const UNBLOCK: &str = "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2";
pub(crate) const BLOCKED_BY: &str = concat!(
    "SELECT ",
    user_cols!(),
    " FROM users WHERE id IN (SELECT blocked_id FROM blocks WHERE blocker_id = $1) ORDER BY username_key"
);
/// Every block `$1` is part of, either way.
pub(crate) const BLOCKS_INVOLVING: &str =
    "SELECT blocker_id, blocked_id FROM blocks WHERE blocker_id = $1 OR blocked_id = $1";
/// Does either of `$1`, `$2` block the other?
pub(crate) const BLOCKED_EITHER_WAY: &str = "SELECT EXISTS (SELECT 1 FROM blocks
     WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)) AS blocked";

pub(crate) use {messages_by_ids, reactions_of_messages, search_messages};
