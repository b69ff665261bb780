//! [`ConversationStore`] on PostgreSQL: direct conversations, groups, membership.

use super::{PostgresStore, insert_note, load_conversation, member_cols, summaries};
use crate::domain::*;
use crate::domain::{ConversationId, Millis, UserId};
use crate::store::mapping::direct_key;
use crate::store::*;
use async_trait::async_trait;
use sqlx::PgConnection;

async fn insert_member(
    conn: &mut PgConnection,
    conversation: i64,
    user: UserId,
    role: Role,
    now: Millis,
    joined_seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO members (conversation_id, user_id, role, joined_at, joined_seq, delivered_seq, read_seq)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(conversation)
    .bind(user.0)
    .bind(role.as_str())
    .bind(now)
    .bind(joined_seq)
    .bind(joined_seq)
    .bind(joined_seq)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl ConversationStore for PostgresStore {
    async fn find_direct(&self, a: UserId, b: UserId) -> StoreResult<Option<ConversationId>> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM conversations WHERE direct_key = $1")
            .bind(direct_key(a, b))
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.map(ConversationId))
    }

    async fn direct_conversation(&self, a: UserId, b: UserId, now: Millis) -> StoreResult<ConversationId> {
        let key = direct_key(a, b);
        let mut tx = self.pool.begin().await?;
        // Two nodes may create the same pair's conversation at once: one insert wins.
        let created: Option<i64> = sqlx::query_scalar(
            "INSERT INTO conversations (kind, direct_key, created_at) VALUES ('direct', $1, $2)
             ON CONFLICT (direct_key) DO NOTHING RETURNING id",
        )
        .bind(&key)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = created else {
            tx.rollback().await?;
            let id: i64 = sqlx::query_scalar("SELECT id FROM conversations WHERE direct_key = $1")
                .bind(&key)
                .fetch_one(&self.pool)
                .await?;
            return Ok(ConversationId(id));
        };
        for user in [a, b] {
            insert_member(&mut tx, id, user, Role::Member, now, 0).await?;
        }
        tx.commit().await?;
        Ok(ConversationId(id))
    }

    async fn create_group(&self, g: NewGroup<'_>) -> StoreResult<(Conversation, Message)> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO conversations (kind, name, description, avatar_url, full_history, created_by, created_at)
             VALUES ('group', $1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(g.name)
        .bind(g.description)
        .bind(g.avatar_url)
        .bind(g.full_history)
        .bind(g.creator.0)
        .bind(g.note.at)
        .fetch_one(&mut *tx)
        .await?;
        insert_member(&mut tx, id, g.creator, Role::Owner, g.note.at, 0).await?;
        for &user in g.members.iter().filter(|&&u| u != g.creator) {
            insert_member(&mut tx, id, user, Role::Member, g.note.at, 0).await?;
        }
        let note = insert_note(&mut tx, ConversationId(id), &g.note).await?;
        // The creator wrote the note; it is read for them.
        sqlx::query(
            "UPDATE members SET delivered_seq = 1, read_seq = 1 WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(g.creator.0)
        .execute(&mut *tx)
        .await?;
        let row =
            load_conversation(&mut tx, ConversationId(id), false).await?.ok_or(sqlx::Error::RowNotFound)?;
        tx.commit().await?;
        Ok((row, note))
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        let mut conn = self.pool.acquire().await?;
        Ok(load_conversation(&mut conn, id, false).await?)
    }

    async fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationSummary>> {
        let rows = sqlx::query(
            "SELECT c.*,
                    (SELECT COUNT(*) FROM messages x
                      WHERE x.conversation_id = c.id AND x.seq > m.read_seq
                        AND x.sender_id != m.user_id AND x.kind = 'text') AS unread,
                    lm.id AS lm_id, lm.seq AS lm_seq, lm.sender_id AS lm_sender_id,
                    lm.client_msg_id AS lm_client_msg_id, lm.kind AS lm_kind, lm.body AS lm_body,
                    lm.meta AS lm_meta, lm.created_at AS lm_created_at, lm.attachments AS lm_attachments
               FROM members m
               JOIN conversations c ON c.id = m.conversation_id
               LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq
              WHERE m.user_id = $1
              ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        let all_members = sqlx::query(concat!(
            "SELECT ",
            member_cols!(),
            " FROM members m JOIN users u ON u.id = m.user_id
              WHERE m.conversation_id IN (SELECT conversation_id FROM members WHERE user_id = $1)
              ORDER BY m.conversation_id, m.joined_at, m.user_id"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(summaries(&rows, &all_members)?)
    }

    async fn peers_of(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT b.user_id FROM members a
               JOIN members b ON b.conversation_id = a.conversation_id
              WHERE a.user_id = $1 AND b.user_id != a.user_id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(UserId).collect())
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
        let mut tx = self.pool.begin().await?;
        let current = load_conversation(&mut tx, conversation, true).await?.ok_or(StoreError::NotMember)?;
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
            insert_member(&mut tx, conversation.0, u, Role::Member, at, current.last_seq).await?;
        }
        let (body, meta) = describe(&added);
        let message =
            insert_note(&mut tx, conversation, &SystemNote { actor, body: &body, meta: &meta, at }).await?;
        tx.commit().await?;
        Ok(Some((added, message)))
    }

    async fn remove_member(
        &self,
        conversation: ConversationId,
        user: UserId,
        note: SystemNote<'_>,
    ) -> StoreResult<Option<(Message, Option<UserId>)>> {
        let mut tx = self.pool.begin().await?;
        let Some(current) = load_conversation(&mut tx, conversation, true).await? else { return Ok(None) };
        if current.member(user).is_none() {
            return Ok(None);
        }
        sqlx::query("DELETE FROM members WHERE conversation_id = $1 AND user_id = $2")
            .bind(conversation.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        let promoted = current.heir(user);
        if let Some(heir) = promoted {
            sqlx::query("UPDATE members SET role = 'owner' WHERE conversation_id = $1 AND user_id = $2")
                .bind(conversation.0)
                .bind(heir.0)
                .execute(&mut *tx)
                .await?;
        }
        let message = insert_note(&mut tx, conversation, &note).await?;
        tx.commit().await?;
        Ok(Some((message, promoted)))
    }

    async fn set_role(&self, conversation: ConversationId, user: UserId, role: Role) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT id FROM conversations WHERE id = $1 FOR UPDATE")
            .bind(conversation.0)
            .execute(&mut *tx)
            .await?;
        if role == Role::Owner {
            sqlx::query("UPDATE members SET role = 'admin' WHERE conversation_id = $1 AND role = 'owner' AND user_id != $2")
                .bind(conversation.0)
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
        }
        let changed = sqlx::query("UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3")
            .bind(role.as_str())
            .bind(conversation.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE conversations SET
                 name = COALESCE($1, name),
                 description = CASE WHEN $2 THEN $3 ELSE description END,
                 avatar_url = CASE WHEN $4 THEN $5 ELSE avatar_url END,
                 full_history = COALESCE($6, full_history)
              WHERE id = $7",
        )
        .bind(patch.name.as_deref())
        .bind(patch.description.is_some())
        .bind(patch.description.clone().flatten())
        .bind(patch.avatar_url.is_some())
        .bind(patch.avatar_url.clone().flatten())
        .bind(patch.full_history)
        .bind(conversation.0)
        .execute(&mut *tx)
        .await?;
        let message = match note {
            Some(n) => Some(insert_note(&mut tx, conversation, &n).await?),
            None => None,
        };
        tx.commit().await?;
        Ok(message)
    }

    async fn delete_conversation(&self, conversation: ConversationId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM messages WHERE conversation_id = $1",
            "DELETE FROM members WHERE conversation_id = $1",
            "DELETE FROM conversations WHERE id = $1",
        ] {
            sqlx::query(sql).bind(conversation.0).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
