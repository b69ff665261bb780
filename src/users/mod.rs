//! The user service: registration, login, and the tokens that authenticate
//! every HTTP request and every Socket.IO event.
//!
//! Tokens are 32 random bytes handed to the client once; only their SHA-256
//! is stored. Checks are answered from a bounded in-memory cache of live
//! tokens, so a per-event check costs a cache lookup; a token not cached (or,
//! in a cluster, cached longer than `auth.token_recheck_secs`) is read from
//! the database. Logout revokes in the database first and then invalidates
//! the cache, which never lets a fill that raced the logout bring the token
//! back (see [`tokens::TokenCache`]).
//!
//! Accounts disabled by `confab admin disable-user` (another process, writing
//! the database directly) are noticed by [`Users::watch_disabled`]: every node
//! polls the disabled set, and when it changes drops the cached sessions and
//! sockets of those users.
//!
//! Owns: accounts, sessions and the [`Revocations`] port. May not touch:
//! sockets (it closes them through `fanout`) or SQL.

mod password;
mod throttle;
mod tokens;

use crate::domain::{DisplayName, Error, Millis, Password, TokenId, User, UserId, Username, now_millis};
use crate::fanout::Fanout;
use crate::store::{NewUser, Store, StoreError};
pub use password::Hasher;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use tokens::TokenHash;

/// Polls that sweep the token cache after the disabled set changed.
const SWEEPS_AFTER_CHANGE: u32 = 10;

/// Who is behind a request or a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Whose session it is.
    pub user_id: UserId,
    /// The token's row (sockets opened with it join room `t:ID`).
    pub token_id: TokenId,
    /// The token's hash, the cache key.
    pub token_hash: TokenHash,
    /// When the token expires.
    pub expires_at: Millis,
}

/// Tells the other nodes of a cluster that a token was revoked, so they
/// drop it from their caches too.
#[async_trait::async_trait]
pub trait Revocations: Send + Sync + 'static {
    /// Tells the other nodes that this token is revoked.
    async fn revoked(&self, hash: &TokenHash);
}

/// A single node has nobody else to tell.
pub struct NoOtherNodes;

#[async_trait::async_trait]
impl Revocations for NoOtherNodes {
    async fn revoked(&self, _: &TokenHash) {}
}

/// The user service. See the module docs.
pub struct Users {
    store: Arc<dyn Store>,
    fanout: Arc<dyn Fanout>,
    revocations: Arc<dyn Revocations>,
    tokens: tokens::TokenCache,
    throttle: throttle::LoginThrottle,
    /// Bounds the memory of concurrent password hashing (see [`password`]).
    hasher: Hasher,
    token_ttl: Duration,
    /// Cluster mode: re-read a cached token from the database once it was
    /// read this long ago (the backstop for a missed revocation message).
    recheck: Option<Duration>,
}

impl Users {
    /// The user service; tokens live for `token_ttl`.
    pub fn new(
        store: Arc<dyn Store>,
        fanout: Arc<dyn Fanout>,
        revocations: Arc<dyn Revocations>,
        hasher: Hasher,
        token_ttl: Duration,
    ) -> Self {
        Self {
            store,
            fanout,
            revocations,
            tokens: tokens::TokenCache::default(),
            throttle: throttle::LoginThrottle::default(),
            hasher,
            token_ttl,
            recheck: None,
        }
    }

    /// Re-reads cached tokens from the database once they are `every` old
    /// (for cluster nodes: a revocation message may be missed).
    pub fn with_recheck(mut self, every: Option<Duration>) -> Self {
        self.recheck = every.filter(|d| !d.is_zero());
        self
    }

    /// How often a socket's token is re-read, if ever; see [`Users::with_recheck`].
    pub fn recheck_every(&self) -> Option<Duration> {
        self.recheck
    }

    /// Evicts a token revoked elsewhere from this node's cache.
    pub fn forget(&self, hash: &TokenHash) {
        self.tokens.invalidate(hash);
    }

    /// Creates an account and logs it in.
    #[tracing::instrument(skip_all, fields(username = %username.as_str()))]
    pub async fn register(
        &self,
        username: Username,
        password: Password,
        display_name: Option<DisplayName>,
    ) -> Result<(User, String), Error> {
        let hash = self.hasher.hash(password).await?;
        let display =
            display_name.map(|d| d.as_str().to_string()).unwrap_or_else(|| username.as_str().to_string());
        let user = self
            .store
            .create_user(NewUser {
                username: username.as_str(),
                username_key: &username.canonical(),
                display_name: &display,
                password_hash: &hash,
                created_at: now_millis(),
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict => Error::Conflict("username is already taken".into()),
                other => other.into(),
            })?;
        let token = self.issue_token(user.id).await?;
        Ok((user, token))
    }

    /// Checks credentials and issues a new token. Unknown usernames and wrong
    /// passwords are indistinguishable, in answer and in time. Repeated
    /// failures are throttled (see [`throttle`]): `rate_limited`, before the
    /// password is even looked at; the attempt is counted before the hash.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<(User, String), Error> {
        let account = username.trim().to_lowercase();
        let attempt = match self.throttle.begin(&account, from).await {
            Ok(attempt) => attempt,
            Err(wait) => {
                tracing::info!(wait_ms = wait.as_millis() as u64, "login throttled");
                return Err(Error::RateLimited);
            }
        };
        let found = match Username::parse(username) {
            Ok(u) => self.store.credentials(&u.canonical()).await?,
            Err(_) => None,
        };
        let (user, stored_hash, disabled) = match found {
            Some(c) => (Some(c.user), Some(c.password_hash), c.disabled),
            None => (None, None, false),
        };
        let ok = self.hasher.verify(password.to_string(), stored_hash).await?;
        match (user, ok) {
            // Said only to whoever knows the password, so it reveals nothing to guessers.
            (Some(_), true) if disabled => {
                attempt.succeeded();
                Err(Error::AccountDisabled)
            }
            (Some(user), true) => {
                attempt.succeeded();
                let token = self.issue_token(user.id).await?;
                Ok((user, token))
            }
            // The reservation stays counted as a failure.
            _ => Err(Error::Unauthorized("wrong username or password")),
        }
    }

    async fn issue_token(&self, user: UserId) -> Result<String, Error> {
        let (token, hash) = tokens::generate();
        let now = now_millis();
        let expires_at = now + self.token_ttl.as_millis() as i64;
        // A logout-all racing this login may revoke the new row before it is cached.
        let seen = self.tokens.generation();
        let id = self.store.insert_token(user, hash.as_bytes(), now, expires_at).await?;
        let session = Session { user_id: user, token_id: id, token_hash: hash, expires_at };
        self.tokens.fill(session, seen, Instant::now());
        Ok(token)
    }

    /// Resolves a bearer token to its session.
    pub async fn authenticate(&self, token: &str) -> Result<Session, Error> {
        self.session(&TokenHash::of(token)).await
    }

    /// Re-checks a session (before each Socket.IO event, and when a socket's
    /// token is due): still live, not expired. A cache hit costs a lookup;
    /// otherwise the token is read from the database. Returns the session as
    /// now known.
    pub async fn check(&self, session: &Session) -> Result<Session, Error> {
        self.session(&session.token_hash).await
    }

    async fn session(&self, hash: &TokenHash) -> Result<Session, Error> {
        let now = now_millis();
        if let Some((s, read_at)) = self.tokens.get(hash) {
            if s.expires_at <= now {
                self.tokens.drop_expired(hash);
                return Err(Error::Unauthorized("token expired"));
            }
            if self.recheck.is_none_or(|every| read_at.elapsed() < every) {
                return Ok(s);
            }
        }
        let seen = self.tokens.generation();
        let read_at = Instant::now();
        let row = self.store.token(hash.as_bytes()).await?;
        let row = match row {
            Some(row) if !row.revoked && row.expires_at > now => row,
            None => return Err(Error::Unauthorized("invalid token")),
            Some(r) if r.revoked => {
                self.tokens.drop_revoked(hash);
                return Err(Error::Unauthorized("token revoked"));
            }
            Some(_) => {
                self.tokens.drop_expired(hash);
                return Err(Error::Unauthorized("token expired"));
            }
        };
        let session =
            Session { user_id: row.user_id, token_id: row.id, token_hash: *hash, expires_at: row.expires_at };
        self.tokens.fill(session.clone(), seen, read_at);
        Ok(session)
    }

    /// Revokes the session's token and closes the sockets opened with it.
    /// The database first: once the row is revoked, no cache fill can bring
    /// the token back.
    #[tracing::instrument(skip_all, fields(user = %session.user_id))]
    pub async fn logout(&self, session: &Session) -> Result<(), Error> {
        self.store.revoke_token(session.token_hash.as_bytes(), now_millis()).await?;
        self.tokens.invalidate(&session.token_hash);
        self.revocations.revoked(&session.token_hash).await;
        self.fanout.disconnect_token(session.token_id).await;
        Ok(())
    }

    /// Ends every session of the user: all tokens revoked, every socket
    /// opened with them closed, on every node.
    pub async fn logout_everywhere(&self, user: UserId) -> Result<usize, Error> {
        let revoked = self.store.revoke_user_tokens(user, now_millis()).await?;
        for (id, hash) in &revoked {
            let Ok(bytes) = <[u8; 32]>::try_from(hash.as_slice()) else { continue };
            let hash = TokenHash::from_bytes(bytes);
            self.tokens.invalidate(&hash);
            self.revocations.revoked(&hash).await;
            self.fanout.disconnect_token(*id).await;
        }
        Ok(revoked.len())
    }

    /// Polls the disabled accounts every `every` until `users` is dropped;
    /// see `Users::drop_disabled`.
    pub fn watch_disabled(users: std::sync::Weak<Users>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut known = HashSet::new();
            let mut sweeps_left = 0;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(users) = users.upgrade() else { break };
                match users.drop_disabled(&mut known, &mut sweeps_left).await {
                    Ok(()) => {}
                    Err(Error::Unavailable(_)) => break, // the store is closed
                    Err(e) => tracing::warn!(error = %e, "could not check for disabled accounts"),
                }
            }
        })
    }

    /// One poll: reads the disabled accounts and, while the set is new
    /// (for [`SWEEPS_AFTER_CHANGE`] polls, so that a login or token lookup that
    /// was in flight during the disabling is caught too), ends their cached
    /// sessions here and closes the sockets opened with them, on every node.
    async fn drop_disabled(&self, known: &mut HashSet<UserId>, sweeps_left: &mut u32) -> Result<(), Error> {
        let disabled: HashSet<UserId> = self.store.disabled_users().await?.into_iter().collect();
        if disabled != *known {
            *known = disabled;
            *sweeps_left = SWEEPS_AFTER_CHANGE;
        }
        if *sweeps_left == 0 || known.is_empty() {
            return Ok(());
        }
        *sweeps_left -= 1;
        for session in self.tokens.remove_users(known) {
            tracing::info!(user = %session.user_id, "disabled account: closing its session");
            self.fanout.disconnect_token(session.token_id).await;
        }
        Ok(())
    }

    /// Checks the account's password before a destructive change (deleting
    /// the account): `forbidden` if wrong. Counted like a login attempt, so it
    /// cannot be used to guess faster than logging in.
    pub async fn verify_password(&self, user: UserId, password: &str) -> Result<(), Error> {
        let account = self.store.user(user).await?.ok_or(Error::NotFound("user"))?;
        let key = Username::parse(&account.username).map_err(|_| Error::NotFound("user"))?.canonical();
        let attempt = self.throttle.begin(&key, None).await.map_err(|_| Error::RateLimited)?;
        let stored = self.store.credentials(&key).await?.map(|c| c.password_hash);
        if self.hasher.verify(password.to_string(), stored).await? {
            attempt.succeeded();
            Ok(())
        } else {
            Err(Error::Forbidden("wrong password"))
        }
    }

    /// The user with this id, or `not_found`.
    pub async fn user(&self, id: UserId) -> Result<User, Error> {
        self.store.user(id).await?.ok_or(Error::NotFound("user"))
    }

    /// Users whose username starts with `prefix` (case-insensitive).
    pub async fn search(&self, prefix: &str, limit: i64) -> Result<Vec<User>, Error> {
        let prefix = prefix.trim().to_ascii_lowercase();
        // No username has a NUL (PostgreSQL could not even compare with it),
        // and none starts with '#', which only deleted accounts' tombstones do.
        if prefix.is_empty() || prefix.contains('\0') || prefix.starts_with('#') {
            return Ok(Vec::new());
        }
        Ok(self.store.search_users(&prefix, limit).await?)
    }
}
