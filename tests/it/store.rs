//! The storage contract, run against both backends (SQLite and PostgreSQL):
//! the proof that the one implementation behaves the same on either. Each
//! test gets its own fresh database (PostgreSQL: its own schema).

use confab::domain::*;
use confab::store::postgres::PostgresStore;
use confab::store::sqlite::SqliteStore;
use confab::store::*;
use std::sync::Arc;

struct Db {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    cleanup: Option<(sqlx::PgPool, String)>,
}

async fn sqlite() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("t.db"), confab::config::SqliteSynchronous::Normal)
        .await
        .expect("open");
    Db { store: Arc::new(store), _dir: dir, cleanup: None }
}

/// A fresh schema in the test PostgreSQL database (`TEST_DATABASE_URL`,
/// default the local server's `test` database), dropped when the test ends.
/// An unreachable server fails the test: it is never skipped.
async fn postgres() -> Db {
    let url = common_pg_url();
    let admin = sqlx::PgPool::connect(&url).await.expect("PostgreSQL reachable (TEST_DATABASE_URL)");
    let schema = format!("t_{}", rand_suffix());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("schema");
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("url");
    let options = options.options([("search_path", schema.as_str())]);
    let store = PostgresStore::open_with(options, 4).await.expect("open");
    Db { store: Arc::new(store), _dir: tempfile::tempdir().expect("tempdir"), cleanup: Some((admin, schema)) }
}

fn common_pg_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}_{}", std::process::id(), nanos % 1_000_000_000_000)
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, schema)) = self.cleanup.take() {
            // Best effort: a schema left behind holds only test rows.
            let handle = tokio::runtime::Handle::current();
            let store = self.store.clone();
            handle.spawn(async move {
                store.close().await;
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&admin)
                    .await;
            });
        }
    }
}

/// Runs one suite function against each backend.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $( #[tokio::test] async fn $name() { super::$name(&*super::sqlite().await.store).await; } )*
        }
        mod postgres_backend {
            $( #[tokio::test] async fn $name() { super::$name(&*super::postgres().await.store).await; } )*
        }
    };
}

suite!(
    users_are_unique_by_key,
    tokens_round_trip_and_revoke_once,
    direct_conversation_is_found_or_created_once,
    append_assigns_seq_and_is_idempotent,
    watermarks_only_rise_and_respect_gaps,
    undelivered_history_and_summaries,
    groups_membership_roles_and_notes,
    live_receipts_in_one_batch,
    push_outbox_collapses_claims_once_and_respects_mutes,
    push_devices_are_capped_per_user,
    conversation_list_pages_with_ties_in_activity,
    media_is_visible_to_its_owner_and_the_conversations_it_was_sent_in,
);

/// Runs suite functions that share the store between tasks (`Arc<dyn Store>`)
/// against each backend, as `NAME_sqlite` and `NAME_postgres`.
macro_rules! shared_suite {
    ($($name:ident),* $(,)?) => {
        mod shared_sqlite {
            $( #[tokio::test] async fn $name() { super::$name(super::sqlite().await.store.clone()).await; } )*
        }
        mod shared_postgres {
            $( #[tokio::test] async fn $name() { super::$name(super::postgres().await.store.clone()).await; } )*
        }
    };
}

shared_suite!(
    concurrent_appends,
    a_refused_row_fails_only_its_own_append,
    direct_conversations_created_concurrently_with_appends,
    a_burst_written_in_batches_collapses_into_one_push_job_per_device
);

/// Many messages to an offline user at once, so the committer writes them
/// in batches of several (on PostgreSQL one statement enqueues a batch's
/// pushes, and must count the same device and conversation once): each
/// device ends with one job that counts every message and names the newest.
/// (A batch statement that did not count first would still end here — its
/// batches are refused and then written message by message — so this checks
/// the outcome; the batching shows in the benchmark.)
async fn a_burst_written_in_batches_collapses_into_one_push_job_per_device(s: Arc<dyn Store>) {
    let (a, b) = (user(&*s, "ba").await, user(&*s, "bb").await);
    let conv = s.direct_conversation(a, b, 1).await.expect("conversation");
    for address in ["bd1", "bd2"] {
        s.upsert_subscription(&fcm_device(b, address), 20).await.expect("device");
    }
    const BURST: i64 = 60;
    let to_b: &'static [UserId] = Box::leak(Box::new([b]));
    let tasks: Vec<_> = (0..BURST)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let m = NewMessage {
                    conversation_id: conv,
                    sender_id: a,
                    client_msg_id: None,
                    body: "burst",
                    created_at: 10 + i,
                    attachments: &[],
                    reply_to: None,
                    push_to: to_b,
                    push_at: 100 + i,
                };
                s.append_message(m).await.expect("appended").message.id
            })
        })
        .collect();
    let mut newest = MessageId(0);
    for t in tasks {
        newest = newest.max(t.await.expect("task"));
    }
    assert_eq!(s.pending_push_jobs().await.expect("count"), 2, "one job per device");
    let jobs = s.claim_push_jobs(1_000, 2_000, 10).await.expect("claim");
    assert_eq!(jobs.len(), 2);
    for j in &jobs {
        assert_eq!((j.pending, j.message_id), (BURST, newest), "every message counted, the newest named");
    }
}

/// Many pairs' first messages at once (on SQLite the conversations are
/// created in the committer's batches, among appends): each pair gets one
/// conversation whoever asks first, its first message lands in it, and a
/// pair with a user that does not exist is refused without failing the
/// others.
async fn direct_conversations_created_concurrently_with_appends(s: Arc<dyn Store>) {
    let mut people = Vec::new();
    for i in 0..24 {
        people.push(user(&*s, &format!("dc{i}")).await);
    }
    let ghost = UserId(9_999_999);
    let mut tasks = Vec::new();
    for round in 0..3 {
        for p in 0..12 {
            let (a, b) = (people[2 * p], people[2 * p + 1]);
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                // Alternate who asks, as both sides of a pair may write first.
                let (x, y) = if round % 2 == 0 { (a, b) } else { (b, a) };
                let c = s.direct_conversation(x, y, 1).await.expect("created");
                let client = ClientMsgId::from_stored(format!("first-{p}-{round}"));
                let m = NewMessage {
                    conversation_id: c,
                    sender_id: x,
                    client_msg_id: Some(&client),
                    body: "hi",
                    created_at: 1,
                    attachments: &[],
                    push_to: &[],
                    push_at: 0,
                    reply_to: None,
                };
                let appended = s.append_message(m).await.expect("appended");
                (p, c, appended.message.conversation_id)
            }));
        }
        let s = s.clone();
        let a = people[0];
        tasks.push(tokio::spawn(async move {
            assert!(s.direct_conversation(a, ghost, 1).await.is_err(), "a user that does not exist");
            (usize::MAX, ConversationId(0), ConversationId(0))
        }));
    }
    let mut by_pair: std::collections::HashMap<usize, ConversationId> = Default::default();
    for t in tasks {
        let (p, c, stored_in) = t.await.expect("task");
        if p == usize::MAX {
            continue;
        }
        assert_eq!(c, stored_in, "the message is stored in the conversation it was sent to");
        assert_eq!(*by_pair.entry(p).or_insert(c), c, "pair {p} has one conversation");
    }
    let ids: std::collections::HashSet<_> = by_pair.values().collect();
    assert_eq!(ids.len(), 12, "one conversation per pair");
    for (p, c) in by_pair {
        let conv = s.conversation(c).await.expect("ok").expect("found");
        let mut members: Vec<_> = conv.members.iter().map(|m| m.user_id).collect();
        members.sort();
        assert_eq!(members, vec![people[2 * p], people[2 * p + 1]]);
        assert_eq!(conv.last_seq, 3, "three first messages");
    }
    assert_eq!(s.find_direct(people[0], ghost).await.expect("ok"), None);
}

/// Concurrent appends (batched into group commits on SQLite, row-locked on
/// PostgreSQL) keep seqs gap-free and idempotency exact.
async fn concurrent_appends(s: Arc<dyn Store>) {
    let (a, b) = (user(&*s, "a7").await, user(&*s, "b7").await);
    let c = s.direct_conversation(a, b, 1).await.expect("ok");
    let mut tasks = Vec::new();
    for i in 0..60 {
        let s = s.clone();
        // Every third send repeats an earlier clientMsgId.
        let client = ClientMsgId::from_stored(format!("k{}", if i % 3 == 2 { i - 1 } else { i }));
        tasks.push(tokio::spawn(async move {
            let m = NewMessage {
                conversation_id: c,
                sender_id: a,
                client_msg_id: Some(&client),
                body: "x",
                created_at: 1,
                attachments: &[],
                reply_to: None,
                push_to: &[],
                push_at: 0,
            };
            let appended = s.append_message(m).await.expect("appended");
            (client, appended.message.id.0, appended.message.seq)
        }));
    }
    let mut by_client: std::collections::HashMap<String, i64> = Default::default();
    let mut seqs = Vec::new();
    for t in tasks {
        let (client, id, seq) = t.await.expect("task");
        let first = *by_client.entry(client.as_str().to_string()).or_insert(id);
        assert_eq!(first, id, "the same clientMsgId always yields the same message");
        seqs.push(seq);
    }
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs, (1..=40).collect::<Vec<i64>>(), "40 distinct messages, seqs without gaps");
}

/// A row the database refuses fails only its own append, not the appends
/// committed in the same group commit. PostgreSQL cannot store a NUL
/// character in text; SQLite can (that append may succeed there).
async fn a_refused_row_fails_only_its_own_append(s: Arc<dyn Store>) {
    let (a, b) = (user(&*s, "a8").await, user(&*s, "b8").await);
    let c = s.direct_conversation(a, b, 1).await.expect("ok");
    for round in 0..5 {
        let mut tasks = Vec::new();
        for i in 0..40 {
            let s = s.clone();
            let body = if i == 20 { "bad \u{0} row".to_string() } else { format!("good {round}.{i}") };
            tasks.push(tokio::spawn(async move {
                let m = NewMessage {
                    conversation_id: c,
                    sender_id: a,
                    client_msg_id: None,
                    body: &body,
                    created_at: 1,
                    attachments: &[],
                    reply_to: None,
                    push_to: &[],
                    push_at: 0,
                };
                (body.starts_with("good"), s.append_message(m).await.map(|m| m.message.seq))
            }));
        }
        let mut good = Vec::new();
        for t in tasks {
            if let (true, result) = t.await.expect("task") {
                good.push(result.expect("a good row is stored whatever its batch-mates"));
            }
        }
        assert_eq!(good.len(), 39);
    }
    let last = s.conversation(c).await.expect("ok").expect("exists").last_seq;
    let history = s.history(c, None, 0, 500).await.expect("ok");
    assert_eq!(history.len() as i64, last, "seqs without gaps");
}

async fn user(s: &dyn Store, name: &str) -> UserId {
    s.create_user(NewUser {
        username: name,
        username_key: &name.to_lowercase(),
        display_name: name,
        password_hash: "hash",
        created_at: 1,
    })
    .await
    .expect("user created")
    .id
}

/// Increasing message times, so "most recent" is well defined.
static CLOCK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(10);

async fn send(
    s: &dyn Store,
    c: ConversationId,
    from: UserId,
    body: &str,
    client: Option<&str>,
) -> (i64, bool) {
    let client = client.map(|c| ClientMsgId::from_stored(c.into()));
    let a = s
        .append_message(NewMessage {
            conversation_id: c,
            sender_id: from,
            client_msg_id: client.as_ref(),
            body,
            created_at: CLOCK.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            attachments: &[],
            reply_to: None,
            push_to: &[],
            push_at: 0,
        })
        .await
        .expect("appended");
    (a.message.seq, a.created)
}

async fn users_are_unique_by_key(s: &dyn Store) {
    let id = user(s, "Ana").await;
    let dup = s
        .create_user(NewUser {
            username: "ANA",
            username_key: "ana",
            display_name: "x",
            password_hash: "h",
            created_at: 1,
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict)));
    let c = s.credentials("ana").await.expect("ok").expect("found");
    assert_eq!(
        (c.user.id, c.user.username.as_str(), c.password_hash.as_str(), c.disabled),
        (id, "Ana", "hash", false)
    );
    assert!(s.credentials("nobody").await.expect("ok").is_none());
    s.set_last_seen(id, 99).await.expect("ok");
    assert_eq!(s.user(id).await.expect("ok").expect("found").last_seen_at, Some(99));
    user(s, "an_b").await;
    user(s, "anx").await;
    let found: Vec<_> =
        s.search_users("an_", 10).await.expect("ok").into_iter().map(|u| u.username).collect();
    assert_eq!(found, vec!["an_b"]);
    let all: Vec<_> = s.search_users("an", 2).await.expect("ok").into_iter().map(|u| u.username).collect();
    assert_eq!(all, vec!["an_b", "Ana"], "by key ('_' sorts before letters), at most the limit");
    let mut existing = s.existing_users(&[UserId(987_654), id, UserId(0)]).await.expect("ok");
    existing.sort();
    assert_eq!(existing, vec![id]);
    assert!(s.existing_users(&[]).await.expect("ok").is_empty());
}

async fn tokens_round_trip_and_revoke_once(s: &dyn Store) {
    let u = user(s, "ana").await;
    let id = s.insert_token(u, b"hash-1", 1, 1000).await.expect("ok");
    let t = s.token(b"hash-1").await.expect("ok").expect("found");
    assert_eq!((t.id, t.user_id, t.expires_at, t.revoked), (id, u, 1000, false));
    assert!(s.revoke_token(b"hash-1", 5).await.expect("ok").is_some());
    assert!(s.revoke_token(b"hash-1", 6).await.expect("ok").is_none(), "already revoked");
    assert!(s.token(b"hash-1").await.expect("ok").expect("found").revoked);
    assert!(s.token(b"other").await.expect("ok").is_none());
    // A disabled user's live tokens read as revoked; enabling restores them.
    s.insert_token(u, b"hash-2", 1, 1000).await.expect("ok");
    assert_eq!(s.set_disabled("ana", Some(7)).await.expect("ok"), Some(u));
    assert_eq!(s.set_disabled("nobody", Some(7)).await.expect("ok"), None);
    assert_eq!(s.disabled_users().await.expect("ok"), vec![u]);
    assert!(s.credentials("ana").await.expect("ok").expect("found").disabled);
    assert!(s.token(b"hash-2").await.expect("ok").expect("found").revoked);
    assert_eq!(s.set_disabled("ana", None).await.expect("ok"), Some(u));
    assert!(s.disabled_users().await.expect("ok").is_empty());
    assert!(!s.token(b"hash-2").await.expect("ok").expect("found").revoked);
    // Revoking every live token of a user returns exactly those.
    s.insert_token(u, b"hash-3", 1, 1000).await.expect("ok");
    let mut revoked = s.revoke_user_tokens(u, 9).await.expect("ok");
    revoked.sort_by(|a, b| a.1.cmp(&b.1));
    let hashes: Vec<&[u8]> = revoked.iter().map(|(_, h)| h.as_slice()).collect();
    assert_eq!(hashes, [b"hash-2".as_slice(), b"hash-3".as_slice()]);
    assert!(s.revoke_user_tokens(u, 10).await.expect("ok").is_empty());
}

async fn direct_conversation_is_found_or_created_once(s: &dyn Store) {
    let (a, b, c) = (user(s, "a1").await, user(s, "b1").await, user(s, "c1").await);
    let ab = s.direct_conversation(a, b, 1).await.expect("ok");
    assert_eq!(s.direct_conversation(b, a, 2).await.expect("ok"), ab, "symmetric");
    assert_ne!(s.direct_conversation(a, c, 3).await.expect("ok"), ab);
    let conv = s.conversation(ab).await.expect("ok").expect("found");
    let members: Vec<_> = conv.members.iter().map(|m| m.user_id).collect();
    assert_eq!(members, vec![a, b]);
    let mut peers = s.peers_of(a).await.expect("ok");
    peers.sort();
    assert_eq!(peers, vec![b, c]);
}

async fn append_assigns_seq_and_is_idempotent(s: &dyn Store) {
    let (a, b) = (user(s, "a2").await, user(s, "b2").await);
    let c = s.direct_conversation(a, b, 1).await.expect("ok");
    assert_eq!(send(s, c, a, "one", Some("x")).await, (1, true));
    assert_eq!(send(s, c, a, "one again", Some("x")).await, (1, false), "same clientMsgId");
    assert_eq!(send(s, c, b, "two", Some("x")).await, (2, true), "ids are per sender");
    assert_eq!(send(s, c, a, "three", None).await, (3, true));
    assert_eq!(send(s, c, a, "four", None).await, (4, true));
    assert_eq!(s.conversation(c).await.expect("ok").expect("found").last_seq, 4);
    let hist: Vec<_> = s.history(c, None, 0, 10).await.expect("ok").into_iter().map(|m| m.body).collect();
    assert_eq!(hist, vec!["four", "three", "two", "one"]);
}

async fn watermarks_only_rise_and_respect_gaps(s: &dyn Store) {
    let (a, b) = (user(s, "a3").await, user(s, "b3").await);
    let c = s.direct_conversation(a, b, 1).await.expect("ok");
    for i in 0..3 {
        send(s, c, a, &format!("m{i}"), None).await;
    }
    send(s, c, b, "reply", None).await; // seq 4, b's own
    send(s, c, a, "m4", None).await; // seq 5
    // A live ack of seq 3 cannot skip undelivered seqs 1 and 2.
    assert_eq!(s.advance(c, b, Receipt::Delivered, 3, true).await.expect("ok"), None);
    assert_eq!(
        s.advance(c, b, Receipt::Delivered, 3, false).await.expect("ok"),
        Some(Advanced { old: 0, new: 3 })
    );
    // b's own message at seq 4 is not a gap for b.
    assert_eq!(
        s.advance(c, b, Receipt::Delivered, 5, true).await.expect("ok"),
        Some(Advanced { old: 3, new: 5 })
    );
    assert_eq!(s.advance(c, b, Receipt::Delivered, 2, false).await.expect("ok"), None, "never lowers");
    assert_eq!(
        s.advance(c, b, Receipt::Read, 2, false).await.expect("ok"),
        Some(Advanced { old: 0, new: 2 })
    );
    let stranger = user(s, "z3").await;
    assert_eq!(s.advance(c, stranger, Receipt::Read, 2, false).await.expect("ok"), None);
    let m = s.conversation(c).await.expect("ok").expect("found");
    let bm = m.members.iter().find(|m| m.user_id == b).expect("member");
    assert_eq!((bm.delivered_seq, bm.read_seq), (5, 2));
    let between: Vec<_> =
        s.messages_between(c, 0, 5, b, 10).await.expect("ok").into_iter().map(|m| m.seq).collect();
    assert_eq!(between, vec![5, 3, 2, 1], "newest first, without b's own");
}

async fn undelivered_history_and_summaries(s: &dyn Store) {
    let (a, b, c) = (user(s, "a4").await, user(s, "b4").await, user(s, "c4").await);
    let ab = s.direct_conversation(a, b, 1).await.expect("ok");
    let cb = s.direct_conversation(c, b, 2).await.expect("ok");
    send(s, ab, a, "from a 1", None).await;
    send(s, cb, c, "from c", None).await;
    send(s, ab, a, "from a 2", None).await;
    send(s, ab, b, "b's own", None).await;
    let pending: Vec<_> = s.undelivered(b, None, 10).await.expect("ok").into_iter().map(|m| m.body).collect();
    assert_eq!(pending, vec!["from a 1", "from c", "from a 2"], "oldest first, never one's own");
    let only_ab = s.undelivered(b, Some(ab), 10).await.expect("ok");
    assert_eq!(only_ab.len(), 2);
    assert_eq!(s.undelivered(b, None, 1).await.expect("ok").len(), 1);

    let list = s.conversations_of(b, None, 100).await.expect("ok");
    assert_eq!(list[0].conversation.id, ab, "most recent activity first");
    assert_eq!(list[0].unread, 2);
    assert_eq!(list[0].last_message.as_ref().map(|m| m.body.as_str()), Some("b's own"));
    assert_eq!(list[1].unread, 1);
    assert_eq!(s.unread_total(b).await.expect("ok"), 3, "the badge: every conversation's unread");
    s.advance(ab, b, Receipt::Read, 3, false).await.expect("ok");
    assert_eq!(s.conversations_of(b, None, 100).await.expect("ok")[0].unread, 0);
    assert_eq!(s.unread_total(b).await.expect("ok"), 1);
    assert_eq!(s.unread_total(a).await.expect("ok"), 1, "never one's own messages");
    assert_eq!(s.conversations_of(a, None, 100).await.expect("ok")[0].unread, 1);
}

fn note(actor: UserId, body: &str) -> SystemNote<'_> {
    SystemNote { actor, body, meta: "{}", at: 5 }
}

async fn groups_membership_roles_and_notes(s: &dyn Store) {
    let (a, b, c, d) = (user(s, "a5").await, user(s, "b5").await, user(s, "c5").await, user(s, "d5").await);
    let (g, created) = s
        .create_group(NewGroup {
            creator: a,
            name: "G",
            description: Some("about"),
            avatar_url: None,
            full_history: false,
            members: &[b, a],
            note: note(a, "created"),
        })
        .await
        .expect("created");
    assert_eq!(g.kind, ConversationKind::Group);
    assert_eq!(
        g.members.iter().map(|m| (m.user_id, m.role)).collect::<Vec<_>>(),
        vec![(a, Role::Owner), (b, Role::Member)]
    );
    assert_eq!(
        (g.last_seq, created.seq, created.kind),
        (1, 1, MessageKind::System),
        "the creation note is message 1"
    );
    let id = g.id;

    // Only members may send; the membership check is inside the transaction.
    let outsider = s
        .append_message(NewMessage {
            conversation_id: id,
            sender_id: c,
            client_msg_id: None,
            body: "x",
            created_at: 6,
            attachments: &[],
            reply_to: None,
            push_to: &[],
            push_at: 0,
        })
        .await;
    assert!(matches!(outsider, Err(StoreError::NotMember)));

    let describe = |added: &[UserId]| (format!("added {}", added.len()), "{}".to_string());
    let full = s.add_members(id, &[c, d], 3, a, 7, &describe).await;
    assert!(matches!(full, Err(StoreError::GroupFull)));
    let (added, msg) =
        s.add_members(id, &[c, b, c], 3, a, 7, &describe).await.expect("ok").expect("someone new");
    assert_eq!((added, msg.body.as_str(), msg.kind), (vec![c], "added 1", MessageKind::System));
    assert!(s.add_members(id, &[c], 3, a, 8, &describe).await.expect("ok").is_none(), "nobody new");
    let g = s.conversation(id).await.expect("ok").expect("found");
    let cm = g.member(c).expect("member");
    assert_eq!((cm.joined_seq, cm.read_seq), (1, 1), "history and unread start at joining");

    assert!(s.set_role(id, b, Role::Admin).await.expect("ok"));
    assert!(!s.set_role(id, d, Role::Admin).await.expect("ok"), "not a member");
    assert!(s.set_role(id, c, Role::Owner).await.expect("ok"));
    let g = s.conversation(id).await.expect("ok").expect("found");
    assert_eq!(g.member(a).map(|m| m.role), Some(Role::Admin), "ownership handed over");

    // The last owner leaving promotes the longest-standing admin.
    let (_, promoted) = s.remove_member(id, c, note(c, "left")).await.expect("ok").expect("was a member");
    assert_eq!(promoted, Some(a));
    assert!(s.remove_member(id, c, note(c, "left")).await.expect("ok").is_none());

    let patch = GroupPatch { name: Some("H".into()), description: Some(None), ..GroupPatch::default() };
    let renamed = s.update_group(id, &patch, Some(note(a, "renamed"))).await.expect("ok");
    assert_eq!(renamed.map(|m| m.body), Some("renamed".to_string()));
    let g = s.conversation(id).await.expect("ok").expect("found");
    assert_eq!((g.name.as_deref(), g.description.as_deref()), (Some("H"), None));

    s.delete_conversation(id).await.expect("deleted");
    assert!(s.conversation(id).await.expect("ok").is_none());
    assert!(s.conversations_of(b, None, 100).await.expect("ok").is_empty());
}

async fn live_receipts_in_one_batch(s: &dyn Store) {
    let (a, b, c) = (user(s, "a6").await, user(s, "b6").await, user(s, "c6").await);
    let ab = s.direct_conversation(a, b, 1).await.expect("ok");
    let ac = s.direct_conversation(a, c, 1).await.expect("ok");
    send(s, ab, a, "1", None).await;
    send(s, ab, a, "2", None).await;
    send(s, ac, a, "1", None).await;
    let marks = [
        DeliveryMark { conversation: ab, user: b, seq: 1, message: MessageId(0), notify: Some(a) },
        DeliveryMark { conversation: ac, user: c, seq: 1, message: MessageId(0), notify: Some(a) },
        DeliveryMark { conversation: ab, user: b, seq: 2, message: MessageId(0), notify: Some(a) },
        // A gap: c has not received seq 1 of `ab` — and is not a member of it anyway.
        DeliveryMark { conversation: ab, user: c, seq: 2, message: MessageId(0), notify: Some(a) },
    ];
    let moved = s.advance_delivered_many(&marks).await.expect("ok");
    let got: Vec<_> = moved.iter().map(|(m, adv)| (m.conversation, m.user, adv.old, adv.new)).collect();
    assert_eq!(got, vec![(ab, b, 0, 1), (ac, c, 0, 1), (ab, b, 1, 2)]);
    // A live mark that would skip an undelivered message does not move.
    send(s, ac, a, "2", None).await;
    send(s, ac, a, "3", None).await;
    let moved = s
        .advance_delivered_many(&[DeliveryMark {
            conversation: ac,
            user: c,
            seq: 3,
            message: MessageId(0),
            notify: Some(a),
        }])
        .await
        .expect("ok");
    assert!(moved.is_empty());
}

/// A not yet stored FCM device of `user`.
fn fcm_device(user: UserId, address: &str) -> Subscription {
    Subscription {
        id: SubscriptionId(0),
        user_id: user,
        kind: PushKind::Fcm,
        address: address.into(),
        p256dh: None,
        auth: None,
        environment: None,
        created_at: 1,
    }
}

async fn push_outbox_collapses_claims_once_and_respects_mutes(s: &dyn Store) {
    let (a, b, c) = (user(s, "pa").await, user(s, "pb").await, user(s, "pc").await);
    let conv = s.direct_conversation(a, b, 1).await.unwrap();
    let b1 = s.upsert_subscription(&fcm_device(b, "b1"), 20).await.unwrap();
    let b2 = s.upsert_subscription(&fcm_device(b, "b2"), 20).await.unwrap();
    // Registering a known device again moves it to the new user.
    let moved = s.upsert_subscription(&fcm_device(c, "b2"), 20).await.unwrap();
    assert_eq!((moved.id, moved.user_id), (b2.id, c));
    s.upsert_subscription(&fcm_device(b, "b2"), 20).await.unwrap();
    assert_eq!(s.subscriptions_of(b).await.unwrap().len(), 2);

    let send = |at: i64, to: &'static [UserId]| NewMessage {
        conversation_id: conv,
        sender_id: a,
        client_msg_id: None,
        body: "x",
        created_at: at,
        attachments: &[],
        reply_to: None,
        push_to: to,
        push_at: at + 100,
    };
    let to_b: &'static [UserId] = Box::leak(Box::new([b]));
    let mut last = None;
    for at in 10..13 {
        last = Some(s.append_message(send(at, to_b)).await.unwrap().message.id);
    }
    assert_eq!(s.pending_push_jobs().await.unwrap(), 2, "one job per device, the burst collapsed");
    assert!(s.claim_push_jobs(109, 1_000, 10).await.unwrap().is_empty(), "not due before the first push_at");
    let jobs = s.claim_push_jobs(110, 1_000, 10).await.unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.pending == 3 && Some(j.message_id) == last && j.subscription.user_id == b));
    assert!(s.claim_push_jobs(500, 2_000, 10).await.unwrap().is_empty(), "claimed jobs are leased");

    // A message arriving while the push is in flight survives its completion.
    let newer = s.append_message(send(600, to_b)).await.unwrap().message.id;
    s.finish_push_job(&jobs[0], 700).await.unwrap();
    s.retry_push_job(&jobs[1], 700).await.unwrap();
    let again = s.claim_push_jobs(700, 1_700, 10).await.unwrap();
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|j| j.message_id == newer));
    let finished = again.iter().find(|j| j.subscription.id == b1.id).unwrap();
    assert_eq!((finished.pending, finished.attempts), (1, 0), "what was sent is no longer pending");
    let retried = again.iter().find(|j| j.subscription.id != b1.id).unwrap();
    assert_eq!((retried.pending, retried.attempts), (4, 1));
    for j in &again {
        s.finish_push_job(j, 800).await.unwrap();
    }
    assert_eq!(s.pending_push_jobs().await.unwrap(), 0);

    // Muted: no job. An expired mute or another conversation's: a job.
    s.set_mute(b, &Mute { conversation: Some(conv), until: None }).await.unwrap();
    s.append_message(send(900, to_b)).await.unwrap();
    assert_eq!(s.pending_push_jobs().await.unwrap(), 0);
    s.set_mute(b, &Mute { conversation: Some(conv), until: Some(950) }).await.unwrap();
    s.append_message(send(960, to_b)).await.unwrap();
    assert_eq!(s.pending_push_jobs().await.unwrap(), 2);
    s.set_mute(b, &Mute { conversation: None, until: None }).await.unwrap();
    assert_eq!(s.mutes_of(b).await.unwrap().len(), 2);
    assert!(s.delete_mute(b, None).await.unwrap());
    assert!(!s.delete_mute(b, None).await.unwrap());

    // Deleting a device deletes its jobs; only the owner may delete it.
    assert!(!s.delete_subscription(b1.id, Some(c)).await.unwrap());
    assert!(s.delete_subscription(b1.id, Some(b)).await.unwrap());
    assert_eq!(s.pending_push_jobs().await.unwrap(), 1);

    // Concurrent claimers never get the same job.
    let others: Vec<UserId> = {
        let mut v = Vec::new();
        for i in 0..6 {
            let u = user(s, &format!("px{i}")).await;
            s.upsert_subscription(&fcm_device(u, &format!("dev{i}")), 20).await.unwrap();
            v.push(u);
        }
        v
    };
    for (i, u) in others.iter().enumerate() {
        let direct = s.direct_conversation(a, *u, 1).await.unwrap();
        let m = NewMessage {
            conversation_id: direct,
            push_to: std::slice::from_ref(u),
            ..send(1_000 + i as i64, to_b)
        };
        s.append_message(m).await.unwrap();
    }
    let (x, y) = tokio::join!(s.claim_push_jobs(5_000, 9_000, 4), s.claim_push_jobs(5_000, 9_000, 4));
    let (x, y) = (x.unwrap(), y.unwrap());
    let ids: std::collections::HashSet<i64> = x.iter().chain(&y).map(|j| j.id).collect();
    assert_eq!(ids.len(), x.len() + y.len(), "no job claimed twice");
    assert_eq!(ids.len(), 7, "b2's job and one per new user's direct conversation");
}

async fn push_devices_are_capped_per_user(s: &dyn Store) {
    let (a, b) = (user(s, "ca").await, user(s, "cb").await);
    let device = |u: UserId, address: &str, at: i64| Subscription {
        id: SubscriptionId(0),
        user_id: u,
        kind: PushKind::Fcm,
        address: address.into(),
        p256dh: None,
        auth: None,
        environment: None,
        created_at: at,
    };
    let names = |subs: Vec<Subscription>| {
        let mut v: Vec<String> = subs.into_iter().map(|s| s.address).collect();
        v.sort();
        v
    };
    for i in 1..=5 {
        s.upsert_subscription(&device(a, &format!("d{i}"), i), 3).await.unwrap();
    }
    assert_eq!(names(s.subscriptions_of(a).await.unwrap()), ["d3", "d4", "d5"], "the 3 newest stay");
    // Registering again refreshes a device's place.
    s.upsert_subscription(&device(a, "d3", 10), 3).await.unwrap();
    s.upsert_subscription(&device(a, "d6", 11), 3).await.unwrap();
    assert_eq!(names(s.subscriptions_of(a).await.unwrap()), ["d3", "d5", "d6"]);
    // The device just registered stays even if its clock is behind the others'.
    let kept = s.upsert_subscription(&device(a, "d7", 0), 3).await.unwrap();
    assert_eq!(names(s.subscriptions_of(a).await.unwrap()), ["d3", "d6", "d7"]);
    assert_eq!(kept.address, "d7");

    // A replaced device's waiting jobs go with it.
    let conv = s.direct_conversation(a, b, 1).await.unwrap();
    let to_a = [a];
    let m = NewMessage {
        conversation_id: conv,
        sender_id: b,
        client_msg_id: None,
        body: "x",
        created_at: 30,
        attachments: &[],
        reply_to: None,
        push_to: &to_a,
        push_at: 40,
    };
    s.append_message(m).await.unwrap();
    assert_eq!(s.pending_push_jobs().await.unwrap(), 3);
    s.upsert_subscription(&device(a, "d8", 50), 3).await.unwrap();
    assert_eq!(names(s.subscriptions_of(a).await.unwrap()), ["d3", "d6", "d8"], "d7 was the oldest");
    assert_eq!(s.pending_push_jobs().await.unwrap(), 2);

    // A device moving to another user counts against its new owner's cap only.
    s.upsert_subscription(&device(b, "b1", 60), 3).await.unwrap();
    s.upsert_subscription(&device(b, "d8", 61), 1).await.unwrap();
    assert_eq!(names(s.subscriptions_of(b).await.unwrap()), ["d8"]);
    assert_eq!(names(s.subscriptions_of(a).await.unwrap()), ["d3", "d6"]);
}

async fn conversation_list_pages_with_ties_in_activity(s: &dyn Store) {
    let (a, b, c) = (user(s, "la").await, user(s, "lb").await, user(s, "lc").await);
    // Twelve groups created in the same millisecond (ties), three later ones.
    let mut ids = Vec::new();
    for i in 0..15 {
        let at = if i < 12 { 100 } else { 100 + i };
        let (g, _) = s
            .create_group(NewGroup {
                name: "g",
                description: None,
                avatar_url: None,
                full_history: false,
                creator: a,
                members: &[a, b],
                note: SystemNote { actor: a, body: "created", meta: "{}", at },
            })
            .await
            .expect("group");
        ids.push(g.id);
    }
    s.create_group(NewGroup {
        name: "not b's",
        description: None,
        avatar_url: None,
        full_history: false,
        creator: c,
        members: &[c],
        note: SystemNote { actor: c, body: "created", meta: "{}", at: 500 },
    })
    .await
    .expect("group");
    // Most recent activity first (the three later ones), then the tied
    // twelve by highest id.
    let expected: Vec<ConversationId> =
        ids[12..].iter().rev().chain(ids[..12].iter().rev()).copied().collect();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = s.conversations_of(b, before, 4).await.expect("page");
        assert!(page.len() <= 4);
        for summary in &page {
            assert!(summary.conversation.member(b).is_some(), "members are loaded for the page");
            assert_eq!(summary.conversation.members.len(), 2);
        }
        seen.extend(page.iter().map(|p| p.conversation.id));
        match page.last() {
            Some(last) if page.len() == 4 => before = Some(ConversationCursor::after(&last.conversation)),
            _ => break,
        }
    }
    assert_eq!(seen, expected, "every conversation once, in order, across the ties");
    assert!(s.conversations_of(c, None, 100).await.expect("ok").len() == 1);
}

async fn media_is_visible_to_its_owner_and_the_conversations_it_was_sent_in(s: &dyn Store) {
    let (a, b, c) = (user(s, "ma").await, user(s, "mb").await, user(s, "mc").await);
    let item = |id: &str, sha: &str, at: i64| MediaItem {
        id: id.into(),
        owner_id: a,
        backend: "local".into(),
        kind: "image".into(),
        mime: "image/png".into(),
        size: 10,
        name: "x.png".into(),
        width: Some(2),
        height: Some(1),
        sha256: Some(sha.into()),
        thumb_sha256: Some("thumb".into()),
        remote: None,
        created_at: at,
        attached_at: None,
    };
    s.insert_media(&item("m1", "sha1", 10)).await.unwrap();
    s.insert_media(&item("m2", "sha1", 20)).await.unwrap();
    assert_eq!(s.media("m1").await.unwrap(), Some(item("m1", "sha1", 10)));
    assert!(s.media_visible_to("m1", a).await.unwrap());
    assert!(!s.media_visible_to("m1", b).await.unwrap());
    assert_eq!(s.files_in_use("sha1").await.unwrap(), 2);
    assert_eq!(s.files_in_use("thumb").await.unwrap(), 2);
    // The quota counts the same content once, and only the owner's.
    assert_eq!(s.media_bytes_of(a).await.unwrap(), 10);
    s.insert_media(&MediaItem { size: 7, ..item("m3", "sha3", 25) }).await.unwrap();
    assert_eq!(s.media_bytes_of(a).await.unwrap(), 17);
    assert_eq!(s.media_bytes_of(b).await.unwrap(), 0);
    assert!(s.delete_media("m3").await.unwrap());

    let conv = s.direct_conversation(a, b, 1).await.unwrap();
    let attachment = confab::media::attachment_of(&item("m1", "sha1", 10));
    let sent = s
        .append_message(NewMessage {
            conversation_id: conv,
            sender_id: a,
            client_msg_id: None,
            body: "",
            created_at: 30,
            attachments: std::slice::from_ref(&attachment),
            reply_to: None,
            push_to: &[],
            push_at: 0,
        })
        .await
        .unwrap();
    assert_eq!(sent.message.attachments, vec![attachment.clone()]);
    let page = s.history(conv, None, 0, 10).await.unwrap();
    assert_eq!(page[0].attachments, vec![attachment]);
    assert!(s.media_visible_to("m1", b).await.unwrap(), "a member of the conversation it was sent in");
    assert!(!s.media_visible_to("m1", c).await.unwrap());
    assert!(!s.media_visible_to("m2", b).await.unwrap(), "links are per item");

    // Only the never-sent item is an orphan, and only once old enough.
    assert!(s.unattached_media(20, 10).await.unwrap().is_empty());
    let orphans: Vec<String> = s.unattached_media(21, 10).await.unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(orphans, vec!["m2".to_string()]);
    assert!(s.delete_media("m2").await.unwrap());
    assert!(!s.delete_media("m2").await.unwrap());
    assert_eq!(s.files_in_use("sha1").await.unwrap(), 1);

    // A secret is set once, then shared.
    let first = s.secret("k", "one").await.unwrap();
    assert_eq!(first, "one");
    assert_eq!(s.secret("k", "two").await.unwrap(), "one");
}

/// Edits, tombstones, replies, reactions, search and blocks (#17), on both backends.
#[path = "store_messaging.rs"]
mod messaging;

/// A fetch's batched reads and watermark moves, on both backends.
#[path = "store_fetch.rs"]
mod fetch;

/// The committer's statements keep using their indexes as history grows. A
/// prepared statement's plan, cached while `messages` was nearly empty, was a
/// sequential scan of the table, kept for the connection's life: each batch's
/// retried-`clientMsgId` look-up then read every stored message (found with
/// the open-loop bench on PostgreSQL: 0.15 → 1.7 ms per batch over the first
/// 5,000 messages, growing without end).
#[tokio::test]
async fn postgres_appends_do_not_scan_messages_as_history_grows() {
    let db = postgres().await;
    let s = db.store.clone();
    let (admin, schema) = db.cleanup.clone().expect("a PostgreSQL schema");
    let (a, b) = (user(&*s, "ha").await, user(&*s, "hb").await);
    let c = s.direct_conversation(a, b, 1).await.expect("conversation");
    let append = |i: usize| {
        let s = s.clone();
        async move {
            let client = ClientMsgId::from_stored(format!("h{i}"));
            let m = NewMessage {
                conversation_id: c,
                sender_id: a,
                client_msg_id: Some(&client),
                body: "history",
                created_at: 1,
                attachments: &[],
                push_to: &[],
                push_at: 0,
                reply_to: None,
            };
            s.append_message(m).await.expect("appended");
        }
    };
    // One at a time on a nearly empty table: each is its own batch, and the
    // statements' plans are settled here (PostgreSQL decides after five runs).
    for i in 0..20 {
        append(i).await;
    }
    // History grows, in concurrent batches.
    for chunk in 0..30 {
        let batch: Vec<_> = (0..100).map(|j| tokio::spawn(append(20 + chunk * 100 + j))).collect();
        for t in batch {
            t.await.expect("task");
        }
    }
    let stats = |want: i64| {
        let (admin, schema) = (admin.clone(), schema.clone());
        async move {
            // A backend reports its counts when it goes idle, at most once a
            // second: wait until every insert so far is counted.
            for _ in 0..300 {
                let row: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT n_tup_ins, seq_scan FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'messages'",
                )
                .bind(&schema)
                .fetch_optional(&admin)
                .await
                .expect("statistics");
                if let Some((inserted, scans)) = row.filter(|r| r.0 >= want) {
                    assert_eq!(inserted, want);
                    return scans;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the inserts were never counted");
        }
    };
    let before = stats(3_020).await;
    for i in 0..50 {
        append(10_000 + i).await;
    }
    let after = stats(3_070).await;
    assert_eq!(
        after - before,
        0,
        "50 appends on 3,020 messages of history scanned the table {} times",
        after - before
    );
}

/// Two nodes (two stores, each with its committer) find or create the same
/// pairs' conversations at once, in opposite orders and directions: every
/// pair ends with one conversation of two members and no call fails (a
/// batch inserts its keys in key order, so two never wait in a cycle).
#[tokio::test]
async fn postgres_nodes_create_the_same_direct_conversations_at_once() {
    let db = postgres().await;
    let (_, schema) = db.cleanup.clone().expect("a PostgreSQL schema");
    let options: sqlx::postgres::PgConnectOptions = common_pg_url().parse().expect("url");
    let other: Arc<dyn Store> = Arc::new(
        PostgresStore::open_with(options.options([("search_path", schema.as_str())]), 4).await.expect("open"),
    );
    let one = db.store.clone();
    let mut people = Vec::new();
    for i in 0..40 {
        people.push(user(&*one, &format!("nd{i}")).await);
    }
    for round in 0..5 {
        // Fresh pairs each round: (round + 1) apart in the list.
        let pairs: Vec<(UserId, UserId)> =
            (0..people.len()).map(|i| (people[i], people[(i + round + 1) % people.len()])).collect();
        let mut tasks = Vec::new();
        for (node, store) in [(0, one.clone()), (1, other.clone())] {
            let mut mine = pairs.clone();
            if node == 1 {
                mine.reverse();
            }
            for (i, (a, b)) in mine.into_iter().enumerate() {
                let store = store.clone();
                let (x, y) = if node == 1 { (b, a) } else { (a, b) };
                tasks.push(tokio::spawn(async move {
                    // Spread the sends a little so batches mix on both nodes.
                    tokio::time::sleep(std::time::Duration::from_micros((i % 7) as u64 * 300)).await;
                    ((a.min(b), a.max(b)), store.direct_conversation(x, y, 1).await)
                }));
            }
        }
        let mut by_pair: std::collections::HashMap<(UserId, UserId), ConversationId> = Default::default();
        for t in tasks {
            let (pair, got) = t.await.expect("task");
            let c = got.unwrap_or_else(|e| panic!("round {round}: pair {pair:?} failed: {e}"));
            assert_eq!(
                *by_pair.entry(pair).or_insert(c),
                c,
                "round {round}: pair {pair:?} has one conversation"
            );
        }
        for ((a, b), c) in by_pair {
            let conv = one.conversation(c).await.expect("ok").expect("found");
            let mut members: Vec<_> = conv.members.iter().map(|m| m.user_id).collect();
            members.sort();
            assert_eq!(members, vec![a, b]);
        }
    }
}
