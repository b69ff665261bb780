//! Property tests ("fuzzing") for every parser of client input: Socket.IO
//! payloads and HTTP bodies into domain types, and the configuration. For
//! any input they return a value or a client error (`invalid`, `forbidden`,
//! `too_large`), never panic and never an internal error.
//!
//! CI runs the default number of cases; run longer by hand with
//! `PROPTEST_CASES=200000 cargo test --test it parsers::`. A failing input is
//! shrunk and printed; add it to `regressions` below when fixed.

use confab::domain::{ErrorCode, UserId};
use confab::notify::NewDevice;
use confab::wire::input;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Field names the parsers look at, so generated objects reach deep paths.
const KEYS: [&str; 35] = [
    "receiverId",
    "conversationId",
    "message",
    "clientMsgId",
    "senderId",
    "attachments",
    "id",
    "publicId",
    "public_id",
    "version",
    "signature",
    "resourceType",
    "format",
    "bytes",
    "width",
    "messageId",
    "isTyping",
    "userId",
    "name",
    "memberIds",
    "userIds",
    "role",
    "description",
    "historyVisibility",
    "type",
    "endpoint",
    "keys",
    "p256dh",
    "auth",
    "token",
    "environment",
    "until",
    "username",
    "password",
    "displayName",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-3i64..5).prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
        "\\PC{0,300}".prop_map(Value::from),
        Just(Value::from("x".repeat(5000))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner.clone()), 0..8).prop_map(
                |kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())
                }
            ),
            prop::collection::vec(("[a-zA-Z]{1,10}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// 2,000 per property in CI; `PROPTEST_CASES` for longer runs.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

fn client_error<T>(r: Result<T, confab::domain::Error>) -> bool {
    match r {
        Ok(_) => true,
        Err(e) => matches!(e.code(), ErrorCode::Invalid | ErrorCode::Forbidden | ErrorCode::TooLarge),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn socket_payloads_never_panic(v in value()) {
        prop_assert!(client_error(input::send_message(&v, UserId(7), None, 4000)));
        prop_assert!(client_error(input::fetch_unread(Some(&v))));
        prop_assert!(client_error(input::mark_read(&v)));
        prop_assert!(client_error(input::typing(&v)));
        prop_assert!(client_error(input::join(&v)));
    }

    #[test]
    fn http_bodies_never_panic(v in value()) {
        prop_assert!(client_error(input::new_group(&v, UserId(7))));
        prop_assert!(client_error(input::group_patch(&v)));
        prop_assert!(client_error(input::role(&v)));
        prop_assert!(client_error(input::add_members(&v)));
        prop_assert!(client_error(input::parse::<input::RegisterRequest>(&v).and_then(input::Registration::try_from)));
        prop_assert!(client_error(input::parse::<input::LoginRequest>(&v)));
        prop_assert!(client_error(input::parse::<input::NewDeviceRequest>(&v).and_then(NewDevice::try_from)));
        prop_assert!(client_error(input::parse::<input::MuteRequest>(&v)));
    }

    /// A send accepted by the parser keeps what the client said.
    #[test]
    fn accepted_sends_are_faithful(text in "\\PC{1,200}", to in 1i64..1_000_000) {
        let sent = input::send_message(&json!({"receiverId": to, "message": text}), UserId(7), None, 4000);
        if text.trim().is_empty() {
            prop_assert!(sent.is_err());
        } else {
            let cmd = sent.unwrap();
            prop_assert_eq!(cmd.text.as_str(), text.as_str());
            prop_assert_eq!(cmd.sender, UserId(7));
        }
    }

    /// Any configuration file is a value or a clear error, never a panic.
    #[test]
    fn configuration_files_never_panic(body in "(\\PC|\n){0,200}", key in prop::sample::select(vec![
        "listen", "limits.message_max_chars", "push.delay_ms", "media.max_file_bytes", "cors_origins",
        "media.cloudinary.cloud_name", "push.vapid_subject", "database_url",
    ]), value in prop_oneof![Just("0".to_string()), Just("\"x\"".to_string()), Just("[]".to_string()), "-?[0-9]{1,20}", "\"\\PC{0,30}\""]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("confab.toml");
        let toml = match key.split_once('.') {
            None => format!("{key} = {value}\n{body}"),
            Some((section, rest)) => format!("[{section}]\n{rest} = {value}\n"),
        };
        std::fs::write(&path, toml).unwrap();
        let _ = confab::config::Config::load(Some(&path), Default::default());
    }
}

/// Inputs that once broke a parser (or nearly did), kept as cases.
#[test]
fn regressions() {
    for v in [
        json!({"receiverId": 1, "attachments": [{"publicId": "confab/x", "version": 1}]}),
        json!({"receiverId": 1, "message": "", "attachments": []}),
        json!({"receiverId": i64::MAX, "message": "x"}),
        json!({"conversationId": 1.5, "message": "x"}),
        json!({"receiverId": 1, "conversationId": 2, "message": "x"}),
    ] {
        assert!(client_error(input::send_message(&v, UserId(7), None, 4000)), "{v}");
    }
}
