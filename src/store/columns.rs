//! Reading a named column from any backend's row: sqlx's SQLite and
//! PostgreSQL rows, and rusqlite's (the SQLite committer's own connection).
//!
//! Owns: [`Col`] and [`Cols`], which let the row mappers (`mapping`) be
//! written once for every row type. May not touch: SQL or the domain.

use super::StoreResult;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

/// One named column of a row, decoded.
pub trait Col<T> {
    /// The column `name`, decoded as `T`.
    fn col(&self, name: &str) -> StoreResult<T>;
}

/// A row of any backend: the column types the mappers read.
pub trait Cols:
    Col<i64> + Col<Option<i64>> + Col<String> + Col<Option<String>> + Col<bool> + Col<Vec<u8>>
{
}

impl<R> Cols for R where
    R: Col<i64> + Col<Option<i64>> + Col<String> + Col<Option<String>> + Col<bool> + Col<Vec<u8>> + ?Sized
{
}

impl<T> Col<T> for SqliteRow
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    fn col(&self, name: &str) -> StoreResult<T> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}

impl<T> Col<T> for PgRow
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    fn col(&self, name: &str) -> StoreResult<T> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}

impl<T: rusqlite::types::FromSql> Col<T> for rusqlite::Row<'_> {
    fn col(&self, name: &str) -> StoreResult<T> {
        Ok(self.get(name)?)
    }
}
