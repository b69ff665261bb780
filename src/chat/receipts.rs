//! Delivered and read: moving the per-member watermarks and telling senders.
//!
//! Owns: fetching unread messages, marking read, per-member receipts, and
//! announcing receipts to senders. May not touch: sockets or SQL.

use super::Chat;
use crate::domain::{Advanced, ConversationId, Envelope, Error, MessageId, Receipt, Seq, UserId};
use crate::fanout::{Event, Fanout};
use crate::store::Store;
use std::collections::BTreeMap;

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
        // up to it is in this page, so no gap check.
        let mut up_to: BTreeMap<ConversationId, Seq> = BTreeMap::new();
        for r in &rows {
            let e = up_to.entry(r.conversation_id).or_default();
            *e = (*e).max(r.seq);
        }
        let marks: Vec<(ConversationId, Seq)> = up_to.iter().map(|(&c, &s)| (c, s)).collect();
        for (conv, adv) in self.store.advance_fetched(user, &marks).await? {
            self.announce(conv, user, Receipt::Delivered, adv).await?;
        }
        let mut conversations = BTreeMap::new();
        for &conv in up_to.keys() {
            if let Some(c) = self.store.conversation(conv).await? {
                conversations.insert(conv, c);
            }
        }
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
    let mut rows =
        store.messages_between(conversation, adv.old, adv.new, reader, STATUS_EVENTS_CAP + 1).await?;
    if rows.len() as i64 > STATUS_EVENTS_CAP {
        rows.truncate(1);
    }
    for r in rows.into_iter().rev() {
        let event =
            Event::Receipt { conversation_id: conversation, message_id: r.id, seq: r.seq, receipt, reader };
        fanout.send(r.sender_id, event, None).await;
    }
    Ok(())
}
