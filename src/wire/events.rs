//! What the server emits on its own (`docs/API.md`, "Server → client"):
//! each domain [`Event`] as its Socket.IO event name and a `Serialize`
//! payload. `receive_message` is serialized by the fan-out itself, once per
//! message (see `realtime::SocketFanout::publish`).
//!
//! Owns: event names and payload shapes. May not touch: sockets.

use super::timestamp;
use super::{ConversationView, MessageView, ReactionView};
use crate::fanout::Event;
use serde::Serialize;

/// `receive_message`.
pub const RECEIVE_MESSAGE: &str = "receive_message";

/// `message_status`: a message the user sent was delivered to or read by `userId`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStatusEvent {
    /// Where.
    pub conversation_id: i64,
    /// Which message.
    pub message_id: i64,
    /// Its seq.
    pub seq: i64,
    /// `delivered` or `read`.
    pub status: &'static str,
    /// The recipient who got or read it.
    pub user_id: i64,
}

/// `typing`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingEvent<'a> {
    /// Where.
    pub conversation_id: i64,
    /// Who.
    pub user_id: i64,
    /// Their display name.
    pub display_name: &'a str,
    /// Started or stopped typing.
    pub is_typing: bool,
}

/// `presence`: a contact came online or went offline.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEvent {
    /// Who.
    pub user_id: i64,
    /// Online now.
    pub online: bool,
    /// When they went offline (`null` while online).
    pub last_seen: Option<String>,
}

/// `conversation_updated`: a group's profile or member list changed.
#[derive(Serialize)]
pub struct ConversationUpdatedEvent {
    /// The conversation as it is now.
    pub conversation: ConversationView,
}

/// `conversation_removed`: the user is no longer in the conversation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationRemovedEvent {
    /// Which.
    pub conversation_id: i64,
    /// `left`, `removed` or `deleted`.
    pub reason: &'static str,
}

/// `message_updated`: a message was edited.
#[derive(Serialize)]
pub struct MessageUpdatedEvent {
    /// The message as it is now.
    pub message: MessageView,
}

/// `message_deleted`: a message is now a tombstone.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeletedEvent {
    /// Where.
    pub conversation_id: i64,
    /// Which.
    pub message_id: i64,
}

/// `reaction_updated`: a message's reactions changed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionUpdatedEvent {
    /// Where.
    pub conversation_id: i64,
    /// Which message.
    pub message_id: i64,
    /// All its reactions now, ordered by first use.
    pub reactions: Vec<ReactionView>,
}

/// The payload of any event.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Payload<'a> {
    /// `message_status`.
    Status(MessageStatusEvent),
    /// `typing`.
    Typing(TypingEvent<'a>),
    /// `presence`.
    Presence(PresenceEvent),
    /// `conversation_updated`.
    ConversationUpdated(Box<ConversationUpdatedEvent>),
    /// `conversation_removed`.
    ConversationRemoved(ConversationRemovedEvent),
    /// `message_updated`.
    MessageUpdated(Box<MessageUpdatedEvent>),
    /// `message_deleted`.
    MessageDeleted(MessageDeletedEvent),
    /// `reaction_updated`.
    ReactionUpdated(ReactionUpdatedEvent),
}

/// The Socket.IO event name and payload of a domain event.
pub fn event(e: &Event) -> (&'static str, Payload<'_>) {
    match e {
        Event::Receipt { conversation_id, message_id, seq, receipt, reader } => (
            "message_status",
            Payload::Status(MessageStatusEvent {
                conversation_id: conversation_id.0,
                message_id: message_id.0,
                seq: *seq,
                status: receipt.as_str(),
                user_id: reader.0,
            }),
        ),
        Event::Typing { conversation_id, user, display_name, is_typing } => (
            "typing",
            Payload::Typing(TypingEvent {
                conversation_id: conversation_id.0,
                user_id: user.0,
                display_name,
                is_typing: *is_typing,
            }),
        ),
        Event::Presence { user, online, last_seen } => (
            "presence",
            Payload::Presence(PresenceEvent {
                user_id: user.0,
                online: *online,
                last_seen: last_seen.map(timestamp),
            }),
        ),
        Event::ConversationUpdated(c) => (
            "conversation_updated",
            Payload::ConversationUpdated(Box::new(ConversationUpdatedEvent {
                conversation: ConversationView::new(c, None),
            })),
        ),
        Event::ConversationRemoved { conversation_id, reason } => (
            "conversation_removed",
            Payload::ConversationRemoved(ConversationRemovedEvent {
                conversation_id: conversation_id.0,
                reason: reason.as_str(),
            }),
        ),
        Event::MessageUpdated(m) => (
            "message_updated",
            Payload::MessageUpdated(Box::new(MessageUpdatedEvent { message: MessageView::new(m) })),
        ),
        Event::MessageDeleted { conversation_id, message_id } => (
            "message_deleted",
            Payload::MessageDeleted(MessageDeletedEvent {
                conversation_id: conversation_id.0,
                message_id: message_id.0,
            }),
        ),
        Event::ReactionUpdated { conversation_id, message_id, reactions } => (
            "reaction_updated",
            Payload::ReactionUpdated(ReactionUpdatedEvent {
                conversation_id: conversation_id.0,
                message_id: message_id.0,
                reactions: ReactionView::list(reactions),
            }),
        ),
    }
}
