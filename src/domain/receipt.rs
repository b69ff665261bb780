//! Delivered and read: the one name for the two receipts a recipient
//! produces, the watermark each moves, and how far a move went.
//!
//! Owns: [`Receipt`], [`Advanced`] and [`DeliveryMark`]. May not touch:
//! anything outside `domain`.

use super::{ConversationId, MessageId, Seq, UserId};

/// What a recipient reports about a message — and the watermark
/// (`delivered_seq` or `read_seq`) that report moves. Reading implies delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// On one of the recipient's devices.
    Delivered,
    /// Seen by the recipient.
    Read,
}

impl Receipt {
    /// The API's name for it (`message_status.status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Receipt::Delivered => "delivered",
            Receipt::Read => "read",
        }
    }
}

/// How far a watermark moved: messages with `old < seq <= new` changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advanced {
    /// The watermark before.
    pub old: Seq,
    /// The watermark after.
    pub new: Seq,
}

/// "`user` has received message `seq` of `conversation`" (a live receipt).
/// Marks sort by conversation, user, seq: the order to apply them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryMark {
    /// Where.
    pub conversation: ConversationId,
    /// Whose device acknowledged it.
    pub user: UserId,
    /// The acknowledged message's seq.
    pub seq: Seq,
    /// The message at `seq` (the store reads neither it nor `notify`).
    pub message: MessageId,
    /// Who to tell: the sender, or nobody for a system message.
    pub notify: Option<UserId>,
}
