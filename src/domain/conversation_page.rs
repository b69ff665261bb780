//! Paging through a user's conversation list.
//!
//! Owns: [`ConversationPage`], [`ConversationCursor`] (where a page of the
//! list continues, and its text form) and the page size. May not touch:
//! anything outside `domain`.

use super::{Conversation, ConversationId, ConversationSummary, Envelope, Error, Millis};
use std::collections::HashMap;

/// Conversations in one page of the list: the default, and the most.
pub const CONVERSATIONS_PER_PAGE: i64 = 100;

/// One page of a user's conversation list.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationPage {
    /// Most recent activity first.
    pub conversations: Vec<ConversationSummary>,
    /// Their last messages as history shows them (reply quote, reactions).
    pub last_messages: HashMap<ConversationId, Envelope>,
    /// Where the next page starts, if more conversations follow.
    pub next: Option<ConversationCursor>,
}

/// Where a page of the conversation list continues. The list is ordered by
/// last activity, newest first, and by id (highest first) among
/// conversations active in the same millisecond, so a cursor names one exact
/// place: the next page holds exactly the conversations after it, none
/// skipped or repeated, however many share an activity time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConversationCursor {
    /// The last listed conversation's activity time (see [`Conversation::activity`]).
    pub activity: Millis,
    /// Its id.
    pub id: ConversationId,
}

impl ConversationCursor {
    /// The place just after `c`.
    pub fn after(c: &Conversation) -> Self {
        Self { activity: c.activity(), id: c.id }
    }

    /// Reads the text form, `"<activity>:<id>"` (opaque to clients).
    pub fn parse(s: &str) -> Result<Self, Error> {
        let parsed = s.split_once(':').and_then(|(at, id)| {
            let at =
                at.parse::<Millis>().ok().filter(|&t| t >= 0 && at.bytes().all(|b| b.is_ascii_digit()))?;
            let id = id.parse::<i64>().ok().filter(|&i| i > 0 && id.bytes().all(|b| b.is_ascii_digit()))?;
            Some(Self { activity: at, id: ConversationId(id) })
        });
        parsed.ok_or_else(|| Error::invalid("`before` must be a `nextBefore` value from an earlier page"))
    }
}

impl std::fmt::Display for ConversationCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.activity, self.id.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = ConversationCursor { activity: 1_700_000_000_123, id: ConversationId(42) };
        assert_eq!(c.to_string(), "1700000000123:42");
        assert_eq!(ConversationCursor::parse("1700000000123:42").ok(), Some(c));
        for bad in ["", "1:", ":1", "1-2", "-5:3", "5:-3", "5:0", "+5:3", "1:2:3", "x:1", "1:2 "] {
            assert!(ConversationCursor::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_order_is_activity_then_id() {
        let at = |activity, id| ConversationCursor { activity, id: ConversationId(id) };
        assert!(at(5, 1) > at(4, 9));
        assert!(at(5, 2) > at(5, 1));
    }
}
