//! [`UserStore`] on PostgreSQL.

use super::{PostgresStore, user_row};
use crate::domain::{Millis, TokenId, UserId};
use crate::store::mapping::user_cols;
use crate::store::{Credentials, NewUser, StoreResult, TokenRow, User, UserStore};
use async_trait::async_trait;
use sqlx::Row;

fn token_row(r: &sqlx::postgres::PgRow, revoked: bool) -> Result<TokenRow, sqlx::Error> {
    Ok(TokenRow {
        id: TokenId(r.try_get("id")?),
        user_id: UserId(r.try_get("user_id")?),
        expires_at: r.try_get("expires_at")?,
        revoked,
    })
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, u: NewUser<'_>) -> StoreResult<User> {
        let row = sqlx::query(concat!(
            "INSERT INTO users (username, username_key, display_name, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING ",
            user_cols!()
        ))
        .bind(u.username)
        .bind(u.username_key)
        .bind(u.display_name)
        .bind(u.password_hash)
        .bind(u.created_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(user_row(&row)?)
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    async fn credentials(&self, key: &str) -> StoreResult<Option<Credentials>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            ", password_hash, disabled_at IS NOT NULL AS disabled FROM users WHERE username_key = $1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(Credentials {
                user: user_row(&r)?,
                password_hash: r.try_get("password_hash")?,
                disabled: r.try_get("disabled")?,
            })),
            None => Ok(None),
        }
    }

    async fn search_users(&self, prefix: &str, limit: i64) -> StoreResult<Vec<User>> {
        // starts_with, not LIKE: '_' in usernames is not a wildcard.
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE starts_with(username_key, $1) ORDER BY username_key LIMIT $2"
        ))
        .bind(prefix)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_row).collect::<Result<_, _>>()?)
    }

    async fn existing_users(&self, ids: &[UserId]) -> StoreResult<Vec<UserId>> {
        let wanted: Vec<i64> = ids.iter().map(|u| u.0).collect();
        let found: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = ANY($1)")
            .bind(&wanted)
            .fetch_all(&self.pool)
            .await?;
        Ok(found.into_iter().map(UserId).collect())
    }

    async fn set_last_seen(&self, id: UserId, at: Millis) -> StoreResult<()> {
        sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_token(
        &self,
        user: UserId,
        hash: &[u8],
        created_at: Millis,
        expires_at: Millis,
    ) -> StoreResult<TokenId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user.0)
        .bind(hash)
        .bind(created_at)
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(TokenId(id))
    }

    async fn token(&self, hash: &[u8]) -> StoreResult<Option<TokenRow>> {
        let row = sqlx::query(
            // A disabled user's tokens count as revoked, even one issued by a
            // login that raced with the disabling.
            "SELECT t.id, t.user_id, t.expires_at, (t.revoked_at IS NOT NULL OR u.disabled_at IS NOT NULL) AS revoked
             FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(token_row(&r, r.try_get("revoked")?)?)),
            None => Ok(None),
        }
    }

    async fn revoke_token(&self, hash: &[u8], at: Millis) -> StoreResult<Option<TokenRow>> {
        let row = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL
             RETURNING id, user_id, expires_at",
        )
        .bind(at)
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(|r| token_row(r, true)).transpose()?)
    }

    async fn revoke_user_tokens(&self, user: UserId, at: Millis) -> StoreResult<Vec<(TokenId, Vec<u8>)>> {
        let rows = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL RETURNING id, token_hash",
        )
        .bind(at)
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((TokenId(::sqlx::Row::try_get(r, "id")?), ::sqlx::Row::try_get(r, "token_hash")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    async fn set_disabled(&self, key: &str, at: Option<Millis>) -> StoreResult<Option<UserId>> {
        let id: Option<i64> =
            sqlx::query_scalar("UPDATE users SET disabled_at = $1 WHERE username_key = $2 RETURNING id")
                .bind(at)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(id.map(UserId))
    }

    async fn disabled_users(&self) -> StoreResult<Vec<UserId>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE disabled_at IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }
}
