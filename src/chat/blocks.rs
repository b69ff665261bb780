//! Blocking: while A blocks B, direct messages between them are refused
//! (nothing is stored), B cannot add A to a group, and neither sees the
//! other's typing or presence. Group messages still reach both, as in other
//! products.
//!
//! A block also takes back what each already saw: if they share a
//! conversation, both are told at once that the other is offline (without a
//! last-seen time); unblocking tells each the other's real presence.
//!
//! Owns: the block list and these rules (presence filtering is the store's
//! `peers_of`, which leaves blocked pairs out). May not touch: sockets or SQL.

use super::Chat;
use crate::domain::{Error, Millis, User, UserId, now_millis};
use crate::fanout::Event;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The blocks involving each user, kept in memory by a node that is alone
/// (no cluster): then every block and unblock goes through this node, which
/// forgets the two users' entries at once. It saves a database read on
/// every direct send and typing event (blocks are rare; the read is not).
/// Cluster nodes read the database each time, so a block made on another
/// node holds at once.
#[derive(Clone, Default)]
pub struct BlockCache(Arc<Mutex<BlocksByUser>>);

/// Each cached user's blocks: the `(blocker, blocked)` pairs that involve them.
type BlocksByUser = HashMap<UserId, Arc<[(UserId, UserId)]>>;

/// The cache is emptied when it grows past this many users.
const BLOCK_CACHE_MAX: usize = 100_000;

impl BlockCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, BlocksByUser> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn forget(&self, a: UserId, b: UserId) {
        let mut map = self.lock();
        map.remove(&a);
        map.remove(&b);
    }
}

impl Chat {
    /// `blocker` blocks `blocked` (again: no change).
    pub async fn block(&self, blocker: UserId, blocked: UserId) -> Result<(), Error> {
        if blocker == blocked {
            return Err(Error::invalid("you cannot block yourself"));
        }
        if self.store.user(blocked).await?.is_none() {
            return Err(Error::NotFound("user"));
        }
        // Before the block, which hides them from each other's contacts.
        let saw_each_other = self.contacts(blocker, blocked).await?;
        self.store.block(blocker, blocked, now_millis()).await?;
        if let Some(cache) = &self.blocks {
            cache.forget(blocker, blocked);
        }
        if saw_each_other {
            for (viewer, subject) in [(blocker, blocked), (blocked, blocker)] {
                self.tell_presence(viewer, subject, false, None).await;
            }
        }
        Ok(())
    }

    /// Lifts `blocker`'s block of `blocked`, if any.
    pub async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<(), Error> {
        if blocker == blocked {
            return Err(Error::invalid("you cannot block yourself"));
        }
        self.store.unblock(blocker, blocked).await?;
        if let Some(cache) = &self.blocks {
            cache.forget(blocker, blocked);
        }
        // Not if the other still blocks them (contacts leave that pair out).
        if self.contacts(blocker, blocked).await? {
            for (viewer, subject) in [(blocker, blocked), (blocked, blocker)] {
                let online = self.presence.online_among(&[subject]).await.first().copied().unwrap_or(false);
                let last_seen = match online {
                    true => None,
                    false => self.store.user(subject).await?.and_then(|u| u.last_seen_at),
                };
                self.tell_presence(viewer, subject, online, last_seen).await;
            }
        }
        Ok(())
    }

    /// Whether `a` and `b` hear of each other's presence: they share a
    /// conversation and neither blocks the other.
    async fn contacts(&self, a: UserId, b: UserId) -> Result<bool, Error> {
        Ok(self.store.peers_of(a).await?.contains(&b))
    }

    /// Tells `viewer` (every device, every node) that `subject` is online or not.
    async fn tell_presence(&self, viewer: UserId, subject: UserId, online: bool, last_seen: Option<Millis>) {
        self.fanout.send(viewer, Event::Presence { user: subject, online, last_seen }, None).await;
    }

    /// The blocks `user` is part of, either way (from memory on a lone node).
    async fn blocks_involving(&self, user: UserId) -> Result<Arc<[(UserId, UserId)]>, Error> {
        let Some(cache) = &self.blocks else {
            return Ok(self.store.blocks_involving(user).await?.into());
        };
        if let Some(hit) = cache.lock().get(&user) {
            return Ok(hit.clone());
        }
        let blocks: Arc<[(UserId, UserId)]> = self.store.blocks_involving(user).await?.into();
        let mut map = cache.lock();
        if map.len() >= BLOCK_CACHE_MAX {
            map.clear();
        }
        map.insert(user, blocks.clone());
        Ok(blocks)
    }

    /// Whom `user` blocks.
    pub async fn blocked(&self, user: UserId) -> Result<Vec<User>, Error> {
        Ok(self.store.blocked_by(user).await?)
    }

    /// Whether either of the two blocks the other (profiles hide presence then).
    pub async fn blocked_either_way(&self, a: UserId, b: UserId) -> Result<bool, Error> {
        Ok(self.store.blocked_either_way(a, b).await?)
    }

    /// A direct message from `sender` to `receiver` is refused while
    /// either blocks the other.
    pub(super) async fn refuse_blocked_direct(&self, sender: UserId, receiver: UserId) -> Result<(), Error> {
        let blocks = self.blocks_involving(sender).await?;
        if blocks.contains(&(sender, receiver)) {
            return Err(Error::Forbidden("you blocked this user: unblock them to send a message"));
        }
        if blocks.contains(&(receiver, sender)) {
            return Err(Error::Forbidden("this user does not accept your messages"));
        }
        Ok(())
    }

    /// `actor` may not add anyone who blocks them to a group.
    pub(super) async fn refuse_blocked_adds(&self, actor: UserId, users: &[UserId]) -> Result<(), Error> {
        let blocks = self.blocks_involving(actor).await?;
        if users.iter().any(|&u| blocks.contains(&(u, actor))) {
            return Err(Error::Forbidden("a user you named does not accept being added by you"));
        }
        Ok(())
    }

    /// The users who must not see `user`'s typing: those who block them or
    /// whom they block.
    pub(super) async fn hidden_from(&self, user: UserId) -> Result<Vec<UserId>, Error> {
        let blocks = self.blocks_involving(user).await?;
        Ok(blocks.iter().map(|&(a, b)| if a == user { b } else { a }).collect())
    }
}
