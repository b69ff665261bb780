//! The storage of edits, tombstones, replies, reactions, message search and
//! blocks, run against both backends like the rest of `store`.

use super::{postgres, send, sqlite, user};
use confab::domain::*;
use confab::store::*;

suite!(
    edits_and_tombstones,
    tombstones_drop_media_links_pushes_and_unread,
    replies_are_stored_and_quoted_by_id,
    reactions_group_by_emoji_in_first_use_order,
    search_folds_case_and_accents_and_respects_visibility,
    search_sees_every_message_however_far_the_index_lags,
    blocks_are_directional_and_hide_presence,
    a_block_refuses_direct_messages_inside_the_write,
    deleting_all_of_a_senders_messages,
);

fn q(s: &str) -> SearchQuery {
    SearchQuery::parse(s).expect("query")
}

async fn id_of(s: &dyn Store, c: ConversationId, seq: i64) -> MessageId {
    let page = s.history(c, None, 0, 1000).await.expect("history");
    page.iter().find(|m| m.seq == seq).expect("message").id
}

async fn edits_and_tombstones(s: &dyn Store) {
    let (a, b) = (user(s, "e1").await, user(s, "e2").await);
    let ab = s.direct_conversation(a, b, 1).await.unwrap();
    send(s, ab, a, "helo", None).await;
    let id = id_of(s, ab, 1).await;
    let edited = s.edit_message(id, "hello", 50).await.unwrap().expect("edited");
    assert_eq!((edited.body.as_str(), edited.edited_at), ("hello", Some(50)));
    assert_eq!(s.message(id).await.unwrap().unwrap().body, "hello");

    let gone = s.delete_message(id, 60).await.unwrap().expect("deleted now");
    assert_eq!((gone.body.as_str(), gone.deleted_at, gone.seq), ("", Some(60), 1), "id and seq stay");
    assert!(s.delete_message(id, 61).await.unwrap().is_none(), "a second delete changes nothing");
    assert!(s.edit_message(id, "back", 62).await.unwrap().is_none(), "a tombstone cannot be edited");
    let history = s.history(ab, None, 0, 10).await.unwrap();
    assert_eq!(history.len(), 1, "no gap: the tombstone is still in history");
    assert!(history[0].is_deleted() && history[0].body.is_empty());
}

async fn tombstones_drop_media_links_pushes_and_unread(s: &dyn Store) {
    let (a, b) = (user(s, "t1").await, user(s, "t2").await);
    let ab = s.direct_conversation(a, b, 1).await.unwrap();
    let item = MediaItem {
        id: "m-t1".into(),
        owner_id: a,
        backend: "local".into(),
        kind: "image".into(),
        mime: "image/png".into(),
        size: 10,
        name: "x.png".into(),
        width: None,
        height: None,
        sha256: Some("abc".into()),
        thumb_sha256: None,
        remote: None,
        created_at: 1,
        attached_at: None,
    };
    s.insert_media(&item).await.unwrap();
    let attachment = Attachment {
        id: item.id.clone(),
        kind: "image".into(),
        mime: "image/png".into(),
        size: 10,
        name: "x.png".into(),
        width: None,
        height: None,
        url: None,
        thumbnail_url: None,
        has_thumbnail: false,
    };
    let device = Subscription {
        id: SubscriptionId(0),
        user_id: b,
        kind: PushKind::Fcm,
        address: "token-t2".into(),
        p256dh: None,
        auth: None,
        environment: None,
        created_at: 1,
    };
    s.upsert_subscription(&device, 10).await.unwrap();
    let sent = s
        .append_message(NewMessage {
            conversation_id: ab,
            sender_id: a,
            client_msg_id: None,
            body: "look",
            created_at: 100,
            attachments: std::slice::from_ref(&attachment),
            reply_to: None,
            push_to: &[b],
            push_at: 10_000,
        })
        .await
        .unwrap();
    assert!(s.media_visible_to("m-t1", b).await.unwrap());
    assert_eq!(s.pending_push_jobs().await.unwrap(), 1);
    assert_eq!(s.unread_total(b).await.unwrap(), 1);
    s.delete_message(sent.message.id, 200).await.unwrap().expect("deleted");
    assert!(!s.media_visible_to("m-t1", b).await.unwrap(), "its media link is dropped");
    assert_eq!(s.pending_push_jobs().await.unwrap(), 0, "its waiting push is dropped");
    assert_eq!(s.unread_total(b).await.unwrap(), 0, "a deleted message is not unread");
    let list = s.conversations_of(b, None, 10).await.unwrap();
    assert_eq!(list[0].unread, 0);
    let last = list[0].last_message.as_ref().expect("last message");
    assert!(last.is_deleted() && last.attachments.is_empty(), "lastMessage is the tombstone");
}

async fn replies_are_stored_and_quoted_by_id(s: &dyn Store) {
    let (a, b) = (user(s, "r1").await, user(s, "r2").await);
    let ab = s.direct_conversation(a, b, 1).await.unwrap();
    send(s, ab, a, "question?", None).await;
    let asked = id_of(s, ab, 1).await;
    let reply = s
        .append_message(NewMessage {
            conversation_id: ab,
            sender_id: b,
            client_msg_id: None,
            body: "answer",
            created_at: 100,
            attachments: &[],
            reply_to: Some(asked),
            push_to: &[],
            push_at: 0,
        })
        .await
        .unwrap();
    assert_eq!(reply.message.reply_to, Some(asked));
    assert_eq!(s.message(reply.message.id).await.unwrap().unwrap().reply_to, Some(asked));
    let quoted = s.messages_by_ids(&[asked, MessageId(i64::MAX - 1)]).await.unwrap();
    assert_eq!(quoted.len(), 1);
    assert_eq!(quoted[0].body, "question?");
    assert!(s.messages_by_ids(&[]).await.unwrap().is_empty());
}

async fn reactions_group_by_emoji_in_first_use_order(s: &dyn Store) {
    let (a, b) = (user(s, "x1").await, user(s, "x2").await);
    let ab = s.direct_conversation(a, b, 1).await.unwrap();
    send(s, ab, a, "one", None).await;
    send(s, ab, a, "two", None).await;
    let (one, two) = (id_of(s, ab, 1).await, id_of(s, ab, 2).await);
    let (heart, up) = (Emoji::parse("❤️").unwrap(), Emoji::parse("👍").unwrap());
    s.set_reaction(one, b, &heart, true, 1).await.unwrap();
    s.set_reaction(one, a, &up, true, 2).await.unwrap();
    let now = s.set_reaction(one, a, &heart, true, 3).await.unwrap();
    assert_eq!(now.len(), 2);
    assert_eq!((now[0].emoji.as_str(), now[0].user_ids.clone()), ("❤️", vec![b, a]), "first use first");
    let again = s.set_reaction(one, a, &heart, true, 4).await.unwrap();
    assert_eq!(again, now, "reacting twice is a no-op");
    let after = s.set_reaction(one, a, &up, false, 5).await.unwrap();
    assert_eq!(after.len(), 1, "the last 👍 is gone, and so is its group");
    s.set_reaction(two, b, &up, true, 6).await.unwrap();
    let page = s.reactions_of(&[one, two]).await.unwrap();
    assert_eq!(page.len(), 2, "one read for the whole page");
    assert_eq!(page[&two][0].user_ids, vec![b]);
    s.delete_message(one, 7).await.unwrap();
    assert!(!s.reactions_of(&[one]).await.unwrap().contains_key(&one), "a tombstone keeps none");
}

async fn search_folds_case_and_accents_and_respects_visibility(s: &dyn Store) {
    let (a, b, c) = (user(s, "s1").await, user(s, "s2").await, user(s, "s3").await);
    let ab = s.direct_conversation(a, b, 1).await.unwrap();
    send(s, ab, a, "Rendez-vous au Café de Flore", None).await;
    send(s, ab, b, "the cafeteria is closed", None).await;
    send(s, ab, a, "unrelated words", None).await;
    send(s, ab, b, "to be deleted: cafe", None).await;
    let deleted = id_of(s, ab, 4).await;
    s.delete_message(deleted, 10).await.unwrap();

    let found = s.search_messages(b, &q("CAFE"), None, None, 10).await.unwrap();
    let bodies: Vec<&str> = found.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["the cafeteria is closed", "Rendez-vous au Café de Flore"], "newest first; prefix");
    let found = s.search_messages(b, &q("café flo"), None, None, 10).await.unwrap();
    assert_eq!(found.len(), 1, "every word must match, the last as a prefix");
    assert!(s.search_messages(c, &q("cafe"), None, None, 10).await.unwrap().is_empty(), "not a member");
    let older = s.search_messages(b, &q("cafe"), None, Some(found[0].id), 10).await.unwrap();
    assert!(older.is_empty(), "before pages back");
    let one = s.search_messages(a, &q("cafe"), Some(ab), None, 1).await.unwrap();
    assert_eq!(one.len(), 1, "limit");
    let edited = id_of(s, ab, 3).await;
    s.edit_message(edited, "now about a cafe", 11).await.unwrap();
    assert_eq!(s.search_messages(a, &q("cafe"), None, None, 10).await.unwrap().len(), 3, "edits reindex");
    assert!(s.search_messages(a, &q("unrelated"), None, None, 10).await.unwrap().is_empty());

    // A group without full history: a newcomer finds only what came after they joined.
    let note = SystemNote { actor: a, body: "created", meta: "{}", at: 20 };
    let group = NewGroup {
        creator: a,
        name: "g",
        description: None,
        avatar_url: None,
        full_history: false,
        members: &[],
        note,
    };
    let (g, _) = s.create_group(group).await.unwrap();
    send(s, g.id, a, "cafe before", None).await;
    let describe = |_: &[UserId]| ("added".to_string(), "{}".to_string());
    s.add_members(g.id, &[c], 10, a, 30, &describe).await.unwrap();
    send(s, g.id, a, "cafe after", None).await;
    let seen: Vec<String> =
        s.search_messages(c, &q("cafe"), None, None, 10).await.unwrap().into_iter().map(|m| m.body).collect();
    assert_eq!(seen, ["cafe after"]);
}

/// SQLite indexes for search in bulk, behind the commits (`sqlite_search`):
/// messages edited or deleted while still waiting for the index, and
/// enough of them to cross a bulk step, must still be found exactly as they
/// stand. (PostgreSQL indexes each message with it; the same rules hold.)
async fn search_sees_every_message_however_far_the_index_lags(s: &dyn Store) {
    let (a, b) = (user(s, "l1").await, user(s, "l2").await);
    let ab = s.direct_conversation(a, b, 1).await.unwrap();
    const N: i64 = 1300;
    for chunk in (1..=N).collect::<Vec<_>>().chunks(100) {
        let sends = chunk.iter().map(|i| {
            let body = format!("lagging w{i}");
            async move { send(s, ab, a, &body, None).await }
        });
        futures_util::future::join_all(sends).await;
    }
    let history = s.history(ab, None, 0, 2000).await.unwrap();
    assert_eq!(history.len() as i64, N);
    // Edit every 7th and delete every 11th (the 77th-s: deleted after the edit).
    for m in &history {
        if m.seq % 7 == 0 {
            s.edit_message(m.id, &format!("rewritten e{}", m.seq), 5).await.unwrap().expect("edited");
        }
    }
    for m in &history {
        if m.seq % 11 == 0 {
            s.delete_message(m.id, 6).await.unwrap().expect("deleted");
        }
    }
    let live = |seq: i64| seq % 11 != 0;
    let found = s.search_messages(b, &q("lagging"), None, None, 2000).await.unwrap();
    let expected = (1..=N).filter(|&i| i % 7 != 0 && live(i)).count();
    assert_eq!(found.len(), expected, "every unedited live message, once");
    let found = s.search_messages(b, &q("rewritten"), None, None, 2000).await.unwrap();
    let expected = (1..=N).filter(|&i| i % 7 == 0 && live(i)).count();
    assert_eq!(found.len(), expected, "every edited live message, by its new text");
    assert!(found.iter().all(|m| m.body.starts_with("rewritten")));

    // Once indexed, an edit and a delete still change what is found.
    let last = history.iter().find(|m| m.seq == N - 1).expect("message"); // neither edited nor deleted
    // Not the last word, which would match as a prefix (w12 also finds w120).
    let exact = q(&format!("{} lagging", last.body.trim_start_matches("lagging ")));
    assert_eq!(s.search_messages(b, &exact, None, None, 10).await.unwrap().len(), 1);
    s.edit_message(last.id, "changed again", 7).await.unwrap().expect("edited");
    assert!(s.search_messages(b, &exact, None, None, 10).await.unwrap().is_empty());
    assert_eq!(s.search_messages(b, &q("changed again"), None, None, 10).await.unwrap().len(), 1);
    s.delete_message(last.id, 8).await.unwrap().expect("deleted");
    assert!(s.search_messages(b, &q("changed"), None, None, 10).await.unwrap().is_empty());
}

/// The chat service checks blocks before it writes; the store checks again
/// inside the message's own transaction (both committers), which is what a
/// message racing a block cannot slip past. Group messages are not affected.
async fn a_block_refuses_direct_messages_inside_the_write(s: &dyn Store) {
    let (a, b) = (user(s, "bw1").await, user(s, "bw2").await);
    let ab = s.direct_conversation(a, b, 1).await.unwrap();
    let append = |from: UserId, c: ConversationId| async move {
        s.append_message(NewMessage {
            conversation_id: c,
            sender_id: from,
            client_msg_id: None,
            body: "hello",
            created_at: 2,
            attachments: &[],
            reply_to: None,
            push_to: &[],
            push_at: 0,
        })
        .await
    };
    assert!(append(b, ab).await.is_ok(), "no block yet");
    s.block(a, b, 3).await.unwrap();
    assert!(matches!(append(b, ab).await, Err(StoreError::Blocked)), "the blocked one");
    assert!(matches!(append(a, ab).await, Err(StoreError::Blocked)), "the blocker too, until they unblock");
    let note = SystemNote { actor: a, body: "created", meta: "{}", at: 4 };
    let group = NewGroup {
        creator: a,
        name: "both",
        description: None,
        avatar_url: None,
        full_history: true,
        members: &[b],
        note,
    };
    let (g, _) = s.create_group(group).await.unwrap();
    assert!(append(b, g.id).await.is_ok(), "group messages still flow");
    s.unblock(a, b).await.unwrap();
    assert!(append(b, ab).await.is_ok(), "unblocked");
    assert_eq!(s.history(ab, None, 0, 10).await.unwrap().len(), 2, "nothing stored while blocked");
}

async fn blocks_are_directional_and_hide_presence(s: &dyn Store) {
    let (a, b, c) = (user(s, "k1").await, user(s, "k2").await, user(s, "k3").await);
    s.direct_conversation(a, b, 1).await.unwrap();
    s.direct_conversation(a, c, 1).await.unwrap();
    s.block(a, b, 5).await.unwrap();
    s.block(a, b, 6).await.unwrap();
    assert!(s.blocked_either_way(a, b).await.unwrap());
    assert!(s.blocked_either_way(b, a).await.unwrap());
    assert!(!s.blocked_either_way(a, c).await.unwrap());
    assert_eq!(s.blocks_involving(b).await.unwrap(), vec![(a, b)]);
    let blocked: Vec<UserId> = s.blocked_by(a).await.unwrap().into_iter().map(|u| u.id).collect();
    assert_eq!(blocked, vec![b]);
    assert!(s.blocked_by(b).await.unwrap().is_empty());
    assert_eq!(s.peers_of(a).await.unwrap(), vec![c], "blocked either way: no presence");
    assert!(s.peers_of(b).await.unwrap().is_empty());
    s.unblock(a, b).await.unwrap();
    s.unblock(a, b).await.unwrap();
    assert!(!s.blocked_either_way(a, b).await.unwrap());
    assert_eq!(s.peers_of(b).await.unwrap(), vec![a]);
}

async fn deleting_all_of_a_senders_messages(s: &dyn Store) {
    let (a, b) = (user(s, "d1").await, user(s, "d2").await);
    let ab = s.direct_conversation(a, b, 1).await.unwrap();
    send(s, ab, a, "one", None).await;
    send(s, ab, b, "theirs", None).await;
    send(s, ab, a, "two", None).await;
    let gone = s.delete_messages_of(a, 9).await.unwrap();
    assert_eq!(gone.len(), 2);
    assert!(gone.iter().all(|&(c, _)| c == ab));
    let history = s.history(ab, None, 0, 10).await.unwrap();
    let live: Vec<&str> = history.iter().filter(|m| !m.is_deleted()).map(|m| m.body.as_str()).collect();
    assert_eq!(live, ["theirs"]);
    assert!(s.delete_messages_of(a, 10).await.unwrap().is_empty(), "idempotent");
}
