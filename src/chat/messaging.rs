//! What people do to messages after sending them: edit, delete (a
//! tombstone), react; and finding them again (search). Also what decorates
//! a message when it is read back — its reactions and the quote of the
//! message it answers — loaded for a whole page at once.
//!
//! Owns: who may edit, delete or react, what every member is told
//! (`message_updated`, `message_deleted`, `reaction_updated`), and the
//! decoration of pages. May not touch: sockets or SQL. Nothing here sends a
//! push: edits, deletions and reactions never notify, and a deleted
//! message's waiting push is dropped by the store with it.

use super::Chat;
use crate::domain::{
    Conversation, ConversationId, ConversationKind, Emoji, Envelope, Error, Message, MessageId, MessageKind,
    MessageText, Quote, ReactionGroup, Role, SearchQuery, Seq, UserId, now_millis,
};
use crate::fanout::Event;
use std::collections::{BTreeSet, HashMap};

/// The one answer for "no such message" and "not one you can see".
const NO_MESSAGE: Error = Error::NotFound("message");

impl Chat {
    /// The message and its conversation, if `user` is a member who may see
    /// it (history visibility); otherwise `not_found`, so ids cannot be probed.
    pub(super) async fn visible_message(
        &self,
        user: UserId,
        id: MessageId,
    ) -> Result<(Message, Conversation), Error> {
        let message = self.store.message(id).await?.ok_or(NO_MESSAGE)?;
        let conversation = self.store.conversation(message.conversation_id).await?.ok_or(NO_MESSAGE)?;
        if conversation.member(user).is_none() || message.seq <= conversation.visible_after(user) {
            return Err(NO_MESSAGE);
        }
        Ok((message, conversation))
    }

    /// Replaces the text of `user`'s own text message; every member's
    /// devices get `message_updated`.
    #[tracing::instrument(skip_all, fields(user = %user))]
    pub async fn edit(&self, user: UserId, id: MessageId, text: MessageText) -> Result<Envelope, Error> {
        let (message, conversation) = self.visible_message(user, id).await?;
        if message.is_deleted() {
            return Err(NO_MESSAGE);
        }
        if message.sender_id != user {
            return Err(Error::Forbidden("you can only edit your own messages"));
        }
        if message.kind != MessageKind::Text {
            return Err(Error::Forbidden("only text messages can be edited"));
        }
        if text.as_str().is_empty() && message.attachments.is_empty() {
            return Err(Error::invalid("`message` must not be empty"));
        }
        // Deleted meanwhile: the store edits live text messages only.
        let edited = self.store.edit_message(id, text.as_str(), now_millis()).await?.ok_or(NO_MESSAGE)?;
        let mut envelope = Envelope::new(edited, &conversation);
        self.decorate(std::slice::from_mut(&mut envelope), |_| 0).await?;
        self.tell_members(&conversation, Event::MessageUpdated(Box::new(envelope.clone()))).await;
        Ok(envelope)
    }

    /// Deletes a message: its sender may, and in a group its owners and
    /// admins may delete anyone's. Deleting a deleted message is done.
    #[tracing::instrument(skip_all, fields(user = %user))]
    pub async fn delete(&self, user: UserId, id: MessageId) -> Result<(), Error> {
        let (message, conversation) = self.visible_message(user, id).await?;
        let moderator = conversation.kind == ConversationKind::Group
            && conversation.member(user).is_some_and(|m| matches!(m.role, Role::Owner | Role::Admin));
        if message.sender_id != user && !moderator {
            return Err(Error::Forbidden("you can only delete your own messages"));
        }
        if message.kind != MessageKind::Text {
            return Err(Error::Forbidden("records of group changes cannot be deleted"));
        }
        if self.store.delete_message(id, now_millis()).await?.is_some() {
            let event = Event::MessageDeleted { conversation_id: conversation.id, message_id: id };
            self.tell_members(&conversation, event).await;
        }
        Ok(())
    }

    /// Deletes every message `user` ever sent (account deletion), as
    /// [`Chat::delete`] would one by one: tombstones, media links, reactions
    /// and waiting pushes gone; members online are told. Returns how many.
    pub async fn delete_all_messages_of(&self, user: UserId) -> Result<usize, Error> {
        let deleted = self.store.delete_messages_of(user, now_millis()).await?;
        let mut by_conversation: HashMap<ConversationId, Vec<MessageId>> = HashMap::new();
        for &(c, m) in &deleted {
            by_conversation.entry(c).or_default().push(m);
        }
        for (id, messages) in by_conversation {
            let Some(conversation) = self.store.conversation(id).await? else { continue };
            for message_id in messages {
                self.tell_members(&conversation, Event::MessageDeleted { conversation_id: id, message_id })
                    .await;
            }
        }
        Ok(deleted.len())
    }

    /// Adds (`on`) or removes `user`'s reaction; every member's devices get
    /// `reaction_updated`. Members only; not on deleted or system messages.
    #[tracing::instrument(skip_all, fields(user = %user))]
    pub async fn react(
        &self,
        user: UserId,
        id: MessageId,
        emoji: Emoji,
        on: bool,
    ) -> Result<Vec<ReactionGroup>, Error> {
        let (message, conversation) = self.visible_message(user, id).await?;
        if message.is_deleted() {
            return Err(NO_MESSAGE);
        }
        if message.kind != MessageKind::Text {
            return Err(Error::Forbidden("records of group changes take no reactions"));
        }
        let reactions = self.store.set_reaction(id, user, &emoji, on, now_millis()).await?;
        let event = Event::ReactionUpdated {
            conversation_id: conversation.id,
            message_id: id,
            reactions: reactions.clone(),
        };
        self.tell_members(&conversation, event).await;
        Ok(reactions)
    }

    /// Messages `user` may see that match `query`, newest first, decorated.
    #[tracing::instrument(skip_all, fields(user = %user))]
    pub async fn search(
        &self,
        user: UserId,
        query: &SearchQuery,
        conversation: Option<ConversationId>,
        before: Option<MessageId>,
        limit: i64,
    ) -> Result<Vec<Envelope>, Error> {
        if let Some(id) = conversation {
            self.member_view(user, id).await?;
        }
        let rows = self.store.search_messages(user, query, conversation, before, limit).await?;
        let mut conversations: HashMap<ConversationId, Conversation> = HashMap::new();
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            if !conversations.contains_key(&row.conversation_id) {
                let Some(c) = self.store.conversation(row.conversation_id).await? else { continue };
                conversations.insert(c.id, c);
            }
            if let Some(c) = conversations.get(&row.conversation_id) {
                found.push(Envelope::new(row, c));
            }
        }
        self.decorate(&mut found, |c| conversations.get(&c).map_or(0, |c| c.visible_after(user))).await?;
        Ok(found)
    }

    /// Fills in the reactions and reply quotes of a page of messages: one
    /// read for all reactions and one for all quoted messages, whatever the
    /// page's size. `hidden_up_to` says, per conversation, up to which seq
    /// the reader may not see messages: a quote of one of those stays empty.
    pub(super) async fn decorate(
        &self,
        page: &mut [Envelope],
        hidden_up_to: impl Fn(ConversationId) -> Seq,
    ) -> Result<(), Error> {
        let live: Vec<MessageId> =
            page.iter().filter(|e| !e.message.is_deleted()).map(|e| e.message.id).collect();
        let quoted: BTreeSet<MessageId> =
            page.iter().filter(|e| !e.message.is_deleted()).filter_map(|e| e.message.reply_to).collect();
        let quoted: Vec<MessageId> = quoted.into_iter().collect();
        let mut reactions = self.store.reactions_of(&live).await?;
        let quotes: HashMap<MessageId, Message> =
            self.store.messages_by_ids(&quoted).await?.into_iter().map(|m| (m.id, m)).collect();
        for e in page.iter_mut() {
            e.reactions = reactions.remove(&e.message.id).unwrap_or_default();
            e.reply = e.message.reply_to.filter(|_| !e.message.is_deleted()).and_then(|r| {
                let q = quotes.get(&r)?;
                let hidden = q.seq <= hidden_up_to(q.conversation_id);
                Some(Quote::new(q.id, q.sender_id, &q.body, q.is_deleted() || hidden))
            });
        }
        Ok(())
    }

    /// The quote a new reply shows, after checking the quoted message is in
    /// `conversation` and visible to `sender`; else `invalid`.
    pub(super) async fn quote_for_reply(
        &self,
        sender: UserId,
        conversation: &Conversation,
        reply_to: MessageId,
    ) -> Result<Quote, Error> {
        let wrong = || Error::invalid("`replyTo` must be a message of the same conversation");
        let quoted = self.store.message(reply_to).await?.ok_or_else(wrong)?;
        if quoted.conversation_id != conversation.id || quoted.seq <= conversation.visible_after(sender) {
            return Err(wrong());
        }
        Ok(Quote::new(quoted.id, quoted.sender_id, &quoted.body, quoted.is_deleted()))
    }

    /// Sends `event` to every device of every member of `conversation`.
    pub(super) async fn tell_members(&self, conversation: &Conversation, event: Event) {
        for m in &conversation.members {
            self.fanout.send(m.user_id, event.clone(), None).await;
        }
    }
}
