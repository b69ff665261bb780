//! The request parsers: what they accept, and that each rejection is
//! `invalid` (or `forbidden`, `too_large`) with a message naming the field.

use super::*;
use crate::chat::Target;
use crate::domain::ErrorCode;
use crate::media::AttachmentRequest;
use crate::notify::NewDevice;
use serde_json::json;

fn send(v: Value) -> Result<SendMessage, Error> {
    send_message(&v, UserId(1), None, 10)
}

fn message_of<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(e) if e.code() == ErrorCode::Invalid => e.to_string(),
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn send_message_payloads() {
    let ok = send(json!({"receiverId": 2, "message": "hi", "clientMsgId": "a"}));
    assert!(matches!(ok, Ok(SendMessage { target: Target::User(UserId(2)), .. })));
    assert!(send(json!({"receiverId": 2, "message": "hi", "senderId": 1})).is_ok());
    assert!(send(json!({"receiverId": 2, "message": "hi", "senderId": null})).is_ok());
    for claim in [json!(3), json!("1"), json!(1.5), json!({})] {
        let spoof = send(json!({"receiverId": 2, "message": "hi", "senderId": claim}));
        assert!(matches!(spoof, Err(Error::Forbidden(_))), "senderId {claim}");
    }
    assert!(matches!(send(json!({"receiverId": 2, "message": "x".repeat(11)})), Err(Error::TooLarge(_))));
    for bad in [
        json!(null),
        json!(5),
        json!("hi"),
        json!([1]),
        json!({"message": "hi"}),
        json!({"receiverId": "2", "message": "hi"}),
        json!({"receiverId": 0, "message": "hi"}),
        json!({"receiverId": 1.5, "message": "hi"}),
        json!({"receiverId": 2}),
        json!({"receiverId": 2, "message": "  "}),
        json!({"receiverId": 2, "message": 7}),
        json!({"receiverId": 2, "conversationId": 3, "message": "hi"}),
        json!({"receiverId": 2, "message": "hi", "clientMsgId": {}}),
        json!({"receiverId": 2, "message": "hi", "clientMsgId": ""}),
        json!({"receiverId": 2, "message": "hi", "attachments": {}}),
        json!({"receiverId": 2, "message": "hi", "attachments": [7]}),
        json!({"receiverId": 2, "attachments": [{"id": ""}]}),
        json!({"receiverId": 2, "attachments": [{"publicId": "x", "version": 1}]}),
    ] {
        assert!(matches!(send(bad.clone()), Err(Error::Invalid(_))), "{bad} accepted");
    }
}

#[test]
fn messages_name_the_field() {
    let m = message_of(send(json!({"receiverId": "bob", "message": "hi"})));
    assert!(m.starts_with("`receiverId`"), "{m}");
    let m = message_of(send(json!({"receiverId": -4, "message": "hi"})));
    assert!(m.contains("`receiverId`") && m.contains("positive integer id"), "{m}");
    let m = message_of(send(json!({"receiverId": 2, "message": ["hi"]})));
    assert!(m.starts_with("`message`"), "{m}");
    let m = message_of(send(json!({"receiverId": 2, "attachments": [{"publicId": 5}]})));
    assert!(m.contains("`attachments[0].publicId`"), "{m}");
    let m = message_of(typing(&json!({"conversationId": 1, "isTyping": "yes"})));
    assert!(m.starts_with("`isTyping`") && m.contains("boolean"), "{m}");
    let m = message_of(mark_read(&json!({"conversationId": 1})));
    assert!(m.contains("`messageId`"), "{m}");
    assert_eq!(
        message_of(join(&json!(null))),
        "invalid: payload must be a JSON object".replace("invalid: ", "")
    );
}

#[test]
fn attachments_of_both_kinds() {
    let cmd = send(json!({"receiverId": 2, "attachments": [{"id": "abc"}]})).expect("an upload");
    assert!(cmd.text.as_str().is_empty());
    assert!(matches!(&cmd.attachments[..], [AttachmentRequest::Uploaded(id)] if id == "abc"));
    let cloudinary = json!({"public_id": "confab/x", "version": 3, "signature": "s", "resource_type": "image",
                            "format": "png", "bytes": "many", "width": 10, "originalFilename": 5});
    let cmd =
        send(json!({"receiverId": 2, "message": " ", "attachments": [cloudinary]})).expect("cloudinary");
    let [AttachmentRequest::Cloudinary(u)] = &cmd.attachments[..] else { panic!("{:?}", cmd.attachments) };
    assert_eq!((u.public_id.as_str(), u.version, u.bytes, u.width), ("confab/x", 3, 0, Some(10)));
    assert_eq!(u.original_filename, None, "optional Cloudinary fields of the wrong type are left out");
}

#[test]
fn other_payloads() {
    assert_eq!(fetch_unread(None).ok(), Some(None));
    assert!(fetch_unread(Some(&json!(null))).is_err());
    assert_eq!(fetch_unread(Some(&json!({}))).ok(), Some(None));
    assert_eq!(fetch_unread(Some(&json!({"conversationId": null}))).ok(), Some(None));
    assert_eq!(fetch_unread(Some(&json!({"conversationId": 4}))).ok(), Some(Some(ConversationId(4))));
    assert!(fetch_unread(Some(&json!(3))).is_err());
    assert!(mark_read(&json!({"conversationId": 1})).is_err());
    assert_eq!(
        mark_read(&json!({"conversationId": 1, "messageId": 2})).ok(),
        Some((ConversationId(1), MessageId(2)))
    );
    assert!(typing(&json!({"conversationId": 1, "isTyping": "yes"})).is_err());
    assert_eq!(join(&json!({"userId": 9})).ok(), Some(UserId(9)));
    assert_eq!(role(&json!({"role": "admin"})).ok(), Some(Role::Admin));
    assert!(role(&json!({"role": "king"})).is_err());
    assert_eq!(add_members(&json!({"userIds": [2, 3]})).ok(), Some(vec![UserId(2), UserId(3)]));
    assert!(add_members(&json!({"userIds": 2})).is_err());
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
    assert_eq!(
        group_patch(&json!({"historyVisibility": "full"})).ok().and_then(|p| p.full_history),
        Some(true)
    );
    assert!(group_patch(&json!({})).is_err());
    assert!(group_patch(&json!({"name": null})).is_err(), "a name cannot be cleared");
}

#[test]
fn account_and_device_bodies() {
    let r: RegisterRequest = parse(&json!({"username": "ana_b", "password": "12345678"})).expect("shape");
    assert!(Registration::try_from(r).is_ok());
    let r: RegisterRequest = parse(&json!({"username": "ana", "password": "1234"})).expect("shape");
    assert!(Registration::try_from(r).is_err());
    assert!(parse::<RegisterRequest>(&json!({"username": 5, "password": "12345678"})).is_err());
    let device = |v: Value| parse::<NewDeviceRequest>(&v).and_then(NewDevice::try_from);
    let d = device(json!({"type": "apns", "token": "ab", "environment": "sandbox"}));
    assert!(matches!(d, Ok(NewDevice::Apns { sandbox: true, .. })));
    assert!(matches!(device(json!({"type": "fcm", "token": "x"})), Ok(NewDevice::Fcm { .. })));
    assert!(device(json!({"type": "pager", "token": "x"})).is_err());
    assert!(device(json!({"type": "apns", "token": "ab", "environment": "moon"})).is_err());
    let m = message_of(device(json!({"type": "webpush", "endpoint": "https://x"})));
    assert!(m.contains("`keys`"), "{m}");
    let m = message_of(device(json!({"type": "webpush", "endpoint": 5})));
    assert!(m.starts_with("`endpoint`"), "{m}");
    let m = message_of(device(json!({"type": "webpush", "endpoint": "https://x", "keys": {"p256dh": "k"}})));
    assert!(m.contains("auth"), "{m}");
    let until = |v: Value| parse::<MuteRequest>(&v).map(|m| m.until.0);
    assert_eq!(until(json!({})).ok(), Some(None));
    assert_eq!(until(json!({"until": null})).ok(), Some(None));
    assert_eq!(until(json!({"until": 5})).ok(), Some(Some(5)));
    assert_eq!(until(json!({"until": "1970-01-01T00:00:01Z"})).ok(), Some(Some(1000)));
    assert!(until(json!({"until": 0})).is_err());
    assert!(until(json!({"until": "tomorrow"})).is_err());
}
