//! Numbers of units: a `Quantity` in one request (at least 1) and the
//! initial `Stock` of a new SKU (may be 0, to be restocked later); both at
//! most `Quantity::MAX`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    /// Large enough for any real restock, small enough that sums of many
    /// quantities never come near `i64` limits.
    pub const MAX: u32 = 1_000_000_000;

    pub fn new(n: i64) -> Result<Self, ValidationError> {
        if n < 1 || n > i64::from(Self::MAX) {
            return Err(ValidationError::new(
                "quantity",
                format!("must be between 1 and {}", Self::MAX),
            ));
        }
        Ok(Self(n as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn as_i64(self) -> i64 {
        i64::from(self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        Self::new(n).map_err(serde::de::Error::custom)
    }
}

/// Units a new SKU starts with: 0 to `Quantity::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Stock(u32);

impl Stock {
    pub fn new(n: i64) -> Result<Self, ValidationError> {
        if n < 0 || n > i64::from(Quantity::MAX) {
            return Err(ValidationError::new(
                "stock",
                format!("must be between 0 and {}", Quantity::MAX),
            ));
        }
        Ok(Self(n as u32))
    }

    pub fn as_i64(self) -> i64 {
        i64::from(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_may_start_at_zero() {
        assert_eq!(Stock::new(0).map(Stock::as_i64), Ok(0));
        assert_eq!(
            Stock::new(i64::from(Quantity::MAX)).map(Stock::as_i64),
            Ok(i64::from(Quantity::MAX))
        );
        assert!(Stock::new(-1).is_err());
        assert!(Stock::new(i64::from(Quantity::MAX) + 1).is_err());
    }

    #[test]
    fn quantities_are_positive_and_bounded() {
        assert_eq!(Quantity::new(1).map(Quantity::get), Ok(1));
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-3).is_err());
        assert!(Quantity::new(i64::from(Quantity::MAX) + 1).is_err());
    }
}
