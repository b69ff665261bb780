//! What a fetch of unread messages reads and moves in one go (a page's
//! conversations, its delivered watermarks), run against both backends like
//! the rest of `store`.

use super::{postgres, send, sqlite, user};
use confab::domain::*;
use confab::store::*;

suite!(a_fetch_moves_each_watermark_once_and_reports_how_far, conversations_are_read_by_the_list);

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
