//! The label values of the metrics: the small enums the services pass in,
//! each with the table of its label strings (an enum's value indexes its
//! table, so a labelled count needs no formatting on the hot path).
//!
//! Owns: which events, outcomes, refusals, limits, push results and
//! dependencies are told apart. May not touch: the recorder (`telemetry`).

use crate::domain::ErrorCode;

/// Socket events that are counted by name (anything else is `unknown`).
#[derive(Debug, Clone, Copy)]
pub enum EventName {
    /// `join`
    Join,
    /// `send_message`
    SendMessage,
    /// `fetch_unread_messages`
    FetchUnread,
    /// `mark_read`
    MarkRead,
    /// `typing`
    Typing,
    /// `edit_message`
    EditMessage,
    /// `delete_message`
    DeleteMessage,
    /// `react`
    React,
    /// `unreact`
    Unreact,
    /// Any event the server does not know.
    Unknown,
}
pub(super) const EVENTS: [&str; 10] = [
    "join",
    "send_message",
    "fetch_unread_messages",
    "mark_read",
    "typing",
    "edit_message",
    "delete_message",
    "react",
    "unreact",
    "unknown",
];

/// The outcome label of an event: `ok` or the error code sent back.
pub(super) const OUTCOMES: [&str; 12] = [
    "ok",
    "unauthorized",
    "forbidden",
    "account_disabled",
    "invalid",
    "not_found",
    "conflict",
    "too_large",
    "quota_exceeded",
    "rate_limited",
    "unavailable",
    "internal",
];

pub(super) fn outcome_index(result: Option<ErrorCode>) -> usize {
    match result {
        None => 0,
        Some(code) => OUTCOMES.iter().position(|o| *o == code.as_str()).unwrap_or(OUTCOMES.len() - 1),
    }
}

/// Why a Socket.IO handshake was refused.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    /// No, a bad or a revoked token.
    Unauthorized,
    /// `limits.connections_per_user`.
    ConnectionsPerUser,
    /// `limits.connections_per_address`.
    ConnectionsPerAddress,
    /// The node is draining.
    ShuttingDown,
    /// `limits.handshakes_at_once`.
    HandshakesAtOnce,
}
pub(super) const REFUSALS: [&str; 5] = [
    "unauthorized",
    "connections_per_user",
    "connections_per_address",
    "shutting_down",
    "handshakes_at_once",
];

/// Which limit refused a request or an event.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// `limits.events_per_second` (one socket).
    EventsPerSocket,
    /// `limits.events_per_second_per_user` (all of a user's sockets).
    EventsPerUser,
    /// `limits.connections_per_user`.
    ConnectionsPerUser,
    /// `limits.connections_per_address`.
    ConnectionsPerAddress,
    /// Failed logins (per account and address).
    Login,
    /// `media.uploads_per_minute`.
    Uploads,
}
pub(super) const LIMITS: [&str; 6] = [
    "events_per_socket",
    "events_per_user",
    "connections_per_user",
    "connections_per_address",
    "login",
    "uploads",
];

/// What happened to a push job.
#[derive(Debug, Clone, Copy)]
pub enum PushResult {
    /// The provider accepted it.
    Sent,
    /// The provider asked to try again later.
    Retried,
    /// Given up (failed for good, too many attempts, provider not configured).
    Dropped,
    /// The device is gone and was removed.
    Pruned,
    /// Not sent because no longer wanted (read, muted, recipient online).
    Skipped,
}
pub(super) const PUSH_RESULTS: [&str; 5] = ["sent", "retried", "dropped", "pruned", "skipped"];
pub(super) const PROVIDERS: [&str; 4] = ["webpush", "apns", "fcm", "other"];

/// Which dependency failed.
#[derive(Debug, Clone, Copy)]
pub enum Dependency {
    /// The database (SQLite or PostgreSQL).
    Database,
    /// Redis (cluster mode).
    Redis,
}
