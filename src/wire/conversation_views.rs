//! The `Conversation` object with its members, and a message's receipts.
//!
//! Owns: how conversations, members and receipts look on the wire. May not
//! touch: services or storage.

use super::timestamp;
use super::views::MessageView;
use crate::chat::MemberReceipt;
use crate::domain::{Conversation, ConversationSummary, Envelope, Member, UserId};
use serde::Serialize;

/// One member of a conversation, with their watermarks.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    /// Who.
    pub user_id: i64,
    /// Their login name.
    pub username: String,
    /// Their display name.
    pub display_name: String,
    /// `owner`, `admin` or `member`.
    pub role: &'static str,
    /// When they joined, RFC 3339.
    pub joined_at: String,
    /// Every message up to this seq reached one of their devices.
    pub delivered_seq: i64,
    /// Every message up to this seq was read.
    pub read_seq: i64,
}

impl MemberView {
    /// The member as clients see them.
    pub fn new(m: &Member) -> Self {
        Self {
            user_id: m.user_id.0,
            username: m.username.clone(),
            display_name: m.display_name.clone(),
            role: m.role.as_str(),
            joined_at: timestamp(m.joined_at),
            delivered_seq: m.delivered_seq,
            read_seq: m.read_seq,
        }
    }
}

/// The `Conversation` object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    /// Its id.
    pub id: i64,
    /// `direct` or `group`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Groups: the name.
    pub name: Option<String>,
    /// Groups: the description.
    pub description: Option<String>,
    /// Groups: the picture.
    pub avatar_url: Option<String>,
    /// Groups: `full` (new members read earlier messages) or `joined`.
    pub history_visibility: &'static str,
    /// For a direct conversation: the other person.
    pub peer_id: Option<i64>,
    /// Everyone in it.
    pub members: Vec<MemberView>,
    /// The seq of its newest message.
    pub last_seq: i64,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// Conversation lists only: text messages from others the caller has not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread_count: Option<i64>,
    /// Conversation lists only: the newest message (`null`: none yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Option<MessageView>>,
}

impl ConversationView {
    /// The conversation as `me` sees it (`me` picks the direct peer).
    pub fn new(c: &Conversation, me: Option<UserId>) -> Self {
        Self {
            id: c.id.0,
            kind: c.kind.as_str(),
            name: c.name.clone(),
            description: c.description.clone(),
            avatar_url: c.avatar_url.clone(),
            history_visibility: if c.full_history { "full" } else { "joined" },
            peer_id: me.and_then(|me| c.peer_of(me)).map(|u| u.0),
            members: c.members.iter().map(MemberView::new).collect(),
            last_seq: c.last_seq,
            created_at: timestamp(c.created_at),
            unread_count: None,
            last_message: None,
        }
    }

    /// A conversation-list entry: with unread count and last message
    /// (`last`: as history shows it).
    pub fn summary(s: &ConversationSummary, last: Option<&Envelope>, me: UserId) -> Self {
        Self {
            unread_count: Some(s.unread),
            last_message: Some(last.map(MessageView::new)),
            ..Self::new(&s.conversation, Some(me))
        }
    }
}

/// Who has received and read one message (`GET …/receipts`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptsView {
    /// The message.
    pub message_id: i64,
    /// Its status as its sender sees it.
    pub status: &'static str,
    /// Members it reached.
    pub delivered_count: usize,
    /// Members who read it.
    pub read_count: usize,
    /// Members besides the sender.
    pub member_count: usize,
    /// One entry per member besides the sender.
    pub receipts: Vec<ReceiptView>,
}

/// One member's receipt.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    /// Who.
    pub user_id: i64,
    /// On one of their devices.
    pub delivered: bool,
    /// Read.
    pub read: bool,
}

impl ReceiptsView {
    /// The receipts of `message`.
    pub fn new(message: &Envelope, receipts: &[MemberReceipt]) -> Self {
        Self {
            message_id: message.message.id.0,
            status: message.status.as_str(),
            delivered_count: receipts.iter().filter(|r| r.delivered).count(),
            read_count: receipts.iter().filter(|r| r.read).count(),
            member_count: receipts.len(),
            receipts: receipts
                .iter()
                .map(|r| ReceiptView { user_id: r.user.0, delivered: r.delivered, read: r.read })
                .collect(),
        }
    }
}
