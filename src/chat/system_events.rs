//! What a system message records: the event of a group change, stored as
//! JSON with the message (`meta`) and shown to clients as its `system` field
//! (`docs/API.md`, "The Message object").
//!
//! Owns: the shape of a system message's event. May not touch: anything else.

use crate::domain::UserId;
use serde::Serialize;

/// A group change. `actor` is who caused it; `userIds` who it was done to.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(super) enum SystemEvent<'a> {
    /// The group was created with these members (besides the creator).
    Created {
        actor: i64,
        name: &'a str,
        #[serde(rename = "userIds")]
        user_ids: Vec<i64>,
    },
    /// The group got a new name.
    Renamed {
        actor: i64,
        name: &'a str,
        #[serde(rename = "previousName")]
        previous_name: Option<&'a str>,
    },
    /// Members were added.
    MemberAdded {
        actor: i64,
        #[serde(rename = "userIds")]
        user_ids: Vec<i64>,
    },
    /// A member was removed.
    MemberRemoved {
        actor: i64,
        #[serde(rename = "userIds")]
        user_ids: Vec<i64>,
    },
    /// The actor left.
    MemberLeft { actor: i64 },
}

/// The `meta` of a "… left" note (used by `accounts` when a deleted user leaves).
pub fn member_left_meta(actor: UserId) -> String {
    SystemEvent::MemberLeft { actor: actor.0 }.to_json()
}

impl SystemEvent<'_> {
    /// The ids as the event lists them.
    pub(super) fn ids(users: &[UserId]) -> Vec<i64> {
        users.iter().map(|u| u.0).collect()
    }

    /// The JSON stored with the message.
    pub(super) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_objects() {
        let e = SystemEvent::MemberAdded { actor: 1, user_ids: vec![2, 3] };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap_or_default();
        assert_eq!(v, serde_json::json!({"event": "member_added", "actor": 1, "userIds": [2, 3]}));
        let e = SystemEvent::Renamed { actor: 1, name: "b", previous_name: None };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap_or_default();
        assert_eq!(v, serde_json::json!({"event": "renamed", "actor": 1, "name": "b", "previousName": null}));
    }
}
