//! Storage: the one trait every backend implements, and the rows it speaks in.
//!
//! The domain services call [`Store`]; they never see SQL. The embedded
//! default is [`sqlite::SqliteStore`]. Each method is one atomic unit of work,
//! so a caller can never observe (or leave behind) half a message.

pub mod sqlite;

use crate::domain::{ClientMsgId, ConversationId, MessageId, Millis, Seq, TokenId, UserId};
use async_trait::async_trait;

/// Storage failures. Only `Conflict` carries meaning for callers; the rest
/// are infrastructure problems.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (for example a taken username).
    #[error("unique constraint violated")]
    Conflict,
    /// The store is shutting down and accepts no more work.
    #[error("store is closed")]
    Closed,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::PoolClosed => StoreError::Closed,
            _ => StoreError::Database(e),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A registered user as stored (without the password hash).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub created_at: Millis,
    pub last_seen_at: Option<Millis>,
}

/// Input of [`Store::create_user`].
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
    pub revoked: bool,
}

/// Direct (two people) or group conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    Direct,
    Group,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
        }
    }

    fn from_db(s: &str) -> Self {
        if s == "group" {
            ConversationKind::Group
        } else {
            ConversationKind::Direct
        }
    }
}

/// One member of a conversation with their delivery and read watermarks:
/// every message with `seq <= delivered_seq` reached one of their devices,
/// every message with `seq <= read_seq` was read.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub user_id: UserId,
    pub role: String,
    pub delivered_seq: Seq,
    pub read_seq: Seq,
    /// The member's profile, so a conversation list needs no extra look-ups.
    pub username: String,
    pub display_name: String,
}

/// A conversation with its members.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub name: Option<String>,
    pub created_at: Millis,
    pub last_seq: Seq,
    pub last_message_at: Option<Millis>,
    pub members: Vec<MemberRow>,
}

/// A conversation as listed for one user.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    pub conversation: ConversationRow,
    pub unread: i64,
    pub last_message: Option<MessageRow>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub sender_id: UserId,
    pub client_msg_id: Option<ClientMsgId>,
    pub body: String,
    pub created_at: Millis,
}

/// Input of [`Store::append_message`].
pub struct NewMessage<'a> {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub client_msg_id: Option<&'a ClientMsgId>,
    pub body: &'a str,
    pub created_at: Millis,
}

/// The result of [`Store::append_message`].
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    pub message: MessageRow,
    /// `false` when `(sender, client_msg_id)` already existed and the original
    /// message is returned instead of a new one.
    pub created: bool,
}

/// Which watermark to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watermark {
    Delivered,
    Read,
}

/// How far a watermark moved: messages with `old < seq <= new` changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advanced {
    pub old: Seq,
    pub new: Seq,
}

/// The storage contract. Implementations: SQLite (embedded default).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- users and tokens ---
    /// Creates a user; [`StoreError::Conflict`] if the username key is taken.
    async fn create_user(&self, user: NewUser<'_>) -> StoreResult<UserRow>;
    async fn user(&self, id: UserId) -> StoreResult<Option<UserRow>>;
    /// The user and password hash for a username key, for login.
    async fn credentials(&self, username_key: &str) -> StoreResult<Option<(UserRow, String)>>;
    /// Users whose username key starts with `prefix`, by username.
    async fn search_users(&self, prefix: &str, limit: i64) -> StoreResult<Vec<UserRow>>;
    async fn set_last_seen(&self, id: UserId, at: Millis) -> StoreResult<()>;
    async fn insert_token(
        &self,
        user: UserId,
        hash: &[u8],
        created_at: Millis,
        expires_at: Millis,
    ) -> StoreResult<TokenId>;
    async fn token(&self, hash: &[u8]) -> StoreResult<Option<TokenRow>>;
    /// Marks a token revoked; returns its row if it existed and was live.
    async fn revoke_token(&self, hash: &[u8], at: Millis) -> StoreResult<Option<TokenRow>>;

    // --- conversations ---
    /// Finds or creates the one direct conversation between two users.
    async fn direct_conversation(
        &self,
        a: UserId,
        b: UserId,
        now: Millis,
    ) -> StoreResult<ConversationId>;
    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<ConversationRow>>;
    /// The caller's conversations, most recent activity first.
    async fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationSummary>>;
    /// Every user who shares at least one conversation with `user`.
    async fn peers_of(&self, user: UserId) -> StoreResult<Vec<UserId>>;

    // --- messages ---
    /// Stores a message with the conversation's next seq, or returns the
    /// original if `(sender, client_msg_id)` exists. Committed on return.
    async fn append_message(&self, msg: NewMessage<'_>) -> StoreResult<Appended>;
    async fn message(&self, id: MessageId) -> StoreResult<Option<MessageRow>>;
    /// History page: messages with `seq < before` (or the newest), newest first.
    async fn history(
        &self,
        conversation: ConversationId,
        before: Option<Seq>,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>>;
    /// Messages from others above the user's delivered watermark, oldest first.
    async fn undelivered(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>>;
    /// Messages in `(after, up_to]` not sent by `except_sender`, oldest first.
    async fn messages_between(
        &self,
        conversation: ConversationId,
        after: Seq,
        up_to: Seq,
        except_sender: UserId,
        limit: i64,
    ) -> StoreResult<Vec<MessageRow>>;
    /// Raises a member's watermark to `up_to` (never lowers it). Raising
    /// `Read` raises `Delivered` too. With `contiguous`, `Delivered` only moves
    /// if no message from someone else lies between the old mark and `up_to`
    /// (so a live ack can never hide an older undelivered message).
    /// Returns how far the requested watermark moved, if it did.
    async fn advance(
        &self,
        conversation: ConversationId,
        user: UserId,
        mark: Watermark,
        up_to: Seq,
        contiguous: bool,
    ) -> StoreResult<Option<Advanced>>;

    /// Waits for in-flight work to finish and refuses new work.
    async fn close(&self);
}
