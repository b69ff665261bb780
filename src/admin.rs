//! Administration commands (`confab admin …`). They run as their own process
//! beside the server, open the same database with the same configuration,
//! and change it directly; they need no running node and no admin API.
//!
//! Running nodes learn of a disabled account by polling the disabled set
//! (every [`crate::app::DISABLED_POLL`], see `Users::watch_disabled`) and then
//! drop its cached sessions and close its sockets — the same way on a single
//! SQLite node and on every node of a cluster.
//!
//! Owns: the admin commands. May not touch: a running node — it changes only
//! the database, which nodes poll.

use crate::app::{StartError, open_store};
use crate::config::Config;
use crate::domain::{UserId, Username, now_millis};
use crate::store::{Store, StoreError};
use std::sync::Arc;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    /// The configuration or the database could not be opened.
    Start(#[from] StartError),
    #[error("database error: {0}")]
    /// The database refused the change.
    Store(#[from] StoreError),
    #[error("{0}")]
    /// A backup cannot be made here.
    Backup(String),
    #[error("{0}")]
    /// The service refused (e.g. the account is gone meanwhile).
    Refused(crate::domain::Error),
    #[error("no user named {0:?}")]
    /// No account has this username.
    NoSuchUser(String),
}

/// What `disable-user` / `enable-user` did.
#[derive(Debug)]
pub struct Changed {
    /// The account.
    pub user: UserId,
    /// Sessions (tokens) ended by disabling; 0 when enabling.
    pub sessions_ended: usize,
}

/// Makes a consistent copy of the SQLite database into the new file `to`,
/// while the server may be running (see `store::sqlite::backup`). A cluster
/// (PostgreSQL) is backed up with `pg_dump` instead (docs/DEPLOY.md).
pub fn backup(config: &Config, to: &std::path::Path) -> Result<std::path::PathBuf, AdminError> {
    match config.database().map_err(StartError::from)? {
        crate::config::Database::Sqlite(path) => {
            if !path.exists() {
                return Err(AdminError::Backup(format!("no database at {}", path.display())));
            }
            crate::store::sqlite::backup(&path, to)?;
            Ok(path)
        }
        crate::config::Database::Postgres(_) => Err(AdminError::Backup(
            "the database is PostgreSQL: back it up with pg_dump (see docs/DEPLOY.md)".into(),
        )),
    }
}

/// Deletes an account as `DELETE /api/users/me` does (see
/// [`crate::accounts`]); running nodes close its sockets within about a second.
pub async fn delete_user(
    config: &Config,
    username: &str,
    messages: crate::accounts::MessagesOnDelete,
) -> Result<crate::accounts::Deleted, AdminError> {
    let store = open_store(config).await?;
    let result = async {
        let key = key_of(username)?;
        let user = store.credentials(&key).await?.ok_or_else(|| no_such(username))?.user.id;
        let media = crate::media::Media::new(&config.media, config.media_dir(), store.clone())
            .await
            .map_err(StartError::Media)?;
        let accounts = crate::accounts::Accounts::new(store.clone(), Arc::new(media), None);
        accounts.delete(user, messages).await.map_err(AdminError::Refused)
    }
    .await;
    store.close().await;
    result
}

/// Disables an account: it can no longer log in, every token is revoked,
/// and running nodes close its sockets within about a second.
pub async fn disable_user(config: &Config, username: &str) -> Result<Changed, AdminError> {
    with_store(config, |store| async move {
        let key = key_of(username)?;
        let now = now_millis();
        // Disabled first, so a login racing with this cannot leave a live
        // token: any token of a disabled user reads as revoked.
        let user = store.set_disabled(&key, Some(now)).await?.ok_or_else(|| no_such(username))?;
        let sessions_ended = store.revoke_user_tokens(user, now).await?.len();
        Ok(Changed { user, sessions_ended })
    })
    .await
}

/// Enables a disabled account again; the user logs in anew (the tokens
/// revoked when it was disabled stay revoked).
pub async fn enable_user(config: &Config, username: &str) -> Result<Changed, AdminError> {
    with_store(config, |store| async move {
        let user = store.set_disabled(&key_of(username)?, None).await?.ok_or_else(|| no_such(username))?;
        Ok(Changed { user, sessions_ended: 0 })
    })
    .await
}

async fn with_store<F, Fut>(config: &Config, f: F) -> Result<Changed, AdminError>
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = Result<Changed, AdminError>>,
{
    let store = open_store(config).await?;
    let result = f(store.clone()).await;
    store.close().await;
    result
}

fn key_of(username: &str) -> Result<String, AdminError> {
    Ok(Username::parse(username).map_err(|_| no_such(username))?.canonical())
}

fn no_such(username: &str) -> AdminError {
    AdminError::NoSuchUser(username.to_string())
}
