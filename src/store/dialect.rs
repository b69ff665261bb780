//! Where SQLite and PostgreSQL truly differ, each difference named.
//!
//! Owns: the two [`Dialect`]s, built from the templates in [`super::sql`]
//! with the one piece of text that differs. May not touch: connections.
//! Everything not listed here is the same statement on both backends.
//!
//! Besides these statements the backends differ in three places outside
//! SQL text: how a write transaction begins (`BEGIN IMMEDIATE` on SQLite,
//! see `sqlite`), how a list of ids is bound (JSON text for `json_each`, an
//! array for `ANY`; see `exec::Arg::Ids`), and the group-commit algorithm
//! of each backend's committer.

use super::sql;

/// The statements whose text depends on the database.
pub struct Dialect {
    /// Reads a conversation the transaction is about to change (membership,
    /// roles). PostgreSQL locks its row (`FOR UPDATE`), because many nodes
    /// write at once; SQLite's write transactions are already serialized
    /// (`BEGIN IMMEDIATE` takes the one write lock).
    pub conversation_to_change: &'static str,
    /// Locks a conversation's row where the change reads nothing first
    /// (a role change), for the same reason; SQLite needs no statement.
    pub lock_conversation: Option<&'static str>,
    /// Serializes the changes of one user's push devices (registering one
    /// and trimming the rest to the cap), which would otherwise each count
    /// the others' devices as absent and keep too many. PostgreSQL locks the
    /// user's row — `NO KEY UPDATE`, which does not wait for or block the
    /// key-share locks of rows that reference the user (their messages,
    /// tokens, memberships); SQLite needs no statement.
    pub lock_user_devices: Option<&'static str>,
    /// Reads a member's watermarks before moving one: locked on PostgreSQL.
    pub watermarks_to_change: &'static str,
    /// Claims due push jobs. PostgreSQL skips jobs another node is claiming
    /// at that moment (`FOR UPDATE SKIP LOCKED`) instead of waiting.
    pub claim_push_jobs: &'static str,
    /// Users whose key starts with a prefix. SQLite: a range scan on the
    /// unique index (`$1 <= key < $2`, with `$2` the prefix followed by
    /// U+10FFFF), because `LIKE` would treat `_` in usernames as a wildcard.
    /// PostgreSQL: `starts_with` — its text order follows the collation, so
    /// a byte range would be wrong; it leaves `$2` unused.
    pub search_users: &'static str,
    /// Which of a list of ids exist: `json_each` on SQLite, `ANY` on PostgreSQL.
    pub existing_users: &'static str,
    /// The messages waiting for a user (`MessageStore::undelivered`): the
    /// plan each database needs (see `sql::UNDELIVERED_BY_CONVERSATION`).
    pub undelivered: &'static str,
    /// One user's delivered watermarks in a list of conversations (`$1`
    /// the user, `$2` the list), in conversation order: locked on
    /// PostgreSQL. Filtered on the user, so the plan starts from the user's
    /// index whatever the table's statistics.
    pub fetched_watermarks: &'static str,
    /// Sets one user's (`$3`) delivered watermark in each conversation of
    /// `$1` to the seq at the same place in `$2`: `json_each` joined on the
    /// array position on SQLite, `UNNEST` on PostgreSQL.
    pub fetched_move: &'static str,
    /// A list of conversations (those of a fetched page): the same list
    /// membership difference.
    pub conversations_by_ids: &'static str,
    /// The members of a list of conversations (a page of the conversation
    /// list): the same list membership difference.
    pub members_of_conversations: &'static str,
    /// The reactions of a list of messages (a history page): the same list
    /// membership difference.
    pub reactions_of_messages: &'static str,
    /// The messages of a list of ids (the quotes of a page's replies): the
    /// same list membership difference.
    pub messages_by_ids: &'static str,
    /// Message search. SQLite: the FTS5 table `messages_fts` (unicode61,
    /// diacritics removed). PostgreSQL: the generated `search` tsvector
    /// (`simple` configuration over `confab_fold`), the query folded too.
    pub search_messages: &'static str,
    /// The search's `$2` from its words, in the dialect's query syntax; the
    /// last word matches as a prefix.
    pub search_terms: fn(&[String]) -> String,
}

/// FTS5: each word a quoted string (the words hold letters and digits
/// only), the last a prefix; juxtaposed words must all match.
fn fts5_terms(words: &[String]) -> String {
    let n = words.len();
    let quoted: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| if i + 1 == n { format!("\"{w}\"*") } else { format!("\"{w}\"") })
        .collect();
    quoted.join(" ")
}

/// tsquery: words joined by `&`, the last a prefix (`:*`).
fn tsquery_terms(words: &[String]) -> String {
    let n = words.len();
    let parts: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| if i + 1 == n { format!("{w}:*") } else { w.clone() })
        .collect();
    parts.join(" & ")
}

/// SQLite (the embedded default).
pub(crate) const SQLITE: Dialect = Dialect {
    conversation_to_change: sql::conversation_to_change!(""),
    lock_conversation: None,
    lock_user_devices: None,
    watermarks_to_change: sql::watermarks_to_change!(""),
    claim_push_jobs: sql::claim_push_jobs!(""),
    search_users: sql::search_users!("username_key >= $1 AND username_key < $2"),
    existing_users: sql::existing_users!("IN (SELECT value FROM json_each($1))"),
    undelivered: sql::UNDELIVERED,
    fetched_watermarks: "SELECT conversation_id, delivered_seq FROM members
  WHERE user_id = $1 AND conversation_id IN (SELECT value FROM json_each($2)) ORDER BY conversation_id",
    fetched_move: "UPDATE members SET delivered_seq = v.s
   FROM (SELECT c.value AS c, s.value AS s FROM json_each($1) c JOIN json_each($2) s ON s.key = c.key) AS v
  WHERE members.user_id = $3 AND members.conversation_id = v.c",
    conversations_by_ids: sql::conversations_by_ids!("IN (SELECT value FROM json_each($1))"),
    members_of_conversations: sql::members_of_conversations!("IN (SELECT value FROM json_each($1))"),
    reactions_of_messages: sql::reactions_of_messages!("IN (SELECT value FROM json_each($1))"),
    messages_by_ids: sql::messages_by_ids!("IN (SELECT value FROM json_each($1))"),
    search_messages: sql::search_messages!(
        "m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH $2)"
    ),
    search_terms: fts5_terms,
};

/// A message's push jobs (`sql::enqueue_pushes!`), as SQLite's committer
/// writes them: a message at a time, its users a JSON list. PostgreSQL's
/// committer writes a whole batch's in one statement (`postgres_batch`).
pub(crate) const SQLITE_ENQUEUE_PUSHES: &str = sql::enqueue_pushes!("IN (SELECT value FROM json_each($4))");

/// PostgreSQL (cluster mode).
pub(crate) const POSTGRES: Dialect = Dialect {
    conversation_to_change: sql::conversation_to_change!(" FOR UPDATE"),
    lock_conversation: Some("SELECT id FROM conversations WHERE id = $1 FOR UPDATE"),
    lock_user_devices: Some("SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE"),
    watermarks_to_change: sql::watermarks_to_change!(" FOR UPDATE"),
    claim_push_jobs: sql::claim_push_jobs!(" FOR UPDATE SKIP LOCKED"),
    search_users: sql::search_users!("starts_with(username_key, $1)"),
    existing_users: sql::existing_users!("= ANY($1)"),
    undelivered: sql::UNDELIVERED_BY_CONVERSATION,
    fetched_watermarks: "SELECT conversation_id, delivered_seq FROM members
  WHERE user_id = $1 AND conversation_id = ANY($2) ORDER BY conversation_id FOR UPDATE",
    fetched_move: "UPDATE members m SET delivered_seq = v.s
   FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS v(c, s)
  WHERE m.user_id = $3 AND m.conversation_id = v.c",
    conversations_by_ids: sql::conversations_by_ids!("= ANY($1)"),
    members_of_conversations: sql::members_of_conversations!("= ANY($1)"),
    reactions_of_messages: sql::reactions_of_messages!("= ANY($1)"),
    messages_by_ids: sql::messages_by_ids!("= ANY($1)"),
    search_messages: sql::search_messages!("m.search @@ to_tsquery('simple', confab_fold($2))"),
    search_terms: tsquery_terms,
};

#[cfg(test)]
mod tests {
    use super::super::sql::*;
    use super::{POSTGRES, SQLITE, SQLITE_ENQUEUE_PUSHES};

    /// The `$n` placeholders of a statement in order of first appearance.
    fn placeholders(sql: &str) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut rest = sql;
        while let Some(i) = rest.find('$') {
            let digits: String = rest[i + 1..].chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse::<usize>() {
                if !seen.contains(&n) {
                    seen.push(n);
                }
            }
            rest = &rest[i + 1..];
        }
        seen
    }

    /// rusqlite binds by position, and SQLite numbers `$n` by first
    /// appearance: a statement that names `$2` before `$1` would bind the
    /// wrong values there. sqlx binds by number; PostgreSQL allows an unused
    /// number (`search_users` leaves out `$2`).
    #[test]
    fn placeholders_appear_in_order() {
        let mut all = vec![
            CREATE_USER,
            USER,
            CREDENTIALS,
            SET_LAST_SEEN,
            INSERT_TOKEN,
            TOKEN,
            REVOKE_TOKEN,
            REVOKE_USER_TOKENS,
            SET_DISABLED,
            DIRECT_BY_KEY,
            CREATE_DIRECT,
            CREATE_GROUP,
            INSERT_MEMBER,
            CREATOR_READ_NOTE,
            CONVERSATION,
            MEMBERS,
            CONVERSATION_PAGE,
            PEERS_OF,
            DELETE_MEMBER,
            MAKE_OWNER,
            DEMOTE_OTHER_OWNERS,
            SET_ROLE,
            UPDATE_GROUP,
            NEXT_SEQ,
            INSERT_MESSAGE,
            MESSAGE,
            BY_CLIENT_ID,
            HISTORY,
            UNDELIVERED,
            MESSAGES_BETWEEN,
            GAP,
            UNREAD_TOTAL,
            SET_DELIVERED,
            SET_READ,
            UPSERT_SUBSCRIPTION,
            TRIM_SUBSCRIPTIONS,
            SUBSCRIPTIONS_OF,
            DELETE_SUBSCRIPTION,
            SET_MUTE,
            DELETE_MUTE,
            MUTES_OF,
            CLAIMED_JOBS,
            DELETE_JOB_AT_VERSION,
            REQUEUE_JOB,
            RETRY_JOB,
            RELEASE_JOB,
            INSERT_MEDIA,
            MEDIA,
            MEDIA_VISIBLE,
            UNATTACHED_MEDIA,
            DELETE_MEDIA_LINKS,
            DELETE_MEDIA,
            FILES_IN_USE,
            MEDIA_BYTES_OF,
            LINK_MEDIA,
            MEDIA_ATTACHED,
            INSERT_SECRET,
            SECRET,
            EDIT_MESSAGE,
            TOMBSTONE,
            UNLINK_MESSAGE_MEDIA,
            DELETE_MESSAGE_REACTIONS,
            DROP_MESSAGE_PUSHES,
            UNCOUNT_MESSAGE_PUSHES,
            UNLINK_SENDER_MEDIA,
            DELETE_SENDER_REACTIONS,
            DROP_SENDER_PUSHES,
            TOMBSTONE_SENDER,
            ADD_REACTION,
            REMOVE_REACTION,
            REACTIONS,
            BLOCK,
            UNBLOCK,
            BLOCKED_BY,
            BLOCKS_INVOLVING,
            BLOCKED_EITHER_WAY,
        ];
        all.extend(DELETE_CONVERSATION);
        for d in [&SQLITE, &POSTGRES] {
            all.extend([
                d.conversation_to_change,
                d.watermarks_to_change,
                d.existing_users,
                d.undelivered,
                d.fetched_watermarks,
                d.fetched_move,
                d.conversations_by_ids,
                d.members_of_conversations,
                d.claim_push_jobs,
                d.reactions_of_messages,
                d.messages_by_ids,
                d.search_messages,
            ]);
        }
        all.push(SQLITE_ENQUEUE_PUSHES);
        all.push(SQLITE.search_users);
        all.extend(POSTGRES.lock_conversation);
        all.extend(POSTGRES.lock_user_devices);
        for sql in all {
            let p = placeholders(sql);
            assert_eq!(p, (1..=p.len()).collect::<Vec<_>>(), "{sql}");
        }
        assert_eq!(placeholders(POSTGRES.search_users), [1, 3]);
    }

    #[test]
    fn search_terms_prefix_the_last_word() {
        let words = ["cafe".to_string(), "re".to_string()];
        assert_eq!((SQLITE.search_terms)(&words), "\"cafe\" \"re\"*");
        assert_eq!((POSTGRES.search_terms)(&words), "cafe & re:*");
    }
}
