//! A conversation's members: their roles and their delivered/read watermarks.
//!
//! Owns: [`Member`] and [`Role`]. May not touch: anything outside `domain`.

use super::{Millis, Seq, UserId};

/// A member's role in a group (direct conversations only have members).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// May send and leave.
    Member,
    /// Also manages members (but not other admins or the owner) and the profile.
    Admin,
    /// May do everything, including deleting the group and handing it over.
    Owner,
}

impl Role {
    /// The API's and the database's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// The role with this name, if there is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// One member of a conversation with their delivery and read watermarks:
/// every message with `seq <= delivered_seq` reached one of their devices,
/// every message with `seq <= read_seq` was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Who.
    pub user_id: UserId,
    /// What they may do.
    pub role: Role,
    /// When they joined.
    pub joined_at: Millis,
    /// The conversation's last seq when they joined; unless the group shares
    /// its full history, they see only messages after it.
    pub joined_seq: Seq,
    /// Delivered watermark.
    pub delivered_seq: Seq,
    /// Read watermark.
    pub read_seq: Seq,
    /// The member's login name, so a conversation list needs no extra look-ups.
    pub username: String,
    /// The member's display name.
    pub display_name: String,
}
