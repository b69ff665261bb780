//! Parsing client requests (Socket.IO payloads and HTTP bodies) into domain
//! commands. Every rejection says which field is wrong and how.

use crate::chat::{SendMessage, Target};
use crate::domain::{
    ClientMsgId, ConnectionId, ConversationId, Error, MessageId, MessageText, UserId,
};
use serde_json::{Map, Value};

/// The payload as a JSON object, or a clear `invalid` error.
pub fn object(v: &Value) -> Result<&Map<String, Value>, Error> {
    v.as_object()
        .ok_or_else(|| Error::invalid("payload must be a JSON object"))
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
        return Err(Error::Forbidden(
            "senderId does not match the authenticated user",
        ));
    }
    let target = match (get(o, "receiverId"), get(o, "conversationId")) {
        (r, Value::Null) if !r.is_null() => Target::User(UserId::parse(r, "receiverId")?),
        (Value::Null, c) if !c.is_null() => {
            Target::Conversation(ConversationId::parse(c, "conversationId")?)
        }
        (Value::Null, Value::Null) => {
            return Err(Error::invalid(
                "`receiverId` or `conversationId` is required",
            ));
        }
        _ => {
            return Err(Error::invalid(
                "give `receiverId` or `conversationId`, not both",
            ));
        }
    };
    Ok(SendMessage {
        sender,
        target,
        text: MessageText::parse(get(o, "message"), max_chars)?,
        client_msg_id: ClientMsgId::parse(get(o, "clientMsgId"))?,
        origin,
    })
}

/// `{}` or `{conversationId}`; a missing payload counts as `{}`.
pub fn fetch_unread(v: &Value) -> Result<Option<ConversationId>, Error> {
    if v.is_null() {
        return Ok(None);
    }
    let c = get(object(v)?, "conversationId");
    if c.is_null() {
        Ok(None)
    } else {
        ConversationId::parse(c, "conversationId").map(Some)
    }
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
    let is_typing = get(o, "isTyping")
        .as_bool()
        .ok_or_else(|| Error::invalid("`isTyping` must be a boolean"))?;
    Ok((id, is_typing))
}

/// `{userId}`.
pub fn join(v: &Value) -> Result<UserId, Error> {
    UserId::parse(get(object(v)?, "userId"), "userId")
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
        assert!(matches!(
            ok,
            Ok(SendMessage {
                target: Target::User(UserId(2)),
                ..
            })
        ));
        assert!(send(json!({"receiverId": 2, "message": "hi", "senderId": 1})).is_ok());
        assert!(matches!(
            send(json!({"receiverId": 2, "message": "hi", "senderId": 3})),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            send(json!({"receiverId": 2, "message": "x".repeat(11)})),
            Err(Error::TooLarge(_))
        ));
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
            assert!(
                matches!(send(bad.clone()), Err(Error::Invalid(_))),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn other_payloads() {
        assert_eq!(fetch_unread(&json!(null)).ok(), Some(None));
        assert_eq!(fetch_unread(&json!({})).ok(), Some(None));
        assert_eq!(
            fetch_unread(&json!({"conversationId": 4})).ok(),
            Some(Some(ConversationId(4)))
        );
        assert!(fetch_unread(&json!(3)).is_err());
        assert!(mark_read(&json!({"conversationId": 1})).is_err());
        assert!(typing(&json!({"conversationId": 1, "isTyping": "yes"})).is_err());
        assert_eq!(join(&json!({"userId": 9})).ok(), Some(UserId(9)));
    }
}
