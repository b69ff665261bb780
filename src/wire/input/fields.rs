//! Field types the request structs share: client ids, patch fields where
//! `null` differs from absent, and fields read leniently.
//!
//! Owns: what a client id is (a positive integer) and how these fields
//! deserialize. May not touch: anything else.

use crate::domain::{ConversationId, MessageId, UserId};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Unexpected, Visitor};
use serde_json::Value;
use std::fmt;

/// An id from a client: a positive JSON integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositiveId(pub i64);

impl<'de> Deserialize<'de> for PositiveId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Id;
        impl Visitor<'_> for Id {
            type Value = PositiveId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive integer id")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PositiveId, E> {
                if n > 0 { Ok(PositiveId(n)) } else { Err(E::invalid_value(Unexpected::Signed(n), &self)) }
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<PositiveId, E> {
                match i64::try_from(n) {
                    Ok(n) if n > 0 => Ok(PositiveId(n)),
                    _ => Err(E::invalid_value(Unexpected::Unsigned(n), &self)),
                }
            }
        }
        d.deserialize_i64(Id)
    }
}

macro_rules! id_from {
    ($($t:ident),*) => {$(
        impl From<PositiveId> for $t {
            fn from(id: PositiveId) -> Self { $t(id.0) }
        }
    )*};
}
id_from!(UserId, ConversationId, MessageId);

/// A field where `null` and absent differ (a patch: absent leaves it,
/// `null` clears it). Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A field read leniently: a value of the wrong type counts as absent
/// (Cloudinary's optional upload fields, as clients relay them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lenient<T>(pub Option<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(Lenient(T::deserialize(v).ok()))
    }
}
