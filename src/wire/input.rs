//! Parsing client requests (Socket.IO payloads and HTTP bodies) into domain
//! commands. Every rejection says which field is wrong and how.

use crate::chat::{NewGroupRequest, SendMessage, Target};
use crate::domain::{
    ClientMsgId, ConnectionId, ConversationId, Error, GroupPatch, MessageId, MessageText, Role, UserId,
};
use crate::media::AttachmentRequest;
use crate::media::cloudinary::Upload;
use serde_json::{Map, Value};

/// The payload as a JSON object, or a clear `invalid` error.
pub fn object(v: &Value) -> Result<&Map<String, Value>, Error> {
    v.as_object().ok_or_else(|| Error::invalid("payload must be a JSON object"))
}

fn get<'a>(o: &'a Map<String, Value>, key: &str) -> &'a Value {
    o.get(key).unwrap_or(&Value::Null)
}

/// `{receiverId | conversationId, message, clientMsgId?, senderId?}`.
pub fn send_message(
    v: &Value,
    sender: UserId,
    origin: Option<ConnectionId>,
    max_chars: usize,
) -> Result<SendMessage, Error> {
    let o = object(v)?;
    let claimed = get(o, "senderId");
    if !claimed.is_null() && claimed.as_i64() != Some(sender.0) {
        return Err(Error::Forbidden("senderId does not match the authenticated user"));
    }
    let target = match (get(o, "receiverId"), get(o, "conversationId")) {
        (r, Value::Null) if !r.is_null() => Target::User(UserId::parse(r, "receiverId")?),
        (Value::Null, c) if !c.is_null() => Target::Conversation(ConversationId::parse(c, "conversationId")?),
        (Value::Null, Value::Null) => {
            return Err(Error::invalid("`receiverId` or `conversationId` is required"));
        }
        _ => {
            return Err(Error::invalid("give `receiverId` or `conversationId`, not both"));
        }
    };
    let attachments = attachments(get(o, "attachments"))?;
    let text = match get(o, "message") {
        // A message may be only attachments.
        Value::Null => MessageText::empty(),
        Value::String(t) if t.trim().is_empty() && !attachments.is_empty() => MessageText::empty(),
        m => MessageText::parse(m, max_chars)?,
    };
    if text.as_str().is_empty() && attachments.is_empty() {
        return Err(Error::invalid("`message` must not be empty"));
    }
    Ok(SendMessage {
        sender,
        target,
        text,
        client_msg_id: ClientMsgId::parse(get(o, "clientMsgId"))?,
        origin,
        attachments,
    })
}

/// `attachments`: absent, or an array of `{id}` (an upload) or a Cloudinary
/// upload result (`publicId`/`public_id`, `version`, `signature`, …).
fn attachments(v: &Value) -> Result<Vec<AttachmentRequest>, Error> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(Error::invalid("`attachments` must be an array")),
    };
    items.iter().map(attachment).collect()
}

fn attachment(v: &Value) -> Result<AttachmentRequest, Error> {
    let o = v.as_object().ok_or_else(|| Error::invalid("each attachment must be an object"))?;
    // Cloudinary's own field names, or their camelCase spelling.
    let field = |camel: &str, snake: &str| o.get(camel).or_else(|| o.get(snake)).unwrap_or(&Value::Null);
    let text = |camel: &str, snake: &str| -> Result<String, Error> {
        match field(camel, snake) {
            Value::String(s) if !s.is_empty() && s.len() <= 512 => Ok(s.clone()),
            _ => Err(Error::invalid(format!("attachment `{camel}` must be a non-empty string"))),
        }
    };
    if field("publicId", "public_id").is_null() {
        return match get(o, "id") {
            Value::String(id) if !id.is_empty() && id.len() <= 64 => {
                Ok(AttachmentRequest::Uploaded(id.clone()))
            }
            _ => Err(Error::invalid("attachment `id` must be the id of an upload")),
        };
    }
    let int = |camel: &str, snake: &str| field(camel, snake).as_i64();
    Ok(AttachmentRequest::Cloudinary(Upload {
        public_id: text("publicId", "public_id")?,
        version: int("version", "version")
            .ok_or_else(|| Error::invalid("attachment `version` must be a number"))?,
        signature: text("signature", "signature")?,
        resource_type: text("resourceType", "resource_type")?,
        format: text("format", "format")?,
        bytes: int("bytes", "bytes").unwrap_or(0).max(0),
        width: int("width", "width"),
        height: int("height", "height"),
        original_filename: field("originalFilename", "original_filename").as_str().map(str::to_string),
    }))
}

/// `{}` or `{conversationId}`; no payload at all counts as `{}` (an explicit
/// `null` does not).
pub fn fetch_unread(v: Option<&Value>) -> Result<Option<ConversationId>, Error> {
    let Some(v) = v else { return Ok(None) };
    let c = get(object(v)?, "conversationId");
    if c.is_null() { Ok(None) } else { ConversationId::parse(c, "conversationId").map(Some) }
}

/// `{conversationId, messageId}`.
pub fn mark_read(v: &Value) -> Result<(ConversationId, MessageId), Error> {
    let o = object(v)?;
    Ok((
        ConversationId::parse(get(o, "conversationId"), "conversationId")?,
        MessageId::parse(get(o, "messageId"), "messageId")?,
    ))
}

/// `{conversationId, isTyping}`.
pub fn typing(v: &Value) -> Result<(ConversationId, bool), Error> {
    let o = object(v)?;
    let id = ConversationId::parse(get(o, "conversationId"), "conversationId")?;
    let is_typing =
        get(o, "isTyping").as_bool().ok_or_else(|| Error::invalid("`isTyping` must be a boolean"))?;
    Ok((id, is_typing))
}

/// `{userId}`.
pub fn join(v: &Value) -> Result<UserId, Error> {
    UserId::parse(get(object(v)?, "userId"), "userId")
}

/// A list of user ids, e.g. `memberIds` or `userIds`.
pub fn user_ids(v: &Value, field: &str) -> Result<Vec<UserId>, Error> {
    let list =
        v.as_array().ok_or_else(|| Error::invalid(format!("`{field}` must be an array of user ids")))?;
    list.iter().map(|u| UserId::parse(u, field)).collect()
}

fn optional_text(o: &Map<String, Value>, key: &str, max: usize) -> Result<Option<Option<String>>, Error> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.chars().count() <= max => {
            let t = s.trim();
            Ok(Some(if t.is_empty() { None } else { Some(t.to_string()) }))
        }
        Some(_) => Err(Error::invalid(format!("`{key}` must be a string of at most {max} characters"))),
    }
}

fn group_name(v: &Value) -> Result<String, Error> {
    match v.as_str().map(str::trim) {
        Some(n) if (1..=100).contains(&n.chars().count()) && !n.chars().any(char::is_control) => {
            Ok(n.to_string())
        }
        _ => Err(Error::invalid("`name` must be 1-100 characters")),
    }
}

fn avatar(o: &Map<String, Value>) -> Result<Option<Option<String>>, Error> {
    let url = optional_text(o, "avatarUrl", 2048)?;
    if let Some(Some(u)) = &url {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            return Err(Error::invalid("`avatarUrl` must be an http(s) URL"));
        }
    }
    Ok(url)
}

fn history_visibility(o: &Map<String, Value>) -> Result<Option<bool>, Error> {
    match o.get("historyVisibility") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_str() {
            Some("full") => Ok(Some(true)),
            Some("joined") => Ok(Some(false)),
            _ => Err(Error::invalid("`historyVisibility` must be \"joined\" or \"full\"")),
        },
    }
}

/// `POST /api/conversations` for a group:
/// `{type:"group", name, memberIds, description?, avatarUrl?, historyVisibility?}`.
pub fn new_group(v: &Value, creator: UserId) -> Result<NewGroupRequest, Error> {
    let o = object(v)?;
    if get(o, "type").as_str() != Some("group") {
        return Err(Error::invalid("`type` must be \"group\" (direct conversations start with a message)"));
    }
    let members = match o.get("memberIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => user_ids(list, "memberIds")?,
    };
    Ok(NewGroupRequest {
        creator,
        name: group_name(get(o, "name"))?,
        description: optional_text(o, "description", 1000)?.flatten(),
        avatar_url: avatar(o)?.flatten(),
        full_history: history_visibility(o)?.unwrap_or(false),
        members,
    })
}

/// `PATCH /api/conversations/{id}`: any of `name`, `description`, `avatarUrl`, `historyVisibility`.
pub fn group_patch(v: &Value) -> Result<GroupPatch, Error> {
    let o = object(v)?;
    let name = match o.get("name") {
        None => None,
        Some(n) => Some(group_name(n)?),
    };
    let patch = GroupPatch {
        name,
        description: optional_text(o, "description", 1000)?,
        avatar_url: avatar(o)?,
        full_history: history_visibility(o)?,
    };
    if patch == GroupPatch::default() {
        return Err(Error::invalid(
            "nothing to change: give name, description, avatarUrl or historyVisibility",
        ));
    }
    Ok(patch)
}

/// `{role: "owner" | "admin" | "member"}`.
pub fn role(v: &Value) -> Result<Role, Error> {
    get(object(v)?, "role")
        .as_str()
        .and_then(Role::parse)
        .ok_or_else(|| Error::invalid("`role` must be \"owner\", \"admin\" or \"member\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn send(v: Value) -> Result<SendMessage, Error> {
        send_message(&v, UserId(1), None, 10)
    }

    #[test]
    fn send_message_payloads() {
        let ok = send(json!({"receiverId": 2, "message": "hi", "clientMsgId": "a"}));
        assert!(matches!(ok, Ok(SendMessage { target: Target::User(UserId(2)), .. })));
        assert!(send(json!({"receiverId": 2, "message": "hi", "senderId": 1})).is_ok());
        assert!(matches!(
            send(json!({"receiverId": 2, "message": "hi", "senderId": 3})),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(send(json!({"receiverId": 2, "message": "x".repeat(11)})), Err(Error::TooLarge(_))));
        for bad in [
            json!(null),
            json!(5),
            json!("hi"),
            json!([1]),
            json!({"message": "hi"}),
            json!({"receiverId": "2", "message": "hi"}),
            json!({"receiverId": 2}),
            json!({"receiverId": 2, "message": 7}),
            json!({"receiverId": 2, "conversationId": 3, "message": "hi"}),
            json!({"receiverId": 2, "message": "hi", "clientMsgId": {}}),
        ] {
            assert!(matches!(send(bad.clone()), Err(Error::Invalid(_))), "{bad} accepted");
        }
    }

    #[test]
    fn other_payloads() {
        assert_eq!(fetch_unread(None).ok(), Some(None));
        assert!(fetch_unread(Some(&json!(null))).is_err());
        assert_eq!(fetch_unread(Some(&json!({}))).ok(), Some(None));
        assert_eq!(fetch_unread(Some(&json!({"conversationId": 4}))).ok(), Some(Some(ConversationId(4))));
        assert!(fetch_unread(Some(&json!(3))).is_err());
        assert!(mark_read(&json!({"conversationId": 1})).is_err());
        assert!(typing(&json!({"conversationId": 1, "isTyping": "yes"})).is_err());
        assert_eq!(join(&json!({"userId": 9})).ok(), Some(UserId(9)));
        assert_eq!(role(&json!({"role": "admin"})).ok(), Some(Role::Admin));
        assert!(role(&json!({"role": "king"})).is_err());
    }

    #[test]
    fn group_payloads() {
        let g = new_group(&json!({"type": "group", "name": " Team ", "memberIds": [2, 3]}), UserId(1));
        let g = g.expect("valid group");
        assert_eq!((g.name.as_str(), g.members.len(), g.full_history), ("Team", 2, false));
        for bad in [
            json!({"type": "direct", "name": "x"}),
            json!({"type": "group", "name": ""}),
            json!({"type": "group", "name": "x", "memberIds": [1, "2"]}),
            json!({"type": "group", "name": "x", "memberIds": 2}),
            json!({"type": "group", "name": "x", "avatarUrl": "javascript:alert(1)"}),
            json!({"type": "group", "name": "x", "historyVisibility": "all"}),
        ] {
            assert!(new_group(&bad, UserId(1)).is_err(), "{bad} accepted");
        }
        let p = group_patch(&json!({"description": null})).expect("valid patch");
        assert_eq!(p.description, Some(None));
        assert!(group_patch(&json!({})).is_err());
    }
}
