//! How the shared storage code runs a statement on either backend.
//!
//! Owns: [`Exec`], the four ways to run one statement (all rows, an optional
//! row, one row, or a count of changed rows) on a connection, with its
//! parameters as [`Arg`]s. Reading the rows back is `columns`. May not
//! touch: SQL text or the domain — it only moves values in and out.
//!
//! Statements are `&'static str` with `$1`, `$2`, … placeholders, which both
//! sqlx drivers bind by number, so one text serves both databases.

pub use super::columns::{Col, Cols};
use super::{StoreError, StoreResult};
use crate::domain::{ConversationId, MessageId, SubscriptionId, TokenId, UserId};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use std::future::Future;

/// One bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg<'a> {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<&'a str>),
    Bytes(&'a [u8]),
    /// A list of ids. The one parameter type the dialects bind differently:
    /// a BIGINT[] on PostgreSQL (`= ANY($n)`), JSON text on SQLite (`json_each($n)`).
    Ids(Vec<i64>),
}

macro_rules! arg_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl<'a> From<$t> for Arg<'a> {
            fn from($v: $t) -> Self { $e }
        })*
    };
}

arg_from! {
    i64 => |v| Arg::Int(Some(v)),
    Option<i64> => |v| Arg::Int(v),
    bool => |v| Arg::Bool(Some(v)),
    Option<bool> => |v| Arg::Bool(v),
    &'a str => |v| Arg::Text(Some(v)),
    &'a String => |v| Arg::Text(Some(v)),
    Option<&'a str> => |v| Arg::Text(v),
    &'a Option<String> => |v| Arg::Text(v.as_deref()),
    &'a [u8] => |v| Arg::Bytes(v),
    UserId => |v| Arg::Int(Some(v.0)),
    Option<UserId> => |v| Arg::Int(v.map(|u| u.0)),
    ConversationId => |v| Arg::Int(Some(v.0)),
    Option<ConversationId> => |v| Arg::Int(v.map(|c| c.0)),
    MessageId => |v| Arg::Int(Some(v.0)),
    SubscriptionId => |v| Arg::Int(Some(v.0)),
    TokenId => |v| Arg::Int(Some(v.0)),
    &'a [UserId] => |v| Arg::Ids(v.iter().map(|u| u.0).collect()),
    &'a [MessageId] => |v| Arg::Ids(v.iter().map(|m| m.0).collect()),
}

/// `args![a, b, …]`: the parameters `$1`, `$2`, … of a statement.
macro_rules! args {
    ($($a:expr),* $(,)?) => { vec![$($crate::store::exec::Arg::from($a)),*] };
}
pub(crate) use args;

/// A list of ids as SQLite's `json_each` reads it.
pub(crate) fn json_ids(ids: &[i64]) -> String {
    let items: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("[{}]", items.join(","))
}

/// Runs statements on one connection (or transaction) of a backend.
pub trait Exec: Send {
    /// The backend's row type.
    type Row: Cols + Send + 'static;

    /// Every row the statement returns.
    fn all<'a>(
        &'a mut self,
        sql: &'static str,
        args: Vec<Arg<'a>>,
    ) -> impl Future<Output = StoreResult<Vec<Self::Row>>> + Send + 'a;

    /// The first row, if any.
    fn optional<'a>(
        &'a mut self,
        sql: &'static str,
        args: Vec<Arg<'a>>,
    ) -> impl Future<Output = StoreResult<Option<Self::Row>>> + Send + 'a;

    /// How many rows the statement changed.
    fn execute<'a>(
        &'a mut self,
        sql: &'static str,
        args: Vec<Arg<'a>>,
    ) -> impl Future<Output = StoreResult<u64>> + Send + 'a;

    /// Exactly one row ([`StoreError::Inconsistent`] if there is none).
    fn one<'a>(
        &'a mut self,
        sql: &'static str,
        args: Vec<Arg<'a>>,
    ) -> impl Future<Output = StoreResult<Self::Row>> + Send + 'a {
        async move { self.optional(sql, args).await?.ok_or(StoreError::Inconsistent("a row it just wrote")) }
    }
}

/// Implements [`Exec`] for a sqlx connection type; `$ids` binds an [`Arg::Ids`].
macro_rules! sqlx_exec {
    ($conn:ty, $row:ty, $db:ty, |$q:ident, $list:ident| $ids:expr) => {
        impl Exec for $conn {
            type Row = $row;

            fn all<'a>(
                &'a mut self,
                sql: &'static str,
                args: Vec<Arg<'a>>,
            ) -> impl Future<Output = StoreResult<Vec<$row>>> + Send + 'a {
                let query = bind::<$db>(sql, args, |$q, $list| $ids);
                async move { Ok(query.fetch_all(self).await?) }
            }

            fn optional<'a>(
                &'a mut self,
                sql: &'static str,
                args: Vec<Arg<'a>>,
            ) -> impl Future<Output = StoreResult<Option<$row>>> + Send + 'a {
                let query = bind::<$db>(sql, args, |$q, $list| $ids);
                async move { Ok(query.fetch_optional(self).await?) }
            }

            fn execute<'a>(
                &'a mut self,
                sql: &'static str,
                args: Vec<Arg<'a>>,
            ) -> impl Future<Output = StoreResult<u64>> + Send + 'a {
                let query = bind::<$db>(sql, args, |$q, $list| $ids);
                async move { Ok(query.execute(self).await?.rows_affected()) }
            }
        }
    };
}

sqlx_exec!(SqliteConnection, SqliteRow, sqlx::Sqlite, |q, ids| q.bind(json_ids(&ids)));
sqlx_exec!(PgConnection, PgRow, sqlx::Postgres, |q, ids| q.bind(ids));

type Query<'a, DB> = sqlx::query::Query<'a, DB, <DB as sqlx::Database>::Arguments>;

/// The statement with its parameters bound in order; `list` binds a list of ids.
fn bind<'a, DB>(
    sql: &'static str,
    args: Vec<Arg<'a>>,
    list: impl Fn(Query<'a, DB>, Vec<i64>) -> Query<'a, DB>,
) -> Query<'a, DB>
where
    DB: sqlx::Database,
    Option<i64>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<bool>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<&'a str>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a [u8]: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::query::<DB>(sql);
    for a in args {
        q = match a {
            Arg::Int(v) => q.bind(v),
            Arg::Bool(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::Bytes(v) => q.bind(v),
            Arg::Ids(ids) => list(q, ids),
        };
    }
    q
}
