//! What the storage traits take and return besides the domain model: the
//! inputs of each write, and the rows that only storage's callers see
//! (credentials, tokens, push jobs). The domain types themselves live in
//! `domain`; the JSON clients see is built from those in `wire`.
//!
//! Owns: these inputs and rows. May not touch: SQL.

use crate::domain::{
    Attachment, ClientMsgId, Conversation, ConversationId, Message, MessageId, Millis, Subscription, TokenId,
    User, UserId,
};

/// What login needs to know about an account.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    /// The account.
    pub user: User,
    /// The Argon2id hash to verify against.
    pub password_hash: String,
    /// An administrator disabled the account (`confab admin disable-user`).
    pub disabled: bool,
}

/// Input of `create_user`.
pub struct NewUser<'a> {
    /// As the user spelled it.
    pub username: &'a str,
    /// Lower-cased: what makes it unique.
    pub username_key: &'a str,
    /// The name shown to others.
    pub display_name: &'a str,
    /// The Argon2id hash.
    pub password_hash: &'a str,
    /// When they registered.
    pub created_at: Millis,
}

/// A login token's row, looked up by the token's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    /// Its id (the sockets opened with it join room `t:ID`).
    pub id: TokenId,
    /// Whose it is.
    pub user_id: UserId,
    /// When it stops working.
    pub expires_at: Millis,
    /// Revoked, or its user is disabled: either way it no longer authenticates.
    pub revoked: bool,
}

/// Input of `append_message`.
pub struct NewMessage<'a> {
    /// Where.
    pub conversation_id: ConversationId,
    /// Who sends (must be a member).
    pub sender_id: UserId,
    /// The idempotency key, if any.
    pub client_msg_id: Option<&'a ClientMsgId>,
    /// The text.
    pub body: &'a str,
    /// When it was sent.
    pub created_at: Millis,
    /// Media sent with the message (already checked to be the sender's).
    pub attachments: &'a [Attachment],
    /// The message it answers (already checked to be in the same conversation).
    pub reply_to: Option<MessageId>,
    /// Members with no live connection: each of their push devices gets a
    /// push job in the message's transaction (the outbox), due at `push_at`.
    pub push_to: &'a [UserId],
    /// When those push jobs are due.
    pub push_at: Millis,
}

/// A [`NewMessage`] that owns its parts, to wait in a committer's queue.
pub(crate) struct QueuedMessage {
    pub(crate) conversation_id: ConversationId,
    pub(crate) sender_id: UserId,
    pub(crate) client_msg_id: Option<ClientMsgId>,
    pub(crate) body: String,
    pub(crate) created_at: Millis,
    pub(crate) attachments: Vec<Attachment>,
    pub(crate) reply_to: Option<MessageId>,
    pub(crate) push_to: Vec<UserId>,
    pub(crate) push_at: Millis,
}

impl QueuedMessage {
    pub(crate) fn of(m: &NewMessage<'_>) -> Self {
        Self {
            conversation_id: m.conversation_id,
            sender_id: m.sender_id,
            client_msg_id: m.client_msg_id.cloned(),
            body: m.body.to_string(),
            created_at: m.created_at,
            attachments: m.attachments.to_vec(),
            reply_to: m.reply_to,
            push_to: m.push_to.to_vec(),
            push_at: m.push_at,
        }
    }

    pub(crate) fn as_new(&self) -> NewMessage<'_> {
        NewMessage {
            conversation_id: self.conversation_id,
            sender_id: self.sender_id,
            client_msg_id: self.client_msg_id.as_ref(),
            body: &self.body,
            created_at: self.created_at,
            attachments: &self.attachments,
            reply_to: self.reply_to,
            push_to: &self.push_to,
            push_at: self.push_at,
        }
    }
}

/// A system message to record along with a membership or profile change.
#[derive(Debug, Clone, Copy)]
pub struct SystemNote<'a> {
    /// Who caused it.
    pub actor: UserId,
    /// Human-readable text, e.g. "ana added bob".
    pub body: &'a str,
    /// The event as JSON.
    pub meta: &'a str,
    /// When it happened.
    pub at: Millis,
}

/// Input of `create_group`.
pub struct NewGroup<'a> {
    /// Who creates it (becomes owner).
    pub creator: UserId,
    /// The group's name.
    pub name: &'a str,
    /// Its description.
    pub description: Option<&'a str>,
    /// Its picture.
    pub avatar_url: Option<&'a str>,
    /// Whether new members read earlier messages.
    pub full_history: bool,
    /// Initial members besides the creator (already checked to exist).
    pub members: &'a [UserId],
    /// The system message recording the creation.
    pub note: SystemNote<'a>,
}

/// The result of `append_message`.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// The stored message.
    pub message: Message,
    /// `false` when `(sender, client_msg_id)` already existed and the original
    /// message is returned instead of a new one.
    pub created: bool,
    /// The conversation as of the commit, members included: exactly who the
    /// message is for.
    pub conversation: Conversation,
}

/// A claimed push job: one device, one conversation, the newest message.
#[derive(Debug, Clone, PartialEq)]
pub struct PushJob {
    /// The job's id.
    pub id: i64,
    /// The device it is for.
    pub subscription: Subscription,
    /// The conversation it is about.
    pub conversation_id: ConversationId,
    /// The newest message that collapsed into it.
    pub message_id: MessageId,
    /// How many messages collapsed into this job.
    pub pending: i64,
    /// Bumped whenever a newer message collapses into the job.
    pub version: i64,
    /// Failed attempts so far.
    pub attempts: i64,
}
