//! Delivered and read: moving the per-member watermarks and telling senders.
//!
//! Owns: fetching unread messages, marking read, per-member receipts, and
//! announcing receipts to senders. May not touch: sockets or SQL.

use super::Chat;
use crate::domain::{
    Advanced, Conversation, ConversationId, Envelope, Error, Message, MessageId, MessageKind, Receipt, Seq,
    UserId,
};
use crate::fanout::{Event, Fanout};
use crate::store::Store;
use futures_util::future::join_all;
use std::collections::{BTreeMap, HashMap};

/// At most this many `message_status` events are sent for one watermark
/// move; past it only the newest message is announced (statuses are
/// cumulative: a receipt for message N covers every earlier one).
const STATUS_EVENTS_CAP: i64 = 100;

/// One member's state for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberReceipt {
    /// The member.
    pub user: UserId,
    /// On one of their devices.
    pub delivered: bool,
    /// Read.
    pub read: bool,
}

impl Chat {
    /// The messages waiting for `user` (all conversations, or one), oldest
    /// first, at most `limit`; they become delivered. The flag says whether
    /// more are waiting.
    #[tracing::instrument(skip_all, fields(user = %user))]
    pub async fn fetch_unread(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
        limit: i64,
    ) -> Result<(Vec<Envelope>, bool), Error> {
        if let Some(id) = conversation {
            self.member_view(user, id).await?;
        }
        let mut rows = self.store.undelivered(user, conversation, limit + 1).await?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);

        // Each conversation's watermark moves to its newest fetched message,
        // all in one transaction (one per conversation made a fetch across
        // 100 new conversations cost 100 commits). Every message from others
        // up to it is in this page, so no gap check, and the senders are
        // told from the page itself rather than from one read per conversation.
        let mut up_to: BTreeMap<ConversationId, Seq> = BTreeMap::new();
        for r in &rows {
            let e = up_to.entry(r.conversation_id).or_default();
            *e = (*e).max(r.seq);
        }
        let marks: Vec<(ConversationId, Seq)> = up_to.iter().map(|(&c, &s)| (c, s)).collect();
        let moved = self.store.advance_fetched(user, &marks).await?;
        // Conversations at once (in cluster mode each event is a Redis round
        // trip); each one's events stay in order.
        join_all(moved.into_iter().map(|(conv, adv)| {
            // Newest first, as `messages_between` returns them; another
            // device's fetch may have moved the mark part of the way.
            let covered: Vec<&Message> = rows
                .iter()
                .rev()
                .filter(|r| r.conversation_id == conv && r.kind == MessageKind::Text)
                .filter(|r| r.seq > adv.old && r.seq <= adv.new)
                .collect();
            tell_senders(&*self.fanout, conv, user, Receipt::Delivered, covered)
        }))
        .await;
        let ids: Vec<ConversationId> = up_to.into_keys().collect();
        let conversations: HashMap<ConversationId, Conversation> =
            self.store.conversations_by_ids(&ids).await?.into_iter().map(|c| (c.id, c)).collect();
        let mut messages: Vec<Envelope> = rows
            .into_iter()
            .filter_map(|r| {
                let c = conversations.get(&r.conversation_id)?;
                Some(Envelope::new(r, c))
            })
            .collect();
        let hidden = |c: ConversationId| conversations.get(&c).map_or(0, |c| c.visible_after(user));
        self.decorate(&mut messages, hidden).await?;
        Ok((messages, has_more))
    }

    /// Marks everything up to `message` in `conversation` as read by `user`.
    #[tracing::instrument(skip_all, fields(user = %user))]
    pub async fn mark_read(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<(), Error> {
        self.member_view(user, conversation).await?;
        let row = self
            .store
            .message(message)
            .await?
            .filter(|m| m.conversation_id == conversation)
            .ok_or(Error::NotFound("message"))?;
        if let Some(adv) = self.store.advance(conversation, user, Receipt::Read, row.seq, false).await? {
            self.announce(conversation, user, Receipt::Read, adv).await?;
        }
        Ok(())
    }

    /// Who among the current members (but the sender) has received and read
    /// `message`.
    pub async fn receipts(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<(Envelope, Vec<MemberReceipt>), Error> {
        let c = self.member_view(user, conversation).await?;
        let row = self
            .store
            .message(message)
            .await?
            .filter(|m| m.conversation_id == conversation && m.seq > c.visible_after(user))
            .ok_or(Error::NotFound("message"))?;
        let receipts = c
            .members
            .iter()
            .filter(|m| m.user_id != row.sender_id)
            .map(|m| MemberReceipt {
                user: m.user_id,
                delivered: m.delivered_seq >= row.seq,
                read: m.read_seq >= row.seq,
            })
            .collect();
        Ok((Envelope::new(row, &c), receipts))
    }

    async fn announce(
        &self,
        conversation: ConversationId,
        reader: UserId,
        receipt: Receipt,
        adv: Advanced,
    ) -> Result<(), Error> {
        announce(&*self.store, &*self.fanout, conversation, reader, receipt, adv).await
    }
}

/// Tells the senders of the messages in `adv` that `reader` got or read them.
async fn announce(
    store: &dyn Store,
    fanout: &dyn Fanout,
    conversation: ConversationId,
    reader: UserId,
    receipt: Receipt,
    adv: Advanced,
) -> Result<(), Error> {
    let rows = store.messages_between(conversation, adv.old, adv.new, reader, STATUS_EVENTS_CAP + 1).await?;
    tell_senders(fanout, conversation, reader, receipt, rows.iter().collect()).await;
    Ok(())
}

/// One `message_status` per message of `newest_first` (the text messages
/// from others a watermark move covered), oldest first; past
/// [`STATUS_EVENTS_CAP`] only the newest.
async fn tell_senders(
    fanout: &dyn Fanout,
    conversation: ConversationId,
    reader: UserId,
    receipt: Receipt,
    mut newest_first: Vec<&Message>,
) {
    if newest_first.len() as i64 > STATUS_EVENTS_CAP {
        newest_first.truncate(1);
    }
    for r in newest_first.into_iter().rev() {
        let event =
            Event::Receipt { conversation_id: conversation, message_id: r.id, seq: r.seq, receipt, reader };
        fanout.send(r.sender_id, event, None).await;
    }
}
