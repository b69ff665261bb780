//! The chat service: who may send what to whom, in which conversation, and
//! what happens once it is stored.
//!
//! A send is: resolve the conversation → store the message (idempotent per
//! `(sender, clientMsgId)`, membership checked and committed in one
//! transaction, with a push job for each member who has no live connection
//! — the outbox `notify` delivers from) → hand it to every online member's
//! devices. Receipts
//! (`receipts`) are watermarks per member; group management is in
//! `groups`.
//!
//! Owns: the send path, history, typing, and the commands a transport builds
//! ([`SendMessage`], [`Target`]). May not touch: sockets, HTTP or SQL — it
//! talks to `store`, `presence`, `media` and the `fanout` port only.

mod blocks;
mod delivery;
mod groups;
mod live;
mod messaging;
mod receipts;
mod system_events;

pub use groups::{GroupSettings, NewGroupRequest};
pub use receipts::MemberReceipt;
pub use system_events::member_left_meta;

use crate::domain::{
    ClientMsgId, ConnectionId, Conversation, ConversationCursor, ConversationId, ConversationKind,
    ConversationPage, Envelope, Error, MessageId, MessageText, Millis, Seq, UserId, now_millis,
};
use crate::fanout::Fanout;
use crate::media::{AttachmentRequest, Media};
use crate::presence::PresenceService;
use crate::store::{NewMessage, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    /// The authenticated sender.
    pub sender: UserId,
    /// Where it goes.
    pub target: Target,
    /// The text (empty for a message of attachments only).
    pub text: MessageText,
    /// The client's idempotency key.
    pub client_msg_id: Option<ClientMsgId>,
    /// The connection it came from, which does not get its own message back.
    pub origin: Option<ConnectionId>,
    /// Media to attach (the sender's uploads, or Cloudinary uploads).
    pub attachments: Vec<AttachmentRequest>,
    /// The message it answers, in the same conversation.
    pub reply_to: Option<MessageId>,
}

/// See the module docs.
#[derive(Clone)]
pub struct Chat {
    store: Arc<dyn Store>,
    presence: Arc<PresenceService>,
    fanout: Arc<dyn Fanout>,
    media: Arc<Media>,
    groups: GroupSettings,
    /// How long a push waits for more messages to collapse into it.
    push_delay: Millis,
    deliveries: delivery::DeliveryQueue,
    /// Direct conversations found so far, by ordered user pair. One exists
    /// per pair forever once created, so a hit never goes stale; this saves
    /// a read on every direct send.
    directs: Arc<Mutex<HashMap<(UserId, UserId), ConversationId>>>,
    /// Blocks kept in memory, on a node that is alone (see `blocks`).
    blocks: Option<blocks::BlockCache>,
    /// Messages stored, live deliveries and their acks, for `/metrics`.
    metrics: Arc<crate::telemetry::Metrics>,
}

/// The direct-conversation cache is emptied when it grows past this.
const DIRECTS_MAX: usize = 100_000;

/// Store errors that mean "you may not", as the domain says it.
fn not_member(e: StoreError) -> Error {
    match e {
        StoreError::NotMember => NOT_A_MEMBER,
        // A block that committed after the service's own check (see `blocks`).
        StoreError::Blocked => Error::Forbidden("messages between you and this user are blocked"),
        other => other.into(),
    }
}

/// The one answer for "no such conversation" and "not yours": ids cannot be probed.
const NOT_A_MEMBER: Error = Error::Forbidden("you are not a member of this conversation");

impl Chat {
    /// The chat service over its collaborators; starts the live-receipt writer (`delivery`).
    pub fn new(
        store: Arc<dyn Store>,
        presence: Arc<PresenceService>,
        fanout: Arc<dyn Fanout>,
        media: Arc<Media>,
        groups: GroupSettings,
        push_delay: Millis,
    ) -> Self {
        let deliveries = delivery::DeliveryQueue::spawn(store.clone(), fanout.clone());
        let (directs, metrics) = Default::default();
        Self {
            store,
            presence,
            fanout,
            media,
            groups,
            push_delay,
            deliveries,
            directs,
            blocks: None,
            metrics,
        }
    }

    /// Keeps blocks in memory: only for a node that is alone, through which
    /// every block and unblock goes.
    pub fn with_block_cache(mut self) -> Self {
        self.blocks = Some(blocks::BlockCache::default());
        self
    }

    /// Reports to `metrics` (a private set otherwise).
    pub fn with_metrics(mut self, metrics: Arc<crate::telemetry::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Stores a message and delivers it. Returns once it is committed; the
    /// same `(sender, clientMsgId)` returns the original message and delivers
    /// nothing again.
    #[tracing::instrument(skip_all, fields(sender = %cmd.sender))]
    pub async fn send(&self, cmd: SendMessage) -> Result<Envelope, Error> {
        if let Target::User(receiver) = cmd.target {
            if receiver != cmd.sender {
                self.refuse_blocked_direct(cmd.sender, receiver).await?;
            }
        }
        let conversation_id = self.resolve(cmd.sender, cmd.target).await?;
        let attachments = self.media.attachments(cmd.sender, &cmd.attachments).await?;
        // Who gets a push is decided before the commit, so that the push job
        // is part of the message's transaction.
        let (recipients, known) = match cmd.target {
            // A direct conversation's only other member is known without a read.
            Target::User(receiver) => (vec![receiver], None),
            Target::Conversation(id) => {
                let c = self.store.conversation(id).await?.ok_or(NOT_A_MEMBER)?;
                let others = c.members.iter().map(|m| m.user_id).filter(|&u| u != cmd.sender).collect();
                (others, Some(c))
            }
        };
        if let Some(c) = known.as_ref().filter(|c| c.kind == ConversationKind::Direct) {
            if c.member(cmd.sender).is_some() {
                for &other in &recipients {
                    self.refuse_blocked_direct(cmd.sender, other).await?;
                }
            }
        }
        let quote = match cmd.reply_to {
            None => None,
            Some(r) => {
                let c = match known {
                    Some(c) => c,
                    None => self.store.conversation(conversation_id).await?.ok_or(NOT_A_MEMBER)?,
                };
                Some(self.quote_for_reply(cmd.sender, &c, r).await?)
            }
        };
        let online = self.presence.online_among(&recipients).await;
        let offline: Vec<UserId> =
            recipients.iter().zip(&online).filter(|(_, on)| !**on).map(|(&u, _)| u).collect();
        let created_at = now_millis();
        let appended = self
            .store
            .append_message(NewMessage {
                conversation_id,
                sender_id: cmd.sender,
                client_msg_id: cmd.client_msg_id.as_ref(),
                body: cmd.text.as_str(),
                created_at,
                attachments: &attachments,
                reply_to: cmd.reply_to,
                push_to: &offline,
                push_at: created_at + self.push_delay,
            })
            .await
            .map_err(not_member)?;
        if !appended.created && appended.message.conversation_id != conversation_id {
            // A clientMsgId is the sender's promise that this is the same message.
            return Err(Error::Conflict("clientMsgId was already used for another conversation".into()));
        }
        let mut message = Envelope::new(appended.message, &appended.conversation);
        if appended.created {
            message.reply = quote;
        } else {
            // A retry answers with the original as it stands now.
            let visible_after = appended.conversation.visible_after(cmd.sender);
            self.decorate(std::slice::from_mut(&mut message), |_| visible_after).await?;
        }
        if appended.created {
            self.metrics.message_stored();
            self.fan_out(&appended.conversation, &message, cmd.origin.as_ref(), Some(&offline)).await;
        }
        Ok(message)
    }

    async fn resolve(&self, sender: UserId, target: Target) -> Result<ConversationId, Error> {
        match target {
            Target::Conversation(id) => Ok(id),
            Target::User(receiver) if receiver == sender => {
                Err(Error::invalid("cannot send a message to yourself"))
            }
            Target::User(receiver) => {
                let pair = (sender.min(receiver), sender.max(receiver));
                if let Some(&id) = self.directs_lock().get(&pair) {
                    return Ok(id);
                }
                let id = match self.store.find_direct(sender, receiver).await? {
                    Some(id) => id,
                    None if self.store.user(receiver).await?.is_none() => {
                        return Err(Error::NotFound("receiver"));
                    }
                    None => self.store.direct_conversation(sender, receiver, now_millis()).await?,
                };
                let mut directs = self.directs_lock();
                if directs.len() >= DIRECTS_MAX {
                    directs.clear();
                }
                directs.insert(pair, id);
                Ok(id)
            }
        }
    }

    fn directs_lock(&self) -> std::sync::MutexGuard<'_, HashMap<(UserId, UserId), ConversationId>> {
        // Plain inserts and reads: a panic elsewhere cannot leave it inconsistent.
        self.directs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The conversation, if `user` is a member; otherwise the same
    /// `forbidden` whether or not it exists.
    async fn member_view(&self, user: UserId, id: ConversationId) -> Result<Conversation, Error> {
        match self.store.conversation(id).await? {
            Some(c) if c.member(user).is_some() => Ok(c),
            _ => Err(NOT_A_MEMBER),
        }
    }

    /// A page of history, newest first, for members only. In a group that
    /// does not share its full history, a member sees what came after they joined.
    pub async fn history(
        &self,
        user: UserId,
        conversation: ConversationId,
        before: Option<MessageId>,
        limit: i64,
    ) -> Result<Vec<Envelope>, Error> {
        let c = self.member_view(user, conversation).await?;
        let visible_after = c.visible_after(user);
        let rows = self.store.history(conversation, before, visible_after, limit).await?;
        let mut page: Vec<Envelope> = rows.into_iter().map(|r| Envelope::new(r, &c)).collect();
        self.decorate(&mut page, |_| visible_after).await?;
        Ok(page)
    }

    /// A page of the caller's conversations, most recent activity first: at
    /// most `limit`, those after `before` (from the start without it).
    pub async fn conversations(
        &self,
        user: UserId,
        before: Option<ConversationCursor>,
        limit: i64,
    ) -> Result<ConversationPage, Error> {
        let mut conversations = self.store.conversations_of(user, before, limit + 1).await?;
        let more = conversations.len() as i64 > limit;
        conversations.truncate(usize::try_from(limit).unwrap_or(0));
        let next = conversations.last().filter(|_| more).map(|s| ConversationCursor::after(&s.conversation));
        // One batch of quotes and reactions for the page, as for history.
        let mut last: Vec<Envelope> = conversations
            .iter()
            .filter_map(|s| s.last_message.clone().map(|m| Envelope::new(m, &s.conversation)))
            .collect();
        let visible: HashMap<ConversationId, Seq> =
            conversations.iter().map(|s| (s.conversation.id, s.conversation.visible_after(user))).collect();
        self.decorate(&mut last, |c| visible.get(&c).copied().unwrap_or(Seq::MAX)).await?;
        let last_messages = last.into_iter().map(|e| (e.message.conversation_id, e)).collect();
        Ok(ConversationPage { conversations, last_messages, next })
    }

    /// One conversation, for members only.
    pub async fn conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation, Error> {
        self.member_view(user, id).await
    }
}
