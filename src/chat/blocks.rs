//! Blocking: while A blocks B, direct messages between them are refused
//! (nothing is stored), B cannot add A to a group, and neither sees the
//! other's typing or presence. Group messages still reach both, as in other
//! products.
//!
//! Owns: the block list and these rules (presence filtering is the store's
//! `peers_of`, which leaves blocked pairs out). May not touch: sockets or SQL.

use super::Chat;
use crate::domain::{Error, User, UserId, now_millis};

impl Chat {
    /// `blocker` blocks `blocked` (again: no change).
    pub async fn block(&self, blocker: UserId, blocked: UserId) -> Result<(), Error> {
        if blocker == blocked {
            return Err(Error::invalid("you cannot block yourself"));
        }
        if self.store.user(blocked).await?.is_none() {
            return Err(Error::NotFound("user"));
        }
        Ok(self.store.block(blocker, blocked, now_millis()).await?)
    }

    /// Lifts `blocker`'s block of `blocked`, if any.
    pub async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<(), Error> {
        if blocker == blocked {
            return Err(Error::invalid("you cannot block yourself"));
        }
        Ok(self.store.unblock(blocker, blocked).await?)
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
        let blocks = self.store.blocks_involving(sender).await?;
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
        let blocks = self.store.blocks_involving(actor).await?;
        if users.iter().any(|&u| blocks.contains(&(u, actor))) {
            return Err(Error::Forbidden("a user you named does not accept being added by you"));
        }
        Ok(())
    }

    /// The users who must not see `user`'s typing: those who block them or
    /// whom they block.
    pub(super) async fn hidden_from(&self, user: UserId) -> Result<Vec<UserId>, Error> {
        let blocks = self.store.blocks_involving(user).await?;
        Ok(blocks.into_iter().map(|(a, b)| if a == user { b } else { a }).collect())
    }
}
