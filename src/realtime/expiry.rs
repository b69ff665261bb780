//! Closes a socket once its token is no longer valid, even if the socket
//! only listens: at the token's expiry, and — in a cluster — when a re-read
//! of the token (every `auth.token_recheck_secs`) finds it revoked, which
//! catches a logout whose Redis message this node missed. Each node watches
//! its own sockets, so this holds on every node.
//!
//! One task per socket, asleep until the next due time; it ends as soon as
//! the socket disconnects ([`super::conn::Conn::closed`]), so it never keeps
//! a closed socket (and its place in the per-address count) alive.

use super::conn::Conn;
use crate::domain::{Error, now_millis};
use crate::users::Users;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use std::sync::Arc;
use std::time::Duration;

/// Longest sleep between two looks at a socket, whatever the token says:
/// bounds how long a socket whose disconnect went unnoticed is kept.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Pause before trying again when the token could not be checked (database down).
const RETRY: Duration = Duration::from_secs(5);

pub fn watch<A: Adapter>(s: SocketRef<A>, users: Arc<Users>, conn: Arc<Conn>) {
    tokio::spawn(async move {
        let mut session = conn.session.clone();
        let mut wait = next_wait(&users, session.expires_at);
        loop {
            tokio::select! {
                () = conn.closed.notified() => return,
                () = tokio::time::sleep(wait) => {}
            }
            if !s.connected() {
                return;
            }
            // Boxed: the task sleeps for the socket's whole life, and an
            // inline database future would make every idle socket's task
            // as big as that future's state.
            match Box::pin(users.check(&session)).await {
                Ok(now) => {
                    session = now;
                    wait = next_wait(&users, session.expires_at);
                }
                Err(e @ Error::Unauthorized(_)) => {
                    tracing::debug!(user = %session.user_id, sid = %s.id, error = %e, "closing the socket of an invalid token");
                    let _ = s.emit("error", &crate::wire::ErrorBody::new(&e));
                    let _ = s.clone().disconnect();
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not re-check a socket's token");
                    wait = RETRY;
                }
            }
        }
    });
}

/// Until the token expires, or its next re-read is due, at most [`MAX_SLEEP`].
fn next_wait(users: &Users, expires_at: i64) -> Duration {
    let until_expiry = Duration::from_millis(u64::try_from(expires_at - now_millis()).unwrap_or(0));
    let wait = users.recheck_every().map_or(until_expiry, |every| every.min(until_expiry));
    wait.min(MAX_SLEEP)
}
