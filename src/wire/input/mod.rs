//! Client requests (Socket.IO payloads and HTTP bodies) into the services'
//! commands: each request is a `Deserialize` struct of its JSON, turned
//! into a command with `TryFrom` where values need more than a type check
//! (parse, don't validate).
//!
//! Owns: the request shapes of `docs/API.md` and what makes each field valid;
//! every rejection is an `invalid` that names the field (`receiverId`,
//! `attachments[0].publicId`). May not touch: the services — it only builds
//! their inputs — nor any I/O.
//!
//! The functions below are what the transports call: one per request, from
//! the JSON value to the command.

mod account_requests;
mod fields;
mod group_requests;
mod message_requests;
mod messaging_requests;

pub use account_requests::{
    ApnsEnvironment, DeviceKind, LoginRequest, MuteRequest, NewDeviceRequest, RegisterRequest, Registration,
    Until, WebPushKeys,
};
pub use fields::{Lenient, PositiveId, nullable};
pub use group_requests::{
    AddMembersRequest, GroupPatchRequest, HistoryVisibility, NewGroupBody, RoleRequest,
};
pub use message_requests::{
    AttachmentItem, FetchUnreadRequest, JoinRequest, MarkReadRequest, SendContext, SendMessageRequest,
    SenderClaim, TypingRequest,
};
pub use messaging_requests::{
    EditRequest, MessageRef, ReactRequest, Search, SearchParams, edit_body, edit_message, message_ref,
    path_message_id, react,
};

use crate::chat::{NewGroupRequest, SendMessage};
use crate::domain::{ConnectionId, ConversationId, Error, GroupPatch, MessageId, Role, UserId};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `{receiverId | conversationId, message, clientMsgId?, senderId?, attachments?}`.
pub fn send_message(
    v: &Value,
    sender: UserId,
    origin: Option<ConnectionId>,
    max_chars: usize,
) -> Result<SendMessage, Error> {
    SendMessage::try_from((parse::<SendMessageRequest>(v)?, SendContext { sender, origin, max_chars }))
}

/// `{}` or `{conversationId}`; no payload at all counts as `{}` (an explicit
/// `null` does not).
pub fn fetch_unread(v: Option<&Value>) -> Result<Option<ConversationId>, Error> {
    match v {
        None => Ok(None),
        Some(v) => Ok(parse::<FetchUnreadRequest>(v)?.conversation_id.map(ConversationId::from)),
    }
}

/// `{conversationId, messageId}`.
pub fn mark_read(v: &Value) -> Result<(ConversationId, MessageId), Error> {
    let r = parse::<MarkReadRequest>(v)?;
    Ok((r.conversation_id.into(), r.message_id.into()))
}

/// `{conversationId, isTyping}`.
pub fn typing(v: &Value) -> Result<(ConversationId, bool), Error> {
    let r = parse::<TypingRequest>(v)?;
    Ok((r.conversation_id.into(), r.is_typing))
}

/// `{userId}`.
pub fn join(v: &Value) -> Result<UserId, Error> {
    Ok(parse::<JoinRequest>(v)?.user_id.into())
}

/// `POST /api/conversations` for a group.
pub fn new_group(v: &Value, creator: UserId) -> Result<NewGroupRequest, Error> {
    NewGroupRequest::try_from((parse::<NewGroupBody>(v)?, creator))
}

/// `PATCH /api/conversations/{id}`.
pub fn group_patch(v: &Value) -> Result<GroupPatch, Error> {
    GroupPatch::try_from(parse::<GroupPatchRequest>(v)?)
}

/// `POST /api/conversations/{id}/members`: `{userIds}`.
pub fn add_members(v: &Value) -> Result<Vec<UserId>, Error> {
    Ok(parse::<AddMembersRequest>(v)?.user_ids.into_iter().map(UserId::from).collect())
}

/// `PATCH /api/conversations/{id}/members/{user}`: `{role}`.
pub fn role(v: &Value) -> Result<Role, Error> {
    Role::try_from(parse::<RoleRequest>(v)?)
}

/// Deserializes a request from a JSON object; a malformed one is an
/// `invalid` whose message names the field.
pub fn parse<T: DeserializeOwned>(v: &Value) -> Result<T, Error> {
    if !v.is_object() {
        return Err(Error::invalid("payload must be a JSON object"));
    }
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            Error::invalid(inner)
        } else if inner.starts_with("must ") {
            Error::invalid(format!("`{path}` {inner}"))
        } else {
            Error::invalid(format!("`{path}`: {inner}"))
        }
    })
}

#[cfg(test)]
mod input_tests;
