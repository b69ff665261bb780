//! What a push says: title, body, badge, and the ids a tap needs.
//!
//! Owns: the text of a notification. May not touch: providers or storage.

use crate::domain::{Conversation, ConversationId, ConversationKind, Message, MessageId};

/// Longest body preview, in characters.
const PREVIEW_CHARS: usize = 140;

/// One notification, provider-neutral.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The sender's name, or the group's.
    pub title: String,
    /// A preview of the newest message (or a neutral line when previews are hidden).
    pub body: String,
    /// The recipient's total unread count.
    pub badge: i64,
    /// Messages this notification stands for (a collapsed burst).
    pub count: i64,
    /// The conversation a tap opens.
    pub conversation_id: ConversationId,
    /// The newest message.
    pub message_id: MessageId,
    /// Same for every push of a conversation, so a device shows one
    /// notification per conversation (tag, `Topic`, `apns-collapse-id`).
    pub collapse_key: String,
}

impl Notification {
    /// The notification for `message` in `conversation`, from `sender_name`, standing for `count` messages,
    /// with the recipient's total `badge`; `previews` off hides the text.
    pub fn compose(
        conversation: &Conversation,
        message: &Message,
        sender_name: &str,
        count: i64,
        badge: i64,
        previews: bool,
    ) -> Self {
        // A deleted message that others collapsed into: their count, no preview.
        let previews = previews && !message.is_deleted();
        let label = crate::media::preview_label(&message.attachments);
        let text = if previews {
            match (message.body.trim().is_empty(), label) {
                (true, Some(label)) => label.to_string(),
                (false, Some(label)) => format!("{label} {}", preview(&message.body)),
                _ => preview(&message.body),
            }
        } else if count > 1 {
            format!("{count} new messages")
        } else {
            "New message".to_string()
        };
        let (title, body) = match conversation.kind {
            ConversationKind::Direct => (sender_name.to_string(), text),
            ConversationKind::Group => (
                conversation.name.clone().unwrap_or_else(|| "Group".into()),
                if previews { format!("{sender_name}: {text}") } else { text },
            ),
        };
        let body = if previews && count > 1 { format!("{body} (+{} more)", count - 1) } else { body };
        Self {
            title,
            body,
            badge,
            count,
            conversation_id: conversation.id,
            message_id: message.id,
            collapse_key: format!("c{}", conversation.id),
        }
    }

    /// The JSON a service worker receives (see `super::payloads::WebPayload`).
    pub fn web_payload(&self) -> String {
        serde_json::to_string(&super::payloads::WebPayload::new(self)).unwrap_or_default()
    }
}

/// The text cut to [`PREVIEW_CHARS`] on a character boundary, on one line.
fn preview(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::preview;

    #[test]
    fn previews_are_short_single_lines() {
        assert_eq!(preview("hi\n  there"), "hi there");
        let long = "é".repeat(200);
        let p = preview(&long);
        assert_eq!(p.chars().count(), 141);
        assert!(p.ends_with('…'));
    }
}
