//! Account deletion and export: "delete my account" and "give me my data".
//!
//! Deleting keeps what others hold: the user's messages stay in their
//! conversations, shown as from a sender who is no longer a member (the API
//! gives `senderName: null`; clients show "Deleted user"). Everything
//! personal goes: sessions (on every node), push devices, mutes, uploads,
//! memberships, and the account row is reduced to a disabled tombstone with
//! no name or password (the row stays because messages refer to it).
//!
//! The steps run in an order that is safe to interrupt and to repeat: the
//! account is disabled first, so from then on no login succeeds, every token
//! reads as revoked on every node, and each node closes the user's sockets
//! (`Users::watch_disabled`); the final step erases the row. The same
//! service runs behind `DELETE /api/users/me` and `confab admin delete-user`.
//!
//! Owns: the order of the deletion steps and the export's contents. May not
//! touch: sockets (closed through `users`) or SQL (through `store`).

use crate::chat::{Chat, member_left_meta};
use crate::domain::{
    ConversationCursor, ConversationId, ConversationKind, Error, MediaItem, Message, MessageId, User, UserId,
    Username, now_millis,
};
use crate::media::Media;
use crate::store::{Store, SystemNote};
use crate::users::Users;
use std::collections::HashMap;
use std::sync::Arc;

/// What a deleted user's name becomes in their account row.
pub const DELETED_NAME: &str = "Deleted user";

/// What happens to the messages of a deleted account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagesOnDelete {
    /// They stay for the other members, from "Deleted user" (the default).
    Keep,
    /// They are deleted too (`?messages=delete`).
    Delete,
}

/// What a deletion did.
#[derive(Debug)]
pub struct Deleted {
    /// The account.
    pub user: UserId,
    /// Sessions (tokens) ended.
    pub sessions_ended: usize,
    /// Groups left.
    pub groups_left: usize,
    /// Uploads deleted.
    pub uploads_deleted: usize,
}

/// Everything the export holds, in domain types (`wire` shapes the JSON).
pub struct Export {
    /// The account.
    pub profile: User,
    /// The conversations the user is a member of.
    pub conversations: Vec<crate::domain::Conversation>,
    /// Text messages the user sent, oldest first, with their conversation.
    pub messages: Vec<(Message, Arc<crate::domain::Conversation>)>,
    /// Uploads.
    pub media: Vec<MediaItem>,
}

/// Messages read per page while exporting.
const PAGE: i64 = 500;

/// The account service.
pub struct Accounts {
    store: Arc<dyn Store>,
    media: Arc<Media>,
    /// On a running node: ends sessions at once on every node. Without it
    /// (`confab admin`) tokens are revoked in the database and running nodes
    /// close the sockets when they see the account disabled.
    users: Option<Arc<Users>>,
    /// On a running node: deleting the user's messages tells the members'
    /// devices at once (`message_deleted`). Without it (`confab admin`) the
    /// messages are tombstoned in the database and clients see it on fetch.
    chat: Option<Chat>,
}

impl Accounts {
    /// The service over the store and media; `users` on a running node.
    pub fn new(store: Arc<dyn Store>, media: Arc<Media>, users: Option<Arc<Users>>) -> Self {
        Self { store, media, users, chat: None }
    }

    /// Deleted messages are announced live through `chat` (a running node).
    pub fn with_chat(mut self, chat: Chat) -> Self {
        self.chat = Some(chat);
        self
    }

    /// Deletes the account `user` (see the module docs). The caller has
    /// checked the password (HTTP) or the operator's intent (admin).
    pub async fn delete(&self, user: UserId, policy: MessagesOnDelete) -> Result<Deleted, Error> {
        let account = self.store.user(user).await?.ok_or(Error::NotFound("user"))?;
        // A tombstone's name is not a valid username: it was deleted already.
        let key = Username::parse(&account.username).map_err(|_| Error::NotFound("user"))?.canonical();
        let now = now_millis();
        self.store.set_disabled(&key, Some(now)).await?;
        let sessions_ended = match &self.users {
            Some(users) => users.logout_everywhere(user).await?,
            None => self.store.revoke_user_tokens(user, now).await?.len(),
        };
        if policy == MessagesOnDelete::Delete {
            // Tombstoned as a single delete does (text and media links gone,
            // waiting pushes dropped); before the groups are left, so members
            // who stay get `message_deleted` for every one.
            let deleted = match &self.chat {
                Some(chat) => chat.delete_all_messages_of(user).await?,
                None => self.store.delete_messages_of(user, now).await?.len(),
            };
            tracing::info!(user = %user, deleted, "messages of a deleted account deleted");
        }
        let mut groups_left = 0;
        for c in self.all_conversations(user).await? {
            if c.kind != ConversationKind::Group {
                continue;
            }
            // Leaving hands ownership on, as any member leaving does; through
            // the chat service, members still online hear of it live.
            if let Some(chat) = &self.chat {
                match chat.remove_member(user, c.id, user).await {
                    Ok(()) => groups_left += 1,
                    Err(Error::NotFound(_) | Error::Forbidden(_)) => {} // not a member any more
                    Err(e) => return Err(e),
                }
                continue;
            }
            let body = format!("{} left", account.display_name);
            let meta = member_left_meta(user);
            let note = SystemNote { actor: user, body: &body, meta: &meta, at: now_millis() };
            if self.store.remove_member(c.id, user, note).await?.is_some() {
                groups_left += 1;
            }
            if self.store.conversation(c.id).await?.is_some_and(|c| c.members.is_empty()) {
                self.store.delete_conversation(c.id).await?;
            }
        }
        let uploads = self.store.media_of(user).await?;
        for m in &uploads {
            self.media.delete(user, &m.id).await?;
        }
        self.store.erase_user(user, &format!("#deleted-{}", user.0), DELETED_NAME, now).await?;
        tracing::info!(user = %user, sessions_ended, groups_left, uploads = uploads.len(), "account deleted");
        Ok(Deleted { user, sessions_ended, groups_left, uploads_deleted: uploads.len() })
    }

    /// The user's data: profile, conversations, the messages they sent and
    /// their uploads.
    pub async fn export(&self, user: UserId) -> Result<Export, Error> {
        let profile = self.store.user(user).await?.ok_or(Error::NotFound("user"))?;
        let conversations = self.all_conversations(user).await?;
        let mut by_id: HashMap<ConversationId, Arc<crate::domain::Conversation>> =
            conversations.iter().map(|c| (c.id, Arc::new(c.clone()))).collect();
        let mut messages = Vec::new();
        let mut after = MessageId(0);
        loop {
            let page = self.store.messages_by_sender(user, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let full = page.len() as i64 == PAGE;
            for m in page {
                let conversation = match by_id.get(&m.conversation_id) {
                    Some(c) => c.clone(),
                    // Sent where they are no longer a member: still theirs.
                    None => match self.store.conversation(m.conversation_id).await? {
                        Some(c) => by_id.entry(c.id).or_insert_with(|| Arc::new(c)).clone(),
                        None => continue,
                    },
                };
                messages.push((m, conversation));
            }
            if !full {
                break;
            }
        }
        let media = self.store.media_of(user).await?;
        Ok(Export { profile, conversations, messages, media })
    }

    async fn all_conversations(&self, user: UserId) -> Result<Vec<crate::domain::Conversation>, Error> {
        let mut all = Vec::new();
        let mut before: Option<ConversationCursor> = None;
        loop {
            let page = self.store.conversations_of(user, before, PAGE).await?;
            let full = page.len() as i64 == PAGE;
            before = page.last().map(|s| ConversationCursor::after(&s.conversation));
            all.extend(page.into_iter().map(|s| s.conversation));
            if !full {
                return Ok(all);
            }
        }
    }
}
