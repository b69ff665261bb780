//! Storage: the traits the services call, and their one implementation
//! over SQLite or PostgreSQL.
//!
//! Owns: the storage contract ([`Store`] and its parts), its inputs and
//! errors, and everything SQL: the statements (`sql`, written once for both
//! databases, with the few true differences in `dialect`), their execution
//! (`exec`), the mapping of rows to domain types (`mapping`), the shared
//! implementation of the traits (`backend` and one file per trait), and each
//! backend's own code — connection setup and its group committer (`sqlite`,
//! `sqlite_committer`, `postgres`, `postgres_committer`). Migrations are in
//! `migrations/{sqlite,postgres}`.
//!
//! May not touch: services, transports or configuration beyond the SQLite
//! durability setting; it decides nothing the services decide. Each method
//! is one atomic unit of work (one transaction), so a caller can never
//! observe or leave behind half a message or half a membership change. The
//! same suite (the integration tests' `store` module) runs against both backends.

mod account_store;
mod backend;
mod columns;
mod conversation_store;
mod dialect;
mod exec;
mod mapping;
mod media_store;
mod message_store;
mod messaging_sql;
mod messaging_store;
pub mod postgres;
mod postgres_batch;
mod postgres_committer;
mod postgres_directs;
mod postgres_receipts;
mod push_store;
mod rows;
mod sql;
pub mod sqlite;
mod sqlite_committer;
mod sqlite_search;
mod store_error;
mod user_store;

pub use backend::SqlStore;
pub use rows::*;
pub use store_error::{StoreError, StoreResult};

use crate::domain::{
    Advanced, Conversation, ConversationCursor, ConversationId, ConversationSummary, DeliveryMark, Emoji,
    GroupPatch, MediaItem, Message, MessageId, Millis, Mute, ReactionGroup, Receipt, Role, SearchQuery, Seq,
    Subscription, SubscriptionId, TokenId, User, UserId,
};
use async_trait::async_trait;
use std::collections::HashMap;

/// Accounts and login tokens.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; [`StoreError::Conflict`] if the username key is taken.
    async fn create_user(&self, user: NewUser<'_>) -> StoreResult<User>;
    /// The user with this id.
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The user, password hash and disabled flag for a username key, for login.
    async fn credentials(&self, username_key: &str) -> StoreResult<Option<Credentials>>;
    /// Users whose username key starts with `prefix`, by username.
    async fn search_users(&self, prefix: &str, limit: i64) -> StoreResult<Vec<User>>;
    /// Which of `ids` exist.
    async fn existing_users(&self, ids: &[UserId]) -> StoreResult<Vec<UserId>>;
    /// Records when the user's last connection closed.
    async fn set_last_seen(&self, id: UserId, at: Millis) -> StoreResult<()>;
    /// Stores a new token's hash; returns its id.
    async fn insert_token(
        &self,
        user: UserId,
        hash: &[u8],
        created_at: Millis,
        expires_at: Millis,
    ) -> StoreResult<TokenId>;
    /// The token with this hash (revoked or not).
    async fn token(&self, hash: &[u8]) -> StoreResult<Option<TokenRow>>;
    /// Marks a token revoked; returns its row if it existed and was live.
    async fn revoke_token(&self, hash: &[u8], at: Millis) -> StoreResult<Option<TokenRow>>;
    /// Revokes every live token of `user`; returns their ids and hashes.
    async fn revoke_user_tokens(&self, user: UserId, at: Millis) -> StoreResult<Vec<(TokenId, Vec<u8>)>>;
    /// Disables (`Some(at)`) or re-enables (`None`) the account with this
    /// username key; returns its id, `None` if there is no such account.
    async fn set_disabled(&self, username_key: &str, at: Option<Millis>) -> StoreResult<Option<UserId>>;
    /// Every disabled account.
    async fn disabled_users(&self) -> StoreResult<Vec<UserId>>;
}

/// Conversations and their membership.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// The direct conversation between two users, if it exists.
    async fn find_direct(&self, a: UserId, b: UserId) -> StoreResult<Option<ConversationId>>;
    /// Finds or creates the one direct conversation between two users.
    async fn direct_conversation(&self, a: UserId, b: UserId, now: Millis) -> StoreResult<ConversationId>;
    /// Creates a group with its creator as owner, the other members as
    /// members, and a system message recording the creation.
    /// Returns the group and its creation note.
    async fn create_group(&self, group: NewGroup<'_>) -> StoreResult<(Conversation, Message)>;
    /// The conversation with its members.
    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>>;
    /// The conversations of `ids` that exist, with their members, in two
    /// queries whatever the count (in no particular order).
    async fn conversations_by_ids(&self, ids: &[ConversationId]) -> StoreResult<Vec<Conversation>>;
    /// A page of the user's conversations, most recent activity first (the
    /// highest id first among equal activity times): at most `limit`, those
    /// after `before` in that order (from the start without it).
    async fn conversations_of(
        &self,
        user: UserId,
        before: Option<ConversationCursor>,
        limit: i64,
    ) -> StoreResult<Vec<ConversationSummary>>;
    /// Every user who shares at least one conversation with `user`, unless
    /// either of them blocks the other (who hears of `user`'s presence).
    async fn peers_of(&self, user: UserId) -> StoreResult<Vec<UserId>>;
    /// Adds the users who are not members yet (as `member`, seeing history
    /// from now on) and records a system message that `describe` writes
    /// (`(body, meta)`) for exactly those users, unless nobody is new.
    /// [`StoreError::GroupFull`] if the group would exceed `cap` members.
    async fn add_members(
        &self,
        conversation: ConversationId,
        users: &[UserId],
        cap: usize,
        actor: UserId,
        at: Millis,
        describe: &(dyn for<'x> Fn(&'x [UserId]) -> (String, String) + Send + Sync),
    ) -> StoreResult<Option<(Vec<UserId>, Message)>>;
    /// Removes a member and records `note`. If they were the last owner, the
    /// longest-standing admin (else member) becomes owner; returns who.
    /// `None` if they were not a member.
    async fn remove_member(
        &self,
        conversation: ConversationId,
        user: UserId,
        note: SystemNote<'_>,
    ) -> StoreResult<Option<(Message, Option<UserId>)>>;
    /// Sets a member's role; `Owner` hands ownership over (every current
    /// owner becomes admin). False if `user` is not a member.
    async fn set_role(&self, conversation: ConversationId, user: UserId, role: Role) -> StoreResult<bool>;
    /// Changes the group's profile; records `note` if given.
    async fn update_group(
        &self,
        conversation: ConversationId,
        patch: &GroupPatch,
        note: Option<SystemNote<'_>>,
    ) -> StoreResult<Option<Message>>;
    /// Deletes the conversation with its messages and memberships.
    async fn delete_conversation(&self, conversation: ConversationId) -> StoreResult<()>;
}

/// Messages and the delivered/read watermarks.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores a message with the conversation's next seq, or returns the
    /// original if `(sender, client_msg_id)` exists. The sender's membership
    /// is checked in the same transaction ([`StoreError::NotMember`]).
    /// Committed on return.
    async fn append_message(&self, msg: NewMessage<'_>) -> StoreResult<Appended>;
    /// The message with this id.
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>>;
    /// History page: messages older than message `before` (ids grow with
    /// seq within a conversation) and with `seq > after`, newest first.
    async fn history(
        &self,
        conversation: ConversationId,
        before: Option<MessageId>,
        after: Seq,
        limit: i64,
    ) -> StoreResult<Vec<Message>>;
    /// Messages from others above the user's delivered watermark, oldest first.
    async fn undelivered(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
        limit: i64,
    ) -> StoreResult<Vec<Message>>;
    /// Text messages in `(after, up_to]` not sent by `except_sender`, newest first.
    async fn messages_between(
        &self,
        conversation: ConversationId,
        after: Seq,
        up_to: Seq,
        except_sender: UserId,
        limit: i64,
    ) -> StoreResult<Vec<Message>>;
    /// Raises a member's watermark to `up_to` (never lowers it). Raising
    /// `Read` raises `Delivered` too. With `contiguous`, `Delivered` only moves
    /// if no message from someone else lies between the old mark and `up_to`
    /// (so a live ack can never hide an older undelivered message).
    /// Returns how far the requested watermark moved, if it did.
    async fn advance(
        &self,
        conversation: ConversationId,
        user: UserId,
        mark: Receipt,
        up_to: Seq,
        contiguous: bool,
    ) -> StoreResult<Option<Advanced>>;

    /// Raises `user`'s delivered watermark in each conversation (each listed
    /// once) to its seq (`advance` without `contiguous`), all in one
    /// transaction, in conversation order: what a fetch of unread messages
    /// delivered.
    /// Returns the conversations whose watermark moved, with how far.
    async fn advance_fetched(
        &self,
        user: UserId,
        up_to: &[(ConversationId, Seq)],
    ) -> StoreResult<Vec<(ConversationId, Advanced)>>;

    /// Text messages from others above the user's read watermark, in all
    /// their conversations (the push badge), counted in one query.
    async fn unread_total(&self, user: UserId) -> StoreResult<i64>;

    /// Live receipts, many at once in one transaction: for each mark, in the
    /// given order, `advance(conversation, user, Delivered, seq, contiguous = true)`.
    /// Returns the marks that moved a watermark, with how far.
    async fn advance_delivered_many(
        &self,
        marks: &[DeliveryMark],
    ) -> StoreResult<Vec<(DeliveryMark, Advanced)>>;
}

/// What people do with messages besides sending them (#17): edit, delete
/// (tombstones), react, search; and blocking. Each method is one transaction.
#[async_trait]
pub trait MessagingStore: Send + Sync {
    /// Replaces a live text message's text; `None` if there is no such live
    /// text message (deleted meanwhile, or a system message).
    async fn edit_message(&self, id: MessageId, body: &str, at: Millis) -> StoreResult<Option<Message>>;
    /// Turns the message into a tombstone (no text, no attachments), with
    /// its media links, reactions and waiting push gone; returns it. `None`
    /// if it was already deleted (or does not exist).
    async fn delete_message(&self, id: MessageId, at: Millis) -> StoreResult<Option<Message>>;
    /// [`MessagingStore::delete_message`] for every live text message `sender`
    /// sent (account deletion); returns which, by conversation.
    async fn delete_messages_of(
        &self,
        sender: UserId,
        at: Millis,
    ) -> StoreResult<Vec<(ConversationId, MessageId)>>;
    /// Adds (`on`) or removes `user`'s reaction with `emoji`; returns the
    /// message's reactions afterwards, ordered by first use. Adding one
    /// that exists (or removing one that does not) changes nothing.
    async fn set_reaction(
        &self,
        message: MessageId,
        user: UserId,
        emoji: &Emoji,
        on: bool,
        at: Millis,
    ) -> StoreResult<Vec<ReactionGroup>>;
    /// The reactions of many messages in one statement (a history page),
    /// by message; messages without reactions are absent.
    async fn reactions_of(
        &self,
        messages: &[MessageId],
    ) -> StoreResult<HashMap<MessageId, Vec<ReactionGroup>>>;
    /// The messages with these ids (any conversation), in no order.
    async fn messages_by_ids(&self, ids: &[MessageId]) -> StoreResult<Vec<Message>>;
    /// The live text messages `user` may see that match `query`, newest
    /// first: in `conversation` if given, older than `before` if given.
    async fn search_messages(
        &self,
        user: UserId,
        query: &SearchQuery,
        conversation: Option<ConversationId>,
        before: Option<MessageId>,
        limit: i64,
    ) -> StoreResult<Vec<Message>>;
    /// `blocker` blocks `blocked` (again: no change).
    async fn block(&self, blocker: UserId, blocked: UserId, at: Millis) -> StoreResult<()>;
    /// Lifts the block, if any.
    async fn unblock(&self, blocker: UserId, blocked: UserId) -> StoreResult<()>;
    /// Whom `blocker` blocks, by username.
    async fn blocked_by(&self, blocker: UserId) -> StoreResult<Vec<User>>;
    /// Every block `user` is part of, as `(blocker, blocked)`.
    async fn blocks_involving(&self, user: UserId) -> StoreResult<Vec<(UserId, UserId)>>;
    /// Whether either of the two blocks the other.
    async fn blocked_either_way(&self, a: UserId, b: UserId) -> StoreResult<bool>;
}

/// Push devices, mutes and the push outbox. Jobs are written by
/// `append_message` in the message's transaction; workers claim, finish,
/// retry or drop them.
#[async_trait]
pub trait PushStore: Send + Sync {
    /// Registers a device for `sub.user_id`. The same endpoint or token
    /// registered again (by anyone) moves to this user with the new keys:
    /// a device receives only the pushes of whoever registered it last.
    /// The user then keeps at most `max_per_user` devices: this one and the
    /// most recently (re-)registered others; the rest are deleted with their
    /// waiting jobs. Exact under concurrent registrations, on every node.
    async fn upsert_subscription(&self, sub: &Subscription, max_per_user: usize)
    -> StoreResult<Subscription>;
    /// The user's devices, oldest first.
    async fn subscriptions_of(&self, user: UserId) -> StoreResult<Vec<Subscription>>;
    /// Deletes a device (and its pending jobs); `user` restricts it to the
    /// owner's. False if nothing was deleted.
    async fn delete_subscription(&self, id: SubscriptionId, user: Option<UserId>) -> StoreResult<bool>;
    /// Sets or replaces a mute (`conversation: None` mutes every conversation).
    async fn set_mute(&self, user: UserId, mute: &Mute) -> StoreResult<()>;
    /// Removes a mute; false if there was none.
    async fn delete_mute(&self, user: UserId, conversation: Option<ConversationId>) -> StoreResult<bool>;
    /// Every mute of the user (including expired ones).
    async fn mutes_of(&self, user: UserId) -> StoreResult<Vec<Mute>>;
    /// Claims up to `limit` jobs due at `now` that nobody holds, until
    /// `lease_until`. Safe with several nodes: a job goes to one claimer.
    async fn claim_push_jobs(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> StoreResult<Vec<PushJob>>;
    /// The push for `job` went out: deletes it, unless a newer message
    /// collapsed into it meanwhile (version changed); then that one is due at `next_at`.
    async fn finish_push_job(&self, job: &PushJob, next_at: Millis) -> StoreResult<()>;
    /// Releases the job to run again at `at`, counting a failed attempt.
    async fn retry_push_job(&self, job: &PushJob, at: Millis) -> StoreResult<()>;
    /// Deletes the job without sending (muted, read, recipient online, gave up).
    async fn drop_push_job(&self, job: &PushJob) -> StoreResult<()>;
    /// Jobs waiting, for tests and metrics.
    async fn pending_push_jobs(&self) -> StoreResult<i64>;
}

/// Media items, who may see them, and server-wide secrets.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Stores a new media item.
    async fn insert_media(&self, media: &MediaItem) -> StoreResult<()>;
    /// The item with this id.
    async fn media(&self, id: &str) -> StoreResult<Option<MediaItem>>;
    /// Whether `user` uploaded the item or is a member of a conversation
    /// where it was sent.
    async fn media_visible_to(&self, id: &str, user: UserId) -> StoreResult<bool>;
    /// Items never sent in a message and created before `before`.
    async fn unattached_media(&self, before: Millis, limit: i64) -> StoreResult<Vec<MediaItem>>;
    /// Deletes an item and its links; false if it did not exist.
    async fn delete_media(&self, id: &str) -> StoreResult<bool>;
    /// How many items use the file with this content hash (as file or thumbnail).
    async fn files_in_use(&self, sha256: &str) -> StoreResult<i64>;
    /// Bytes of local uploads `owner` has (each distinct content counted
    /// once, thumbnails not counted): what `media.quota_bytes_per_user` limits.
    async fn media_bytes_of(&self, owner: UserId) -> StoreResult<i64>;
    /// The value stored under `name`, storing `candidate` first if there is
    /// none (so every node ends up with the same value).
    async fn secret(&self, name: &str, candidate: &str) -> StoreResult<String>;
}

/// Deleting and exporting an account (see `accounts`).
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// In one transaction: deletes the user's push devices (with their
    /// jobs), mutes and remaining memberships, and strips the account to a
    /// disabled tombstone (`tombstone` as username and key, no password,
    /// `display_name`). The row stays: the user's messages refer to it.
    async fn erase_user(
        &self,
        user: UserId,
        tombstone: &str,
        display_name: &str,
        at: Millis,
    ) -> StoreResult<()>;
    /// Text messages `user` sent, by id, after `after`: at most `limit`.
    async fn messages_by_sender(
        &self,
        user: UserId,
        after: MessageId,
        limit: i64,
    ) -> StoreResult<Vec<Message>>;
    /// Every media item `owner` uploaded, oldest first.
    async fn media_of(&self, owner: UserId) -> StoreResult<Vec<MediaItem>>;
}

/// The whole storage contract. Implementations: SQLite (embedded default)
/// and PostgreSQL (cluster mode).
#[async_trait]
pub trait Store:
    UserStore
    + ConversationStore
    + MessageStore
    + MessagingStore
    + PushStore
    + MediaStore
    + AccountStore
    + 'static
{
    /// Waits for in-flight work to finish and refuses new work.
    async fn close(&self);
    /// Whether the database answers (one trivial query), for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// From now on, report each group commit (its size and duration) to `metrics`.
    fn watch_commits(&self, metrics: std::sync::Arc<crate::telemetry::Metrics>);
}

/// Where a backend's group committer reports its commits: nowhere until
/// [`Store::watch_commits`] is called (the committer starts first).
#[derive(Clone, Default)]
pub struct CommitWatch(std::sync::Arc<std::sync::OnceLock<std::sync::Arc<crate::telemetry::Metrics>>>);

impl CommitWatch {
    /// A commit of `writes` jobs took `elapsed`.
    pub(crate) fn report(&self, writes: usize, elapsed: std::time::Duration) {
        if let Some(m) = self.0.get() {
            m.commit(writes, elapsed);
        }
    }
}
