//! [`UserStore`] on either database: accounts and login tokens.
//!
//! Owns: this trait's implementation. May not touch: SQL text (it is in `sql`
//! and `dialect`) or the services' rules.

use super::backend::{Backend, SqlStore};
use super::exec::{Col, Exec, args};
use super::{Credentials, NewUser, StoreResult, TokenRow, UserStore, mapping, sql};
use crate::domain::{Millis, TokenId, User, UserId};
use async_trait::async_trait;

#[async_trait]
impl<B: Backend> UserStore for SqlStore<B> {
    async fn create_user(&self, u: NewUser<'_>) -> StoreResult<User> {
        let mut c = self.write().await?;
        let row = c
            .one(
                sql::CREATE_USER,
                args![u.username, u.username_key, u.display_name, u.password_hash, u.created_at],
            )
            .await?;
        mapping::user(&row)
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = self.read().await?.optional(sql::USER, args![id]).await?;
        row.as_ref().map(mapping::user).transpose()
    }

    async fn credentials(&self, key: &str) -> StoreResult<Option<Credentials>> {
        let Some(r) = self.read().await?.optional(sql::CREDENTIALS, args![key]).await? else {
            return Ok(None);
        };
        Ok(Some(Credentials {
            user: mapping::user(&r)?,
            password_hash: r.col("password_hash")?,
            disabled: r.col("disabled")?,
        }))
    }

    async fn search_users(&self, prefix: &str, limit: i64) -> StoreResult<Vec<User>> {
        // The end of the key range, for the dialects that scan one.
        let upper = format!("{prefix}\u{10FFFF}");
        let rows = self.read().await?.all(B::DIALECT.search_users, args![prefix, &upper, limit]).await?;
        rows.iter().map(mapping::user).collect()
    }

    async fn existing_users(&self, ids: &[UserId]) -> StoreResult<Vec<UserId>> {
        let rows = self.read().await?.all(B::DIALECT.existing_users, args![ids]).await?;
        rows.iter().map(|r| Ok(UserId(r.col("id")?))).collect()
    }

    async fn set_last_seen(&self, id: UserId, at: Millis) -> StoreResult<()> {
        self.write().await?.execute(sql::SET_LAST_SEEN, args![at, id]).await?;
        Ok(())
    }

    async fn insert_token(
        &self,
        user: UserId,
        hash: &[u8],
        created_at: Millis,
        expires_at: Millis,
    ) -> StoreResult<TokenId> {
        let row =
            self.write().await?.one(sql::INSERT_TOKEN, args![user, hash, created_at, expires_at]).await?;
        Ok(TokenId(row.col("id")?))
    }

    async fn token(&self, hash: &[u8]) -> StoreResult<Option<TokenRow>> {
        let row = self.read().await?.optional(sql::TOKEN, args![hash]).await?;
        row.as_ref().map(|r| mapping::token(r, None)).transpose()
    }

    async fn revoke_token(&self, hash: &[u8], at: Millis) -> StoreResult<Option<TokenRow>> {
        let row = self.write().await?.optional(sql::REVOKE_TOKEN, args![at, hash]).await?;
        row.as_ref().map(|r| mapping::token(r, Some(true))).transpose()
    }

    async fn revoke_user_tokens(&self, user: UserId, at: Millis) -> StoreResult<Vec<(TokenId, Vec<u8>)>> {
        let rows = self.write().await?.all(sql::REVOKE_USER_TOKENS, args![at, user]).await?;
        rows.iter().map(|r| Ok((TokenId(r.col("id")?), r.col("token_hash")?))).collect()
    }

    async fn set_disabled(&self, key: &str, at: Option<Millis>) -> StoreResult<Option<UserId>> {
        let row = self.write().await?.optional(sql::SET_DISABLED, args![at, key]).await?;
        row.map(|r| Ok(UserId(r.col("id")?))).transpose()
    }

    async fn disabled_users(&self) -> StoreResult<Vec<UserId>> {
        let rows = self.read().await?.all(sql::DISABLED_USERS, args![]).await?;
        rows.iter().map(|r| Ok(UserId(r.col("id")?))).collect()
    }
}
