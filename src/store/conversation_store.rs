//! [`ConversationStore`] on either database: direct conversations, groups
//! and their membership. Every change is one transaction; on PostgreSQL it
//! locks the conversation's row first (see `dialect`).
//!
//! Owns: this trait's implementation. May not touch: SQL text (it is in `sql`
//! and `dialect`) or the services' rules.

use super::backend::{Backend, SqlStore, insert_note, load_conversation};
use super::exec::{Arg, Col, Exec, args};
use super::mapping::{self, direct_key};
use super::{ConversationStore, NewGroup, StoreError, StoreResult, SystemNote, sql};
use crate::domain::{
    Conversation, ConversationCursor, ConversationId, ConversationSummary, GroupPatch, Message, Millis, Role,
    UserId,
};
use async_trait::async_trait;

/// Adds a member whose watermarks start at `joined_seq`.
async fn insert_member(
    conn: &mut impl Exec,
    conversation: ConversationId,
    user: UserId,
    role: Role,
    now: Millis,
    joined_seq: i64,
) -> StoreResult<()> {
    conn.execute(sql::INSERT_MEMBER, args![conversation, user, role.as_str(), now, joined_seq]).await?;
    Ok(())
}

#[async_trait]
impl<B: Backend> ConversationStore for SqlStore<B> {
    async fn find_direct(&self, a: UserId, b: UserId) -> StoreResult<Option<ConversationId>> {
        let row = self.read().await?.optional(sql::DIRECT_BY_KEY, args![direct_key(a, b).as_str()]).await?;
        row.map(|r| Ok(ConversationId(r.col("id")?))).transpose()
    }

    /// In the committer's batch, on both databases (see `Backend::direct`).
    async fn direct_conversation(&self, a: UserId, b: UserId, now: Millis) -> StoreResult<ConversationId> {
        self.backend.direct(a, b, now).await
    }

    async fn create_group(&self, g: NewGroup<'_>) -> StoreResult<(Conversation, Message)> {
        let mut tx = self.begin().await?;
        let row = tx
            .one(
                sql::CREATE_GROUP,
                args![g.name, g.description, g.avatar_url, g.full_history, g.creator, g.note.at],
            )
            .await?;
        let id = ConversationId(row.col("id")?);
        insert_member(&mut *tx, id, g.creator, Role::Owner, g.note.at, 0).await?;
        for &user in g.members.iter().filter(|&&u| u != g.creator) {
            insert_member(&mut *tx, id, user, Role::Member, g.note.at, 0).await?;
        }
        let note = insert_note(&mut *tx, id, &g.note).await?;
        tx.execute(sql::CREATOR_READ_NOTE, args![id, g.creator]).await?;
        let group = load_conversation(&mut *tx, sql::CONVERSATION, id)
            .await?
            .ok_or(StoreError::Inconsistent("the group it just created"))?;
        tx.commit().await?;
        Ok((group, note))
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        load_conversation(&mut *self.read().await?, sql::CONVERSATION, id).await
    }

    async fn conversations_by_ids(&self, ids: &[ConversationId]) -> StoreResult<Vec<Conversation>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ids.iter().map(|c| c.0).collect();
        let mut c = self.read().await?;
        let rows = c.all(B::DIALECT.conversations_by_ids, vec![Arg::Ids(ids.clone())]).await?;
        let members = c.all(B::DIALECT.members_of_conversations, vec![Arg::Ids(ids)]).await?;
        let mut members = mapping::members_by_conversation(&members)?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.col("id")?;
                mapping::conversation(r, members.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    async fn conversations_of(
        &self,
        user: UserId,
        before: Option<ConversationCursor>,
        limit: i64,
    ) -> StoreResult<Vec<ConversationSummary>> {
        let (at, id) = before.map_or((i64::MAX, i64::MAX), |b| (b.activity, b.id.0));
        let mut c = self.read().await?;
        let rows = c.all(sql::CONVERSATION_PAGE, args![user, at, id, limit]).await?;
        let ids = rows.iter().map(|r| r.col("id")).collect::<StoreResult<Vec<i64>>>()?;
        let members = c.all(B::DIALECT.members_of_conversations, vec![Arg::Ids(ids)]).await?;
        mapping::summaries(&rows, &members)
    }

    async fn peers_of(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        let rows = self.read().await?.all(sql::PEERS_OF, args![user]).await?;
        rows.iter().map(|r| Ok(UserId(r.col("user_id")?))).collect()
    }

    async fn add_members(
        &self,
        conversation: ConversationId,
        users: &[UserId],
        cap: usize,
        actor: UserId,
        at: Millis,
        describe: &(dyn for<'x> Fn(&'x [UserId]) -> (String, String) + Send + Sync),
    ) -> StoreResult<Option<(Vec<UserId>, Message)>> {
        let mut tx = self.begin().await?;
        let current = load_conversation(&mut *tx, B::DIALECT.conversation_to_change, conversation)
            .await?
            .ok_or(StoreError::NotMember)?;
        if current.member(actor).is_none() {
            return Err(StoreError::NotMember);
        }
        let added = current.newcomers(users);
        if added.is_empty() {
            return Ok(None);
        }
        if current.members.len() + added.len() > cap {
            return Err(StoreError::GroupFull);
        }
        for &u in &added {
            insert_member(&mut *tx, conversation, u, Role::Member, at, current.last_seq).await?;
        }
        let (body, meta) = describe(&added);
        let note = SystemNote { actor, body: &body, meta: &meta, at };
        let message = insert_note(&mut *tx, conversation, &note).await?;
        tx.commit().await?;
        Ok(Some((added, message)))
    }

    async fn remove_member(
        &self,
        conversation: ConversationId,
        user: UserId,
        note: SystemNote<'_>,
    ) -> StoreResult<Option<(Message, Option<UserId>)>> {
        let mut tx = self.begin().await?;
        let current = load_conversation(&mut *tx, B::DIALECT.conversation_to_change, conversation).await?;
        let Some(current) = current.filter(|c| c.member(user).is_some()) else { return Ok(None) };
        tx.execute(sql::DELETE_MEMBER, args![conversation, user]).await?;
        let heir = current.heir(user);
        if let Some(heir) = heir {
            tx.execute(sql::MAKE_OWNER, args![conversation, heir]).await?;
        }
        let message = insert_note(&mut *tx, conversation, &note).await?;
        tx.commit().await?;
        Ok(Some((message, heir)))
    }

    async fn set_role(&self, conversation: ConversationId, user: UserId, role: Role) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if let Some(lock) = B::DIALECT.lock_conversation {
            tx.execute(lock, args![conversation]).await?;
        }
        if role == Role::Owner {
            tx.execute(sql::DEMOTE_OTHER_OWNERS, args![conversation, user]).await?;
        }
        if tx.execute(sql::SET_ROLE, args![role.as_str(), conversation, user]).await? == 0 {
            return Ok(false); // rolls back the demotion above
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn update_group(
        &self,
        conversation: ConversationId,
        patch: &GroupPatch,
        note: Option<SystemNote<'_>>,
    ) -> StoreResult<Option<Message>> {
        let mut tx = self.begin().await?;
        let description = patch.description.as_ref().map(Option::as_deref);
        let avatar = patch.avatar_url.as_ref().map(Option::as_deref);
        let args = args![
            patch.name.as_deref(),
            description.is_some(),
            description.flatten(),
            avatar.is_some(),
            avatar.flatten(),
            patch.full_history,
            conversation
        ];
        tx.execute(sql::UPDATE_GROUP, args).await?;
        let message = match note {
            Some(n) => Some(insert_note(&mut *tx, conversation, &n).await?),
            None => None,
        };
        tx.commit().await?;
        Ok(message)
    }

    async fn delete_conversation(&self, conversation: ConversationId) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for statement in sql::DELETE_CONVERSATION {
            tx.execute(statement, args![conversation]).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
