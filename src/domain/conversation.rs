//! Conversations and the rules that follow from membership alone: who a
//! direct message is for, what a member may read, who is new, and who
//! inherits a group when its last owner leaves.
//!
//! Owns: [`Conversation`], its summary and patch, and the membership rules.
//! May not touch: anything outside `domain`.

use super::{ConversationId, Member, Message, Millis, Role, Seq, UserId};

/// Direct (two people) or group conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    /// Exactly two members, created by the first message between them.
    Direct,
    /// Any number of members with roles.
    Group,
}

impl ConversationKind {
    /// The API's and the database's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
        }
    }

    /// Reads a stored kind; anything but `group` is direct.
    pub fn from_stored(s: &str) -> Self {
        if s == "group" { ConversationKind::Group } else { ConversationKind::Direct }
    }
}

/// A conversation with its members.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Its id.
    pub id: ConversationId,
    /// Direct or group.
    pub kind: ConversationKind,
    /// Groups: the name.
    pub name: Option<String>,
    /// Groups: a description.
    pub description: Option<String>,
    /// Groups: an http(s) picture URL.
    pub avatar_url: Option<String>,
    /// Groups: new members may read messages from before they joined.
    pub full_history: bool,
    /// Groups: who created it.
    pub created_by: Option<UserId>,
    /// When it was created.
    pub created_at: Millis,
    /// The seq of its newest message (0: none).
    pub last_seq: Seq,
    /// When its newest message was sent.
    pub last_message_at: Option<Millis>,
    /// Everyone in it, longest-standing first.
    pub members: Vec<Member>,
}

impl Conversation {
    /// The member with this id, if they are one.
    pub fn member(&self, user: UserId) -> Option<&Member> {
        self.members.iter().find(|m| m.user_id == user)
    }

    /// When it was last active: its newest message, else its creation. The
    /// conversation list is ordered by it (see [`super::ConversationCursor`]).
    pub fn activity(&self) -> Millis {
        self.last_message_at.unwrap_or(self.created_at)
    }

    /// The other member of a direct conversation, seen from `me`.
    pub fn peer_of(&self, me: UserId) -> Option<UserId> {
        match self.kind {
            ConversationKind::Direct => self.members.iter().map(|m| m.user_id).find(|&u| u != me),
            ConversationKind::Group => None,
        }
    }

    /// The seq after which `user` may read the history: in a group that does
    /// not share its full history, what came after they joined.
    pub fn visible_after(&self, user: UserId) -> Seq {
        match (self.kind, self.full_history, self.member(user)) {
            (ConversationKind::Group, false, Some(m)) => m.joined_seq,
            _ => 0,
        }
    }

    /// The users of `candidates` who are not members yet, each once, in order.
    pub fn newcomers(&self, candidates: &[UserId]) -> Vec<UserId> {
        let mut out: Vec<UserId> = Vec::new();
        for &u in candidates {
            if self.member(u).is_none() && !out.contains(&u) {
                out.push(u);
            }
        }
        out
    }

    /// Who becomes owner when `leaving` goes: nobody if they are not the
    /// owner or another owner stays, else the longest-standing admin, else
    /// the longest-standing member.
    pub fn heir(&self, leaving: UserId) -> Option<UserId> {
        let others = || self.members.iter().filter(|m| m.user_id != leaving);
        if self.member(leaving).map(|m| m.role) != Some(Role::Owner)
            || others().any(|m| m.role == Role::Owner)
        {
            return None;
        }
        others().max_by_key(|m| (m.role, std::cmp::Reverse((m.joined_at, m.user_id)))).map(|m| m.user_id)
    }
}

/// A conversation as listed for one user.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    /// The conversation with its members.
    pub conversation: Conversation,
    /// Text messages from others above the user's read watermark.
    pub unread: i64,
    /// Its newest message, if any.
    pub last_message: Option<Message>,
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupPatch {
    /// A new name.
    pub name: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    /// `Some(None)` clears the avatar.
    pub avatar_url: Option<Option<String>>,
    /// Whether new members may read earlier messages.
    pub full_history: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(user: i64, role: Role, joined_at: Millis) -> Member {
        Member {
            user_id: UserId(user),
            role,
            joined_at,
            joined_seq: 0,
            delivered_seq: 0,
            read_seq: 0,
            username: format!("u{user}"),
            display_name: format!("U{user}"),
        }
    }

    fn group(members: Vec<Member>) -> Conversation {
        Conversation {
            id: ConversationId(1),
            kind: ConversationKind::Group,
            name: Some("g".into()),
            description: None,
            avatar_url: None,
            full_history: false,
            created_by: None,
            created_at: 0,
            last_seq: 0,
            last_message_at: None,
            members,
        }
    }

    #[test]
    fn the_longest_standing_admin_inherits_then_the_longest_standing_member() {
        let g = group(vec![
            member(1, Role::Owner, 1),
            member(2, Role::Member, 2),
            member(3, Role::Admin, 4),
            member(4, Role::Admin, 3),
        ]);
        assert_eq!(g.heir(UserId(1)), Some(UserId(4)));
        assert_eq!(g.heir(UserId(2)), None, "a member leaving changes no owner");
        let g =
            group(vec![member(1, Role::Owner, 1), member(3, Role::Member, 5), member(2, Role::Member, 5)]);
        assert_eq!(g.heir(UserId(1)), Some(UserId(2)), "same time: the lower id");
        let g = group(vec![member(1, Role::Owner, 1), member(2, Role::Owner, 2)]);
        assert_eq!(g.heir(UserId(1)), None, "another owner stays");
        assert_eq!(group(vec![member(1, Role::Owner, 1)]).heir(UserId(1)), None, "nobody left");
    }

    #[test]
    fn newcomers_are_new_and_counted_once() {
        let g = group(vec![member(1, Role::Owner, 1), member(2, Role::Member, 2)]);
        let ids = |v: &[i64]| v.iter().map(|&u| UserId(u)).collect::<Vec<_>>();
        assert_eq!(g.newcomers(&ids(&[2, 3, 3, 1, 4])), ids(&[3, 4]));
    }
}
