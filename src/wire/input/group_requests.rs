//! The group management bodies of `/api/conversations`.
//!
//! Owns: these request shapes. May not touch: the services.

use super::{PositiveId, nullable};
use crate::chat::NewGroupRequest;
use crate::domain::{Error, GroupPatch, Role, UserId};
use serde::Deserialize;

/// `POST /api/conversations`:
/// `{type:"group", name, memberIds?, description?, avatarUrl?, historyVisibility?}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewGroupBody {
    /// Must be `group` (direct conversations start with a message).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// 1-100 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// Initial members besides the creator.
    #[serde(default)]
    pub member_ids: Option<Vec<PositiveId>>,
    /// At most 1,000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// An http(s) URL.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Whether new members read earlier messages.
    #[serde(default)]
    pub history_visibility: Option<HistoryVisibility>,
}

/// `PATCH /api/conversations/{id}`: any of the fields; `null` clears
/// `description` and `avatarUrl`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupPatchRequest {
    /// A new name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<Option<String>>,
    /// A new description, or `null` to clear it.
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    /// A new avatar, or `null` to clear it.
    #[serde(default, deserialize_with = "nullable")]
    pub avatar_url: Option<Option<String>>,
    /// Whether new members read earlier messages.
    #[serde(default)]
    pub history_visibility: Option<HistoryVisibility>,
}

/// Who may read a group's messages from before they joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryVisibility {
    /// Members read what came after they joined.
    Joined,
    /// Members read everything.
    Full,
}

/// `POST /api/conversations/{id}/members`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddMembersRequest {
    /// Who to add.
    pub user_ids: Vec<PositiveId>,
}

/// `PATCH /api/conversations/{id}/members/{user}`.
#[derive(Debug, Deserialize)]
pub struct RoleRequest {
    /// `owner`, `admin` or `member`.
    #[serde(default)]
    pub role: Option<String>,
}

impl TryFrom<RoleRequest> for Role {
    type Error = Error;

    fn try_from(r: RoleRequest) -> Result<Self, Error> {
        r.role
            .as_deref()
            .and_then(Role::parse)
            .ok_or_else(|| Error::invalid("`role` must be \"owner\", \"admin\" or \"member\""))
    }
}

fn group_name(name: Option<String>) -> Result<String, Error> {
    match name.as_deref().map(str::trim) {
        Some(n) if (1..=100).contains(&n.chars().count()) && !n.chars().any(char::is_control) => {
            Ok(n.to_string())
        }
        _ => Err(Error::invalid("`name` must be 1-100 characters")),
    }
}

/// Optional text: trimmed, at most `max` characters; blank means none.
fn optional_text(v: Option<String>, field: &str, max: usize) -> Result<Option<String>, Error> {
    match v {
        None => Ok(None),
        // NUL: PostgreSQL cannot store it, and no text needs it.
        Some(s) if s.chars().count() <= max && !s.contains('\0') => {
            let t = s.trim();
            Ok((!t.is_empty()).then(|| t.to_string()))
        }
        Some(_) => Err(Error::invalid(format!(
            "`{field}` must be a string of at most {max} characters, without NUL"
        ))),
    }
}

fn avatar(v: Option<String>) -> Result<Option<String>, Error> {
    let url = optional_text(v, "avatarUrl", 2048)?;
    if let Some(u) = &url {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            return Err(Error::invalid("`avatarUrl` must be an http(s) URL"));
        }
    }
    Ok(url)
}

impl TryFrom<(NewGroupBody, UserId)> for NewGroupRequest {
    type Error = Error;

    fn try_from((b, creator): (NewGroupBody, UserId)) -> Result<Self, Error> {
        if b.kind.as_deref() != Some("group") {
            return Err(Error::invalid(
                "`type` must be \"group\" (direct conversations start with a message)",
            ));
        }
        Ok(NewGroupRequest {
            creator,
            name: group_name(b.name)?,
            description: optional_text(b.description, "description", 1000)?,
            avatar_url: avatar(b.avatar_url)?,
            full_history: b.history_visibility == Some(HistoryVisibility::Full),
            members: b.member_ids.unwrap_or_default().into_iter().map(UserId::from).collect(),
        })
    }
}

impl TryFrom<GroupPatchRequest> for GroupPatch {
    type Error = Error;

    fn try_from(r: GroupPatchRequest) -> Result<Self, Error> {
        let patch = GroupPatch {
            name: r.name.map(group_name).transpose()?,
            description: r.description.map(|d| optional_text(d, "description", 1000)).transpose()?,
            avatar_url: r.avatar_url.map(avatar).transpose()?,
            full_history: r.history_visibility.map(|h| h == HistoryVisibility::Full),
        };
        if patch == GroupPatch::default() {
            return Err(Error::invalid(
                "nothing to change: give name, description, avatarUrl or historyVisibility",
            ));
        }
        Ok(patch)
    }
}
