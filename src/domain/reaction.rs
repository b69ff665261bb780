//! What decorates a message besides its own row: the reactions on it
//! ([`ReactionGroup`], with the validated [`Emoji`]) and the quote of the
//! message it answers ([`Quote`]); and the validated words of a message
//! search ([`SearchQuery`]).
//!
//! Owns: these values and their rules (one emoji grapheme of at most 16
//! bytes; quotes cut at [`QUOTE_MAX_CHARS`]; search words). May not touch:
//! anything outside `domain`.

use super::{Error, MessageId, UserId};

/// A reaction: exactly one emoji (as Unicode lists them, skin tones and
/// ZWJ sequences included), at most 16 bytes of UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Emoji(String);

impl Emoji {
    /// Checks a reaction.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if !s.is_empty() && s.len() <= 16 && emojis::get(s).is_some() {
            Ok(Self(s.to_string()))
        } else {
            Err(Error::invalid("`emoji` must be one emoji (at most 16 bytes)"))
        }
    }

    /// The emoji as stored.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The emoji.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everyone who reacted to a message with one emoji, earliest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionGroup {
    /// The emoji.
    pub emoji: Emoji,
    /// Who reacted with it, in the order they did.
    pub user_ids: Vec<UserId>,
}

/// Groups `(emoji, user)` rows given in the order they were made into one
/// [`ReactionGroup`] per emoji, ordered by the emoji's first use.
pub fn reaction_groups(rows: impl IntoIterator<Item = (Emoji, UserId)>) -> Vec<ReactionGroup> {
    let mut groups: Vec<ReactionGroup> = Vec::new();
    for (emoji, user) in rows {
        match groups.iter_mut().find(|g| g.emoji == emoji) {
            Some(g) => g.user_ids.push(user),
            None => groups.push(ReactionGroup { emoji, user_ids: vec![user] }),
        }
    }
    groups
}

/// A quoted text is cut to this many characters.
pub const QUOTE_MAX_CHARS: usize = 200;

/// The message a reply answers, as the reply shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The quoted message.
    pub id: MessageId,
    /// Who wrote it.
    pub sender_id: UserId,
    /// Its text, at most [`QUOTE_MAX_CHARS`] characters; empty once it was deleted.
    pub text: String,
}

impl Quote {
    /// The quote of a message's (current) text.
    pub fn new(id: MessageId, sender_id: UserId, text: &str, deleted: bool) -> Self {
        let text = if deleted { String::new() } else { text.chars().take(QUOTE_MAX_CHARS).collect() };
        Self { id, sender_id, text }
    }
}

/// A message search: up to 200 characters, as words (letters and digits);
/// the last word matches as a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
}

impl SearchQuery {
    /// Most characters in a query.
    pub const MAX_CHARS: usize = 200;

    /// Checks a query: not empty, at most 200 characters, at least one word.
    pub fn parse(q: &str) -> Result<Self, Error> {
        let n = q.chars().count();
        if q.trim().is_empty() || n > Self::MAX_CHARS {
            return Err(Error::invalid("`q` must be 1-200 characters"));
        }
        // Combining accents (a decomposed "é") are dropped rather than
        // splitting a word: matching ignores accents anyway.
        let q: String = q.chars().filter(|c| !('\u{300}'..='\u{36f}').contains(c)).collect();
        let words: Vec<String> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        if words.is_empty() {
            return Err(Error::invalid("`q` must contain a letter or a digit"));
        }
        Ok(Self { words })
    }

    /// The words, lower-cased, in order (the last one is a prefix).
    pub fn words(&self) -> &[String] {
        &self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_is_one_emoji() {
        for ok in ["👍", "❤️", "👍🏽", "🇫🇷", "👩‍💻"] {
            assert!(Emoji::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "👍👍", ":)", "👍 ", "👨‍👩‍👧‍👦"] {
            assert!(Emoji::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn groups_keep_first_use_order() {
        let e = |s: &str| Emoji::from_stored(s.into());
        let g = reaction_groups([(e("👍"), UserId(1)), (e("😂"), UserId(2)), (e("👍"), UserId(3))]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].emoji.as_str(), "👍");
        assert_eq!(g[0].user_ids, [UserId(1), UserId(3)]);
    }

    #[test]
    fn quotes_are_cut_and_emptied() {
        let long = "é".repeat(300);
        assert_eq!(Quote::new(MessageId(1), UserId(1), &long, false).text.chars().count(), 200);
        assert_eq!(Quote::new(MessageId(1), UserId(1), "hi", true).text, "");
    }

    #[test]
    fn search_words() {
        assert_eq!(SearchQuery::parse("Café, RÉSU").unwrap().words(), ["café", "résu"]);
        assert_eq!(SearchQuery::parse("re\u{301}sume\u{301}").unwrap().words(), ["resume"]);
        assert!(SearchQuery::parse("").is_err());
        assert!(SearchQuery::parse("  ").is_err());
        assert!(SearchQuery::parse("!!").is_err());
        assert!(SearchQuery::parse(&"a".repeat(201)).is_err());
    }
}
