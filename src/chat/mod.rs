//! The chat service: who may send what to whom, in which conversation, and
//! what happens once it is stored.
//!
//! A send is: resolve the conversation → store the message (idempotent per
//! `(sender, clientMsgId)`, committed before anything else happens) → hand it
//! to every online member's devices, or to the notification hook for members
//! with no live connection. Receipts are watermarks per member (see
//! [`crate::store::MemberRow`]); every move of a watermark is announced to the
//! senders of the messages it covers.

mod message;

pub use message::{Message, MessageStatus};

use crate::domain::{
    ClientMsgId, ConnectionId, ConversationId, Error, MessageId, MessageText, Seq, UserId,
    now_millis,
};
use crate::fanout::{Event, Fanout, Receipt};
use crate::notify::Notifier;
use crate::presence::PresenceService;
use crate::store::{
    Advanced, ConversationKind, ConversationRow, ConversationSummary, NewMessage, Store, Watermark,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The direct conversation with this user (found or created).
    User(UserId),
    /// An existing conversation the sender is a member of.
    Conversation(ConversationId),
}

/// A validated send request.
#[derive(Debug, Clone)]
pub struct SendMessage {
    pub sender: UserId,
    pub target: Target,
    pub text: MessageText,
    pub client_msg_id: Option<ClientMsgId>,
    /// The connection it came from, which does not get its own message back.
    pub origin: Option<ConnectionId>,
}

/// At most this many `message_status` events are sent for one watermark
/// move; past it only the newest message is announced (statuses are
/// cumulative: a receipt for message N covers every earlier one).
const STATUS_EVENTS_CAP: i64 = 100;

/// See the module docs.
#[derive(Clone)]
pub struct Chat {
    store: Arc<dyn Store>,
    presence: Arc<PresenceService>,
    fanout: Arc<dyn Fanout>,
    notifier: Arc<dyn Notifier>,
}

impl Chat {
    pub fn new(
        store: Arc<dyn Store>,
        presence: Arc<PresenceService>,
        fanout: Arc<dyn Fanout>,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        Self {
            store,
            presence,
            fanout,
            notifier,
        }
    }

    /// Stores a message and delivers it. Returns once it is committed; the
    /// same `(sender, clientMsgId)` returns the original message and delivers
    /// nothing again.
    #[tracing::instrument(skip_all, fields(sender = %cmd.sender))]
    pub async fn send(&self, cmd: SendMessage) -> Result<Message, Error> {
        let conversation = self.resolve(cmd.sender, cmd.target).await?;
        let appended = self
            .store
            .append_message(NewMessage {
                conversation_id: conversation.id,
                sender_id: cmd.sender,
                client_msg_id: cmd.client_msg_id.as_ref(),
                body: cmd.text.as_str(),
                created_at: now_millis(),
            })
            .await?;
        let message = Message::new(appended.message, &conversation);
        if appended.created {
            self.fan_out(&conversation, &message, cmd.origin.as_ref())
                .await;
        } else if message.row.conversation_id != conversation.id {
            // A clientMsgId is the sender's promise that this is the same message.
            return Err(Error::Conflict(
                "clientMsgId was already used for another conversation",
            ));
        }
        Ok(message)
    }

    async fn resolve(&self, sender: UserId, target: Target) -> Result<ConversationRow, Error> {
        let id = match target {
            Target::User(receiver) => {
                if receiver == sender {
                    return Err(Error::invalid("cannot send a message to yourself"));
                }
                if self.store.user(receiver).await?.is_none() {
                    return Err(Error::NotFound("receiver"));
                }
                self.store
                    .direct_conversation(sender, receiver, now_millis())
                    .await?
            }
            Target::Conversation(id) => id,
        };
        self.member_view(sender, id).await
    }

    /// The conversation, if `user` is a member. Non-members get the same
    /// `not_found` as a conversation that does not exist, so ids cannot be probed.
    async fn member_view(
        &self,
        user: UserId,
        id: ConversationId,
    ) -> Result<ConversationRow, Error> {
        match self.store.conversation(id).await? {
            Some(c) if c.members.iter().any(|m| m.user_id == user) => Ok(c),
            _ => Err(Error::NotFound("conversation")),
        }
    }

    async fn fan_out(
        &self,
        conversation: &ConversationRow,
        message: &Message,
        origin: Option<&ConnectionId>,
    ) {
        let sender = message.row.sender_id;
        self.fanout
            .send(sender, Event::Message(message.clone()), origin)
            .await;
        for member in conversation.members.iter().filter(|m| m.user_id != sender) {
            let recipient = member.user_id;
            if !self.presence.is_online(recipient).await {
                self.notifier.recipient_offline(recipient, message).await;
                continue;
            }
            let receipt = self.fanout.deliver(recipient, message).await;
            let chat = self.clone();
            let (conversation_id, seq) = (message.row.conversation_id, message.row.seq);
            tokio::spawn(async move {
                if receipt.await.is_ok() {
                    if let Err(e) = chat.delivered(recipient, conversation_id, seq).await {
                        tracing::debug!(error = %e, "could not record live delivery");
                    }
                }
            });
        }
    }

    /// A device of `user` acknowledged a live message: it is delivered, unless
    /// an older message from someone else is still undelivered (then the
    /// watermark waits for `fetch_unread_messages`).
    pub async fn delivered(
        &self,
        user: UserId,
        conversation: ConversationId,
        seq: Seq,
    ) -> Result<(), Error> {
        let moved = self
            .store
            .advance(conversation, user, Watermark::Delivered, seq, true)
            .await?;
        if let Some(adv) = moved {
            self.announce(conversation, user, Receipt::Delivered, adv)
                .await?;
        }
        Ok(())
    }

    /// The messages waiting for `user` (all conversations, or one), oldest
    /// first, at most `limit`; they become delivered. The flag says whether
    /// more are waiting.
    #[tracing::instrument(skip_all, fields(user = %user))]
    pub async fn fetch_unread(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
        limit: i64,
    ) -> Result<(Vec<Message>, bool), Error> {
        if let Some(id) = conversation {
            self.member_view(user, id).await?;
        }
        let mut rows = self
            .store
            .undelivered(user, conversation, limit + 1)
            .await?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);

        let mut up_to: BTreeMap<ConversationId, Seq> = BTreeMap::new();
        for r in &rows {
            let e = up_to.entry(r.conversation_id).or_default();
            *e = (*e).max(r.seq);
        }
        let mut conversations = BTreeMap::new();
        for (&conv, &seq) in &up_to {
            // Every message from others up to `seq` is in this batch, so no gap check.
            if let Some(adv) = self
                .store
                .advance(conv, user, Watermark::Delivered, seq, false)
                .await?
            {
                self.announce(conv, user, Receipt::Delivered, adv).await?;
            }
            if let Some(c) = self.store.conversation(conv).await? {
                conversations.insert(conv, c);
            }
        }
        let messages = rows
            .into_iter()
            .filter_map(|r| {
                let c = conversations.get(&r.conversation_id)?;
                Some(Message::new(r, c))
            })
            .collect();
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
        if let Some(adv) = self
            .store
            .advance(conversation, user, Watermark::Read, row.seq, false)
            .await?
        {
            self.announce(conversation, user, Receipt::Read, adv)
                .await?;
        }
        Ok(())
    }

    /// Tells the senders of the messages in `adv` that `reader` got or read them.
    async fn announce(
        &self,
        conversation: ConversationId,
        reader: UserId,
        status: Receipt,
        adv: Advanced,
    ) -> Result<(), Error> {
        let mut rows = self
            .store
            .messages_between(
                conversation,
                adv.old,
                adv.new,
                reader,
                STATUS_EVENTS_CAP + 1,
            )
            .await?;
        if rows.len() as i64 > STATUS_EVENTS_CAP {
            rows.truncate(1);
        }
        for r in rows.into_iter().rev() {
            let event = Event::Status {
                conversation_id: conversation,
                message_id: r.id,
                seq: r.seq,
                status,
                reader,
            };
            self.fanout.send(r.sender_id, event, None).await;
        }
        Ok(())
    }

    /// Relays a typing indicator to the other members (nothing is stored).
    pub async fn typing(
        &self,
        user: UserId,
        conversation: ConversationId,
        is_typing: bool,
        origin: Option<&ConnectionId>,
    ) -> Result<(), Error> {
        let c = self.member_view(user, conversation).await?;
        for m in c.members.iter().filter(|m| m.user_id != user) {
            let event = Event::Typing {
                conversation_id: conversation,
                user,
                is_typing,
            };
            self.fanout.send(m.user_id, event, origin).await;
        }
        Ok(())
    }

    /// A page of history, newest first, for members only.
    pub async fn history(
        &self,
        user: UserId,
        conversation: ConversationId,
        before: Option<Seq>,
        limit: i64,
    ) -> Result<Vec<Message>, Error> {
        let c = self.member_view(user, conversation).await?;
        let rows = self.store.history(conversation, before, limit).await?;
        Ok(rows.into_iter().map(|r| Message::new(r, &c)).collect())
    }

    /// The caller's conversations, most recent activity first.
    pub async fn conversations(&self, user: UserId) -> Result<Vec<ConversationSummary>, Error> {
        Ok(self.store.conversations_of(user).await?)
    }

    /// One conversation, for members only.
    pub async fn conversation(
        &self,
        user: UserId,
        id: ConversationId,
    ) -> Result<ConversationRow, Error> {
        self.member_view(user, id).await
    }
}

/// The other member of a direct conversation, seen from `me`.
pub fn direct_peer(c: &ConversationRow, me: UserId) -> Option<UserId> {
    match c.kind {
        ConversationKind::Direct => c.members.iter().map(|m| m.user_id).find(|&u| u != me),
        ConversationKind::Group => None,
    }
}
