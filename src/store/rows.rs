//! What the storage traits take and return besides the domain model: the
//! inputs of each write, and the rows that only storage's callers see
//! (credentials, tokens, push jobs). The domain types themselves live in
//! `domain`; the JSON clients see is built from those in `wire`.

use crate::domain::{
    Attachment, ClientMsgId, Conversation, ConversationId, Message, MessageId, Millis, Subscription, TokenId,
    User, UserId,
};

/// What login needs to know about an account.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
    /// An administrator disabled the account (`confab admin disable-user`).
    pub disabled: bool,
}

/// Input of `create_user`.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub created_at: Millis,
}

/// A login token's row, looked up by the token's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    pub id: TokenId,
    pub user_id: UserId,
    pub expires_at: Millis,
    /// Revoked, or its user is disabled: either way it no longer authenticates.
    pub revoked: bool,
}

/// Input of `append_message`.
pub struct NewMessage<'a> {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub client_msg_id: Option<&'a ClientMsgId>,
    pub body: &'a str,
    pub created_at: Millis,
    /// Media sent with the message (already checked to be the sender's).
    pub attachments: &'a [Attachment],
    /// Members with no live connection: each of their push devices gets a
    /// push job in the message's transaction (the outbox), due at `push_at`.
    pub push_to: &'a [UserId],
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
    pub at: Millis,
}

/// Input of `create_group`.
pub struct NewGroup<'a> {
    pub creator: UserId,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
    pub full_history: bool,
    /// Initial members besides the creator (already checked to exist).
    pub members: &'a [UserId],
    pub note: SystemNote<'a>,
}

/// The result of `append_message`.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
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
    pub id: i64,
    pub subscription: Subscription,
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    /// How many messages collapsed into this job.
    pub pending: i64,
    /// Bumped whenever a newer message collapses into the job.
    pub version: i64,
    /// Failed attempts so far.
    pub attempts: i64,
}
