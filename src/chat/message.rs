//! A message as the domain hands it out: the stored row plus what is derived
//! from the conversation (the receiver of a direct message, its status).

use crate::domain::UserId;
use crate::store::{ConversationKind, ConversationRow, MessageRow};

/// Sent → delivered → read, derived from the other members' watermarks:
/// a message is delivered (read) once every other member's delivered (read)
/// watermark has reached its seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Sent,
    Delivered,
    Read,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub row: MessageRow,
    /// The other member, for a direct conversation.
    pub receiver_id: Option<UserId>,
    /// The sender's display name, while they are a member.
    pub sender_name: Option<String>,
    pub status: MessageStatus,
}

impl Message {
    pub fn new(row: MessageRow, conversation: &ConversationRow) -> Self {
        let others = || conversation.members.iter().filter(|m| m.user_id != row.sender_id);
        let receiver_id = match conversation.kind {
            ConversationKind::Direct => others().next().map(|m| m.user_id),
            ConversationKind::Group => None,
        };
        let status = if others().all(|m| m.read_seq >= row.seq) {
            MessageStatus::Read
        } else if others().all(|m| m.delivered_seq >= row.seq) {
            MessageStatus::Delivered
        } else {
            MessageStatus::Sent
        };
        let sender_name = conversation.member(row.sender_id).map(|m| m.display_name.clone());
        Self { row, receiver_id, sender_name, status }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationId, MessageId};
    use crate::store::{MemberRow, MessageKind, Role};

    fn conv(marks: &[(i64, i64, i64)]) -> ConversationRow {
        ConversationRow {
            id: ConversationId(1),
            kind: ConversationKind::Direct,
            name: None,
            description: None,
            avatar_url: None,
            full_history: false,
            created_by: None,
            created_at: 0,
            last_seq: 10,
            last_message_at: None,
            members: marks
                .iter()
                .map(|&(u, d, r)| MemberRow {
                    user_id: UserId(u),
                    role: Role::Member,
                    joined_at: 0,
                    joined_seq: 0,
                    delivered_seq: d,
                    read_seq: r,
                    username: format!("u{u}"),
                    display_name: format!("U{u}"),
                })
                .collect(),
        }
    }

    fn msg(seq: i64, sender: i64) -> MessageRow {
        MessageRow {
            id: MessageId(seq),
            conversation_id: ConversationId(1),
            seq,
            sender_id: UserId(sender),
            client_msg_id: None,
            kind: MessageKind::Text,
            body: "hi".into(),
            meta: None,
            created_at: 0,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn status_follows_the_receivers_watermarks() {
        // Sender 1's own watermarks never matter.
        let c = conv(&[(1, 0, 0), (2, 5, 3)]);
        assert_eq!(Message::new(msg(3, 1), &c).status, MessageStatus::Read);
        assert_eq!(Message::new(msg(5, 1), &c).status, MessageStatus::Delivered);
        assert_eq!(Message::new(msg(6, 1), &c).status, MessageStatus::Sent);
        assert_eq!(Message::new(msg(6, 1), &c).receiver_id, Some(UserId(2)));
    }
}
