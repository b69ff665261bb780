//! Validated text values: usernames, passwords, display names and message text.
//!
//! Owns: what makes each text valid. May not touch: anything outside
//! `domain`.

use super::Error;

/// A login name: 3–32 characters of ASCII letters, digits, `_`, `.` or `-`.
/// Unique case-insensitively; the spelling the user chose is kept for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Checks a login name.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok_len = (3..=32).contains(&s.len());
        let ok_chars = s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if ok_len && ok_chars {
            Ok(Self(s.to_string()))
        } else {
            Err(Error::invalid("`username` must be 3-32 characters of letters, digits, '_', '.' or '-'"))
        }
    }

    /// The name as the user spelled it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that makes usernames unique regardless of case.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A password as typed: 8–256 characters. Never logged, never stored.
pub struct Password(String);

impl Password {
    /// Checks a password's length.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let n = s.chars().count();
        if (8..=256).contains(&n) {
            Ok(Self(s.to_string()))
        } else {
            Err(Error::invalid("`password` must be 8-256 characters"))
        }
    }

    /// The password, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The name shown to other users: 1–64 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims and checks a display name.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let n = t.chars().count();
        if (1..=64).contains(&n) && !t.chars().any(char::is_control) {
            Ok(Self(t.to_string()))
        } else {
            Err(Error::invalid("`displayName` must be 1-64 characters without control characters"))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text of a message: not blank, at most `max_chars` Unicode scalar values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// Checks a message's text: not blank, at most `max_chars`, no NUL.
    pub fn parse(s: String, max_chars: usize) -> Result<Self, Error> {
        let n = s.chars().count();
        if n > max_chars {
            return Err(Error::TooLarge(format!("`message` is {n} characters; the limit is {max_chars}")));
        }
        if s.trim().is_empty() {
            return Err(Error::invalid("`message` must not be empty"));
        }
        // PostgreSQL cannot store it, and no text needs it.
        if s.contains('\0') {
            return Err(Error::invalid("`message` must not contain NUL characters"));
        }
        Ok(Self(s))
    }

    /// No text: a message of attachments only.
    pub fn empty() -> Self {
        Self(String::new())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("ana_b.c-1").is_ok());
        for bad in ["ab", "", "has space", "émile", &"x".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Username::parse("AnA").map(|u| u.canonical()).ok(), Some("ana".into()));
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse("1234567").is_err());
        assert!(format!("{:?}", Password::parse("secret123").ok()).contains("***"));
    }

    #[test]
    fn display_names_are_trimmed() {
        assert_eq!(DisplayName::parse("  Ana ").map(|d| d.0).ok(), Some("Ana".into()));
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn message_text_limits() {
        assert!(MessageText::parse("hi".into(), 10).is_ok());
        assert!(matches!(MessageText::parse("  ".into(), 10), Err(Error::Invalid(_))));
        assert!(matches!(MessageText::parse(String::new(), 10), Err(Error::Invalid(_))));
        // Counted in characters, not bytes.
        assert!(MessageText::parse("é".repeat(10), 10).is_ok());
        assert!(matches!(MessageText::parse("x".repeat(11), 10), Err(Error::TooLarge(_))));
        assert!(matches!(MessageText::parse("a\0b".into(), 10), Err(Error::Invalid(_))));
        assert!(
            MessageText::parse("tab\tand\nnewline".into(), 20).is_ok(),
            "other control characters are text"
        );
    }
}
