//! Group conversations: creation, profile, membership and roles.
//!
//! Every change is one store transaction that also records a system message
//! (`created`, `member_added`, `member_removed`, `member_left`, `renamed`),
//! so history shows what happened and clients that were offline learn it
//! from `fetch_unread_messages`. Online members also get the system message
//! live and a `conversation_updated` event with the new member list.
//!
//! Roles: the owner may do everything; admins manage members (but not other
//! admins or the owner) and the profile; members may only leave.
//!
//! Owns: the group rules (who may manage what, the system message of each
//! change). May not touch: storage beyond the `store` traits, or sockets (it
//! tells members through `fanout`).

use super::system_events::SystemEvent;
use super::{Chat, not_member};
use crate::domain::{
    Conversation, ConversationId, ConversationKind, Envelope, Error, GroupPatch, Message, Role, UserId,
    now_millis,
};
use crate::fanout::{Event, Removal};
use crate::store::{NewGroup, StoreError, SystemNote};
use std::collections::HashSet;

/// Limits for groups, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct GroupSettings {
    /// Most members a group may have, owner included.
    pub max_members: usize,
}

/// A validated request to create a group.
#[derive(Debug, Clone)]
pub struct NewGroupRequest {
    /// Who creates it (becomes owner).
    pub creator: UserId,
    /// Its name, 1-100 characters.
    pub name: String,
    /// An optional description.
    pub description: Option<String>,
    /// An optional http(s) picture.
    pub avatar_url: Option<String>,
    /// Whether new members may read earlier messages.
    pub full_history: bool,
    /// Initial members besides the creator.
    pub members: Vec<UserId>,
}

fn group_full(max: usize) -> Error {
    Error::Conflict(format!("a group can have at most {max} members"))
}

/// Each user once, in first-seen order.
fn distinct(users: impl Iterator<Item = UserId>) -> Vec<UserId> {
    let mut seen = HashSet::new();
    users.filter(|u| seen.insert(*u)).collect()
}

impl Chat {
    /// Creates a group owned by `req.creator`.
    #[tracing::instrument(skip_all, fields(creator = %req.creator))]
    pub async fn create_group(&self, req: NewGroupRequest) -> Result<Conversation, Error> {
        let max = self.groups.max_members;
        // Sizes first, ids later: a huge list is refused without a lookup.
        if req.members.len() > max {
            return Err(group_full(max));
        }
        let members = distinct(req.members.iter().copied().filter(|&u| u != req.creator));
        if members.len() + 1 > max {
            return Err(group_full(max));
        }
        self.require_users(&members).await?;
        self.refuse_blocked_adds(req.creator, &members).await?;
        let creator = self.store.user(req.creator).await?.ok_or(Error::Unauthorized("unknown user"))?;
        let body = format!("{} created the group “{}”", creator.display_name, req.name);
        let user_ids = SystemEvent::ids(&members);
        let meta = SystemEvent::Created { actor: req.creator.0, name: &req.name, user_ids }.to_json();
        let (group, note) = self
            .store
            .create_group(NewGroup {
                creator: req.creator,
                name: &req.name,
                description: req.description.as_deref(),
                avatar_url: req.avatar_url.as_deref(),
                full_history: req.full_history,
                members: &members,
                note: SystemNote { actor: req.creator, body: &body, meta: &meta, at: now_millis() },
            })
            .await?;
        let message = Envelope::new(note, &group);
        self.fan_out(&group, &message, None, None).await;
        self.announce_update(&group).await;
        Ok(group)
    }

    /// Renames the group or changes its description, avatar or history sharing.
    pub async fn update_group(
        &self,
        actor: UserId,
        id: ConversationId,
        patch: GroupPatch,
    ) -> Result<Conversation, Error> {
        let group = self.group_for(actor, id, Role::Admin).await?;
        let renamed = patch.name.as_ref().filter(|n| Some(*n) != group.name.as_ref());
        let note_text = renamed.map(|name| {
            let who = display_name(&group, actor);
            let body = format!("{who} renamed the group to “{name}”");
            let previous_name = group.name.as_deref();
            let meta = SystemEvent::Renamed { actor: actor.0, name, previous_name }.to_json();
            (body, meta)
        });
        let note = note_text.as_ref().map(|(body, meta)| SystemNote { actor, body, meta, at: now_millis() });
        let message = self.store.update_group(id, &patch, note).await?;
        self.after_change(id, message).await
    }

    /// Adds users to the group (owner or admin only); users already in it are skipped.
    pub async fn add_members(
        &self,
        actor: UserId,
        id: ConversationId,
        users: Vec<UserId>,
    ) -> Result<Conversation, Error> {
        let group = self.group_for(actor, id, Role::Admin).await?;
        let max = self.groups.max_members;
        // Sizes first, ids later: a list that cannot fit is refused before
        // any id is resolved (the store checks the cap again, atomically).
        if users.len() > max {
            return Err(group_full(max));
        }
        let current: HashSet<UserId> = group.members.iter().map(|m| m.user_id).collect();
        let new = distinct(users.into_iter().filter(|u| !current.contains(u)));
        if new.is_empty() {
            return Ok(group);
        }
        if current.len() + new.len() > max {
            return Err(group_full(max));
        }
        self.require_users(&new).await?;
        self.refuse_blocked_adds(actor, &new).await?;
        let mut names = std::collections::HashMap::new();
        for u in &new {
            if let Some(row) = self.store.user(*u).await? {
                names.insert(*u, row.display_name);
            }
        }
        let who = display_name(&group, actor);
        // Written inside the transaction, for exactly the users it added.
        let describe = move |added: &[UserId]| {
            let list: Vec<&str> = added.iter().filter_map(|u| names.get(u).map(String::as_str)).collect();
            let meta = SystemEvent::MemberAdded { actor: actor.0, user_ids: SystemEvent::ids(added) };
            (format!("{who} added {}", list.join(", ")), meta.to_json())
        };
        let added = match self.store.add_members(id, &new, max, actor, now_millis(), &describe).await {
            Err(StoreError::GroupFull) => return Err(group_full(max)),
            other => other.map_err(not_member)?,
        };
        self.after_change(id, added.map(|(_, m)| m)).await
    }

    /// Removes `target` from the group; `target == actor` is leaving, which
    /// anyone may do. Otherwise the owner may remove anyone and an admin only
    /// plain members.
    pub async fn remove_member(
        &self,
        actor: UserId,
        id: ConversationId,
        target: UserId,
    ) -> Result<(), Error> {
        let group = self.group_for(actor, id, Role::Member).await?;
        let actor_role = group.member(actor).map_or(Role::Member, |m| m.role);
        let Some(member) = group.member(target) else { return Err(Error::NotFound("member")) };
        let leaving = actor == target;
        if !leaving && (actor_role < Role::Admin || actor_role <= member.role) {
            return Err(Error::Forbidden("you may not remove this member"));
        }
        let (body, meta, reason) = if leaving {
            let body = format!("{} left", member.display_name);
            (body, SystemEvent::MemberLeft { actor: actor.0 }.to_json(), Removal::Left)
        } else {
            let body = format!("{} removed {}", display_name(&group, actor), member.display_name);
            let meta = SystemEvent::MemberRemoved { actor: actor.0, user_ids: vec![target.0] }.to_json();
            (body, meta, Removal::Removed)
        };
        let note = SystemNote { actor, body: &body, meta: &meta, at: now_millis() };
        let Some((message, _promoted)) = self.store.remove_member(id, target, note).await? else {
            return Err(Error::NotFound("member"));
        };
        self.fanout.send(target, Event::ConversationRemoved { conversation_id: id, reason }, None).await;
        match self.store.conversation(id).await? {
            Some(c) if c.members.is_empty() => self.store.delete_conversation(id).await?,
            _ => {
                self.after_change(id, Some(message)).await?;
            }
        }
        Ok(())
    }

    /// Changes a member's role (owner only). Making someone `owner` hands
    /// ownership over; the previous owner becomes an admin.
    pub async fn set_role(
        &self,
        actor: UserId,
        id: ConversationId,
        target: UserId,
        role: Role,
    ) -> Result<Conversation, Error> {
        self.group_for(actor, id, Role::Owner).await?;
        if target == actor && role != Role::Owner {
            return Err(Error::invalid("hand ownership to another member first"));
        }
        if !self.store.set_role(id, target, role).await? {
            return Err(Error::NotFound("member"));
        }
        self.after_change(id, None).await
    }

    /// Deletes the group with its history (owner only).
    pub async fn delete_group(&self, actor: UserId, id: ConversationId) -> Result<(), Error> {
        let group = self.group_for(actor, id, Role::Owner).await?;
        self.store.delete_conversation(id).await?;
        for m in &group.members {
            let event = Event::ConversationRemoved { conversation_id: id, reason: Removal::Deleted };
            self.fanout.send(m.user_id, event, None).await;
        }
        Ok(())
    }

    /// The group, if `actor` is a member with at least `role`.
    async fn group_for(&self, actor: UserId, id: ConversationId, role: Role) -> Result<Conversation, Error> {
        let c = self.member_view(actor, id).await?;
        if c.kind != ConversationKind::Group {
            return Err(Error::invalid("this is a direct conversation, not a group"));
        }
        if c.member(actor).map_or(Role::Member, |m| m.role) < role {
            return Err(Error::Forbidden(match role {
                Role::Owner => "only the owner may do this",
                _ => "only the owner or an admin may do this",
            }));
        }
        Ok(c)
    }

    async fn require_users(&self, users: &[UserId]) -> Result<(), Error> {
        let found = self.store.existing_users(users).await?;
        match users.iter().find(|u| !found.contains(u)) {
            Some(missing) => Err(Error::invalid(format!("user {missing} does not exist"))),
            None => Ok(()),
        }
    }

    /// Delivers the change's system message and the new member list.
    async fn after_change(&self, id: ConversationId, note: Option<Message>) -> Result<Conversation, Error> {
        let group = self.store.conversation(id).await?.ok_or(Error::NotFound("conversation"))?;
        if let Some(row) = note {
            let message = Envelope::new(row, &group);
            self.fan_out(&group, &message, None, None).await;
        }
        self.announce_update(&group).await;
        Ok(group)
    }

    async fn announce_update(&self, group: &Conversation) {
        for m in &group.members {
            self.fanout.send(m.user_id, Event::ConversationUpdated(Box::new(group.clone())), None).await;
        }
    }
}

fn display_name(c: &Conversation, user: UserId) -> String {
    c.member(user).map(|m| m.display_name.clone()).unwrap_or_else(|| format!("user {user}"))
}
