//! The notification hook: what the chat service calls when a message is
//! stored for a member who has no live connection.
//!
//! The design's notification service (Web Push, FCM, APNs, with an outbox in
//! the message's transaction) is its own piece of work; until it lands the
//! default [`LogNotifier`] records the event in the logs, and the recipient
//! gets the message with `fetch_unread_messages` on reconnect.

use crate::chat::Message;
use crate::domain::UserId;
use async_trait::async_trait;

/// Called after a message is durably stored for an offline recipient.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    async fn recipient_offline(&self, recipient: UserId, message: &Message);
}

/// The default hook: logs that a push would be sent.
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn recipient_offline(&self, recipient: UserId, message: &Message) {
        tracing::debug!(
            recipient = %recipient,
            message_id = %message.row.id,
            "recipient offline; message waits for fetch_unread_messages"
        );
    }
}
