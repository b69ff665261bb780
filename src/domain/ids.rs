//! Identifier newtypes, so a user id can never be passed where a conversation
//! id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// Parses an id from client input: a positive JSON integer.
            pub fn parse(v: &serde_json::Value, field: &str) -> Result<Self, super::Error> {
                match v.as_i64() {
                    Some(n) if n > 0 => Ok(Self(n)),
                    _ => Err(super::Error::invalid(format!("`{field}` must be a positive integer id"))),
                }
            }
        }

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
    pub const MAX_LEN: usize = 128;

    pub fn parse(v: &serde_json::Value) -> Result<Option<Self>, super::Error> {
        match v {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::String(s) if !s.is_empty() && s.len() <= Self::MAX_LEN => {
                Ok(Some(Self(s.clone())))
            }
            _ => Err(super::Error::invalid(format!(
                "`clientMsgId` must be a non-empty string of at most {} bytes",
                Self::MAX_LEN
            ))),
        }
    }

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
    use serde_json::json;

    #[test]
    fn ids_must_be_positive_integers() {
        assert_eq!(UserId::parse(&json!(7), "x").ok(), Some(UserId(7)));
        for bad in [json!(0), json!(-1), json!("7"), json!(1.5), json!(null), json!([1])] {
            assert!(UserId::parse(&bad, "x").is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn client_msg_ids() {
        assert_eq!(ClientMsgId::parse(&json!(null)).ok(), Some(None));
        assert!(ClientMsgId::parse(&json!("")).is_err());
        assert!(ClientMsgId::parse(&json!("x".repeat(129))).is_err());
        assert!(ClientMsgId::parse(&json!({})).is_err());
        assert!(ClientMsgId::parse(&json!(42)).is_err(), "a string, not a number");
        assert_eq!(ClientMsgId::parse(&json!("a-1")).ok().flatten().map(|c| c.0), Some("a-1".to_string()));
    }
}
