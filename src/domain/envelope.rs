//! A message in its conversation ([`Envelope`]): who it is for, who sent
//! it, and how far it got (its [`MessageStatus`], derived from the other
//! members' watermarks).
//!
//! Owns: [`Envelope`] and [`MessageStatus`]. May not touch: anything outside
//! `domain`.

use super::{Conversation, ConversationKind, Message, Quote, ReactionGroup, UserId};

/// Sent → delivered → read, derived from the other members' watermarks:
/// a message is delivered (read) once every other member's delivered (read)
/// watermark has reached its seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    /// Stored; not yet on every recipient's device.
    Sent,
    /// On a device of every recipient.
    Delivered,
    /// Read by every recipient.
    Read,
}

impl MessageStatus {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
        }
    }
}

/// A message in its conversation, as the domain hands it out: the stored
/// message plus what follows from the conversation (who a direct message is
/// for, the sender's name, its status).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The stored message.
    pub message: Message,
    /// The other member, for a direct conversation.
    pub receiver_id: Option<UserId>,
    /// The sender's display name, while they are a member.
    pub sender_name: Option<String>,
    /// How far it got, from the sender's point of view.
    pub status: MessageStatus,
    /// The message it answers, quoted (filled in by the chat service).
    pub reply: Option<Quote>,
    /// Its reactions, ordered by first use (filled in by the chat service).
    pub reactions: Vec<ReactionGroup>,
}

impl Envelope {
    /// `message` as it stands in `conversation` now.
    pub fn new(message: Message, conversation: &Conversation) -> Self {
        let others = || conversation.members.iter().filter(|m| m.user_id != message.sender_id);
        let receiver_id = match conversation.kind {
            ConversationKind::Direct => others().next().map(|m| m.user_id),
            ConversationKind::Group => None,
        };
        let status = if others().all(|m| m.read_seq >= message.seq) {
            MessageStatus::Read
        } else if others().all(|m| m.delivered_seq >= message.seq) {
            MessageStatus::Delivered
        } else {
            MessageStatus::Sent
        };
        let sender_name = conversation.member(message.sender_id).map(|m| m.display_name.clone());
        Self { message, receiver_id, sender_name, status, reply: None, reactions: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationId, Member, MessageId, MessageKind, Role};

    fn conv(marks: &[(i64, i64, i64)]) -> Conversation {
        Conversation {
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
                .map(|&(u, d, r)| Member {
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

    fn msg(seq: i64, sender: i64) -> Message {
        Message {
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
            reply_to: None,
            edited_at: None,
            deleted_at: None,
        }
    }

    #[test]
    fn status_follows_the_receivers_watermarks() {
        // Sender 1's own watermarks never matter.
        let c = conv(&[(1, 0, 0), (2, 5, 3)]);
        assert_eq!(Envelope::new(msg(3, 1), &c).status, MessageStatus::Read);
        assert_eq!(Envelope::new(msg(5, 1), &c).status, MessageStatus::Delivered);
        assert_eq!(Envelope::new(msg(6, 1), &c).status, MessageStatus::Sent);
        assert_eq!(Envelope::new(msg(6, 1), &c).receiver_id, Some(UserId(2)));
    }
}
