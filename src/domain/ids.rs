//! Identifier newtypes, so a user id can never be passed where a conversation
//! id is expected. Ids from clients are checked where they are parsed
//! (`wire`: positive integers); ids from storage are trusted.
//!
//! Owns: the id types and [`ClientMsgId`]. May not touch: anything outside
//! `domain`.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

int_id!(
    /// A registered user.
    UserId
);
int_id!(
    /// A conversation (direct or group).
    ConversationId
);
int_id!(
    /// A stored message; globally unique and increasing in insertion order.
    MessageId
);
int_id!(
    /// A login token's row, used to find the sockets opened with it.
    TokenId
);
int_id!(
    /// A device registered for push notifications.
    SubscriptionId
);

/// A message's position in its conversation: 1, 2, 3, … without gaps.
/// Watermarks (delivered/read) are `Seq`s.
pub type Seq = i64;

/// The client's own id for a message, which makes re-sending it idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    /// Longest id, in bytes.
    pub const MAX_LEN: usize = 128;

    /// A client's id: 1 to [`Self::MAX_LEN`] bytes, no NUL (PostgreSQL cannot store it).
    pub fn parse(s: String) -> Result<Self, super::Error> {
        if !s.is_empty() && s.len() <= Self::MAX_LEN && !s.contains('\0') {
            Ok(Self(s))
        } else {
            Err(super::Error::invalid(format!(
                "`clientMsgId` must be a non-empty string of at most {} bytes, without NUL",
                Self::MAX_LEN
            )))
        }
    }

    /// The id as the client wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a value read back from storage (already validated when stored).
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
}

/// An opaque id of one live connection (a Socket.IO socket id), used only to
/// avoid echoing an event back to the connection it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_msg_ids() {
        assert!(ClientMsgId::parse(String::new()).is_err());
        assert!(ClientMsgId::parse("x".repeat(129)).is_err());
        assert!(ClientMsgId::parse("a\0".into()).is_err());
        assert!(ClientMsgId::parse("x".repeat(128)).is_ok());
        assert_eq!(ClientMsgId::parse("a-1".into()).ok().map(|c| c.0), Some("a-1".to_string()));
    }
}
