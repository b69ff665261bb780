//! A registered user as every layer sees them.
//!
//! Owns: [`User`]. May not touch: anything outside `domain`.

use super::{Millis, UserId};

/// A registered user (the password hash stays in storage).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Their id.
    pub id: UserId,
    /// The spelling of the login name they chose (unique case-insensitively).
    pub username: String,
    /// The name shown to others.
    pub display_name: String,
    /// When they registered.
    pub created_at: Millis,
    /// When their last connection closed; `None` if never.
    pub last_seen_at: Option<Millis>,
}
