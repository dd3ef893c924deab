//! Identifiers. Product, SKU and user ids are integers the store assigns and never
//! reuses; reservation ids are chosen by the caller (an order id), which is
//! what makes a retried `Reserve` idempotent.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

use super::ValidationError;

/// A stock-keeping unit: one purchasable option of a product.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct SkuId(i64);

/// An account (customer, seller or admin).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct UserId(i64);

/// A product: what a seller lists, sold through one or more SKUs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct ProductId(i64);

/// A community post.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct PostId(i64);

/// A comment on a community post.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct CommentId(i64);

macro_rules! integer_id {
    ($($name:ident),*) => {$(
        impl $name {
            /// Wraps an id the store assigned.
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }
    )*};
}

integer_id!(SkuId, UserId, ProductId, PostId, CommentId);

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for CommentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for ProductId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for SkuId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An order: a UUID derived from the buyer and their Idempotency-Key, so
/// every retry of one purchase names the same order (and the same
/// reservation) without a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ToSchema)]
#[schema(value_type = String)]
pub struct OrderId(uuid::Uuid);

/// Orders' ids are UUIDv5 of buyer and key under this namespace.
const ORDER_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5a3c_9d1e_07b4_4f62_a8e1_3c0f_d2b7_6e95);

impl OrderId {
    /// The id of the order `buyer` places under `key`: the same every time.
    pub fn derive(buyer: UserId, key: &str) -> Self {
        Self(uuid::Uuid::new_v5(
            &ORDER_NAMESPACE,
            format!("{}\n{key}", buyer.get()).as_bytes(),
        ))
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        uuid::Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| ValidationError::new("order_id", "must be a UUID"))
    }

    /// The id as a number (the order's shard is taken from it).
    pub fn as_u128(self) -> u128 {
        self.0.as_u128()
    }

    /// The order's reservations carry its id.
    pub fn reservation(self) -> ReservationId {
        ReservationId(self.to_string())
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for OrderId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The caller's name for one reservation on one SKU, unique per SKU.
///
/// 1 to 64 characters of `[A-Za-z0-9._:-]`, so it is safe in logs, URLs and
/// an ASCII key column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(transparent)]
pub struct ReservationId(String);

impl ReservationId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(ValidationError::new(
                "reservation_id",
                format!("must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if !raw.chars().all(allowed) {
            return Err(ValidationError::new(
                "reservation_id",
                "may only contain letters, digits and . _ : -",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReservationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ReservationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservation_ids_are_bounded_and_plain() {
        assert!(ReservationId::parse("order-1:line.2_a").is_ok());
        assert!(ReservationId::parse("").is_err());
        assert!(ReservationId::parse("a".repeat(65)).is_err());
        assert!(ReservationId::parse("a b").is_err());
        assert!(ReservationId::parse("ü").is_err());
    }

    #[test]
    fn order_ids_come_from_buyer_and_key() {
        let a = OrderId::derive(UserId(1), "k");
        assert_eq!(a, OrderId::derive(UserId(1), "k"));
        assert_ne!(a, OrderId::derive(UserId(2), "k"));
        assert_ne!(a, OrderId::derive(UserId(1), "k2"));
        assert_eq!(OrderId::parse(&a.to_string()), Ok(a));
        assert!(OrderId::parse("not-a-uuid").is_err());
        assert_eq!(ReservationId::parse(a.to_string()), Ok(a.reservation()));
    }
}
