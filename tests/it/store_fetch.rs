//! What a fetch of unread messages reads and moves in one go (a page's
//! conversations, its delivered watermarks), run against both backends like
//! the rest of `store`.

use super::{postgres, send, sqlite, user};
use confab::domain::*;
use confab::store::*;

suite!(a_fetch_moves_each_watermark_once_and_reports_how_far, conversations_are_read_by_the_list);

/// A fetch reads the user's own conversations, not the history of everyone
/// else. Written as one join ordered by message id with a limit, PostgreSQL
/// planned it, on tables just filled (no statistics yet), as a scan of every
/// message or a walk of them all in id order: 65 ms per fetch in the 2-node
/// benchmark. Counted with the table's row statistics.
#[tokio::test]
async fn postgres_a_fetch_does_not_read_everyone_elses_history() {
    let db = postgres().await;
    let s = &*db.store;
    let (admin, schema) = db.cleanup.clone().expect("a PostgreSQL schema");
    let (a, b, me) = (user(s, "ra").await, user(s, "rb").await, user(s, "rme").await);
    // Others' history first: 2,000 groups of 10 messages; then 100 groups of
    // 2 messages waiting for me (as after the benchmark's earlier scenarios),
    // all written in bulk: no statistics yet, as after a burst.
    let fill = format!(
        "WITH c AS (INSERT INTO {schema}.conversations (kind, name, created_at, last_seq)
                    SELECT 'group', 'g' || g, 1, $4 FROM generate_series(1, $3) g RETURNING id),
              m AS (INSERT INTO {schema}.members (conversation_id, user_id, joined_at)
                    SELECT c.id, u, 1 FROM c, UNNEST($1::BIGINT[]) u)
         INSERT INTO {schema}.messages (conversation_id, seq, sender_id, body, created_at)
         SELECT c.id, k, $2, 'history', 1 FROM c, generate_series(1, $4) k ORDER BY c.id, k"
    );
    for (members, groups, each) in [(vec![a.0, b.0], 2_000, 10), (vec![a.0, me.0], 100, 2)] {
        let q = sqlx::query(sqlx::AssertSqlSafe(fill.clone()));
        q.bind(members).bind(a.0).bind(groups).bind(each).execute(&admin).await.expect("filled");
    }
    let rows_read = || {
        let (admin, schema) = (admin.clone(), schema.clone());
        async move {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT (seq_tup_read + COALESCE(idx_tup_fetch, 0))::BIGINT FROM pg_stat_user_tables
                  WHERE schemaname = $1 AND relname = 'messages'",
            )
            .bind(&schema)
            .fetch_one(&admin)
            .await
            .expect("statistics");
            n
        }
    };
    // A backend reports its counts when it goes idle, at most once a second.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let before = rows_read().await;
    for _ in 0..10 {
        let page = s.undelivered(me, None, 501).await.expect("fetch");
        assert_eq!(page.len(), 200, "the messages for me");
    }
    // Any plan reads at least the 10 × 200 rows it returns: wait until they
    // are counted (a scan of the whole table shows at once, and fails).
    for _ in 0..100 {
        let read = rows_read().await - before;
        assert!(read < 2 * 10 * 200, "10 fetches of 200 messages read {read} rows of a 20,200-message table");
        if read >= 10 * 200 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    panic!("the fetches' reads were never counted");
}

async fn a_fetch_moves_each_watermark_once_and_reports_how_far(s: &dyn Store) {
    let (a, b, c, me) = (user(s, "f1").await, user(s, "f2").await, user(s, "f3").await, user(s, "f4").await);
    let with_a = s.direct_conversation(a, me, 1).await.expect("ok");
    let with_b = s.direct_conversation(b, me, 1).await.expect("ok");
    let not_mine = s.direct_conversation(a, c, 1).await.expect("ok");
    for i in 0..3 {
        send(s, with_a, a, &format!("a{i}"), None).await;
        send(s, with_b, b, &format!("b{i}"), None).await;
        send(s, not_mine, a, &format!("c{i}"), None).await;
    }
    // Another device already took with_b up to 2.
    assert!(s.advance(with_b, me, Receipt::Delivered, 2, false).await.expect("ok").is_some());

    let mut moved = s.advance_fetched(me, &[(with_b, 3), (with_a, 2), (not_mine, 3)]).await.expect("ok");
    moved.sort_by_key(|(c, _)| *c);
    let mut expected = vec![(with_a, Advanced { old: 0, new: 2 }), (with_b, Advanced { old: 2, new: 3 })];
    expected.sort_by_key(|(c, _)| *c);
    assert_eq!(moved, expected, "only conversations of the user, each from where it was");

    let again = s.advance_fetched(me, &[(with_a, 1), (with_b, 3)]).await.expect("ok");
    assert_eq!(again, vec![], "never lowers, never moves twice");
    let stranger = s.conversation(not_mine).await.expect("ok").expect("found");
    assert!(stranger.members.iter().all(|m| m.delivered_seq == 0), "nobody else's watermark moved");
    let mine = s.conversation(with_a).await.expect("ok").expect("found");
    let m = mine.members.iter().find(|m| m.user_id == me).expect("member");
    assert_eq!((m.delivered_seq, m.read_seq), (2, 0), "delivered only");
    assert_eq!(s.advance_fetched(me, &[]).await.expect("ok"), vec![]);
}

async fn conversations_are_read_by_the_list(s: &dyn Store) {
    let (a, b, c) = (user(s, "g1").await, user(s, "g2").await, user(s, "g3").await);
    let ab = s.direct_conversation(a, b, 1).await.expect("ok");
    let bc = s.direct_conversation(b, c, 1).await.expect("ok");
    send(s, ab, a, "hi", None).await;
    let missing = ConversationId(ab.0.max(bc.0) + 1000);

    let mut got = s.conversations_by_ids(&[bc, missing, ab]).await.expect("ok");
    got.sort_by_key(|c| c.id);
    let one_by_one = {
        let mut v = vec![
            s.conversation(ab).await.expect("ok").expect("found"),
            s.conversation(bc).await.expect("ok").expect("found"),
        ];
        v.sort_by_key(|c| c.id);
        v
    };
    assert_eq!(got, one_by_one, "the same conversations, members and all; the missing id left out");
    assert_eq!(s.conversations_by_ids(&[]).await.expect("ok"), vec![]);
}
