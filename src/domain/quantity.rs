//! A number of units in one request: at least 1, at most `Quantity::MAX`.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_positive_and_bounded() {
        assert_eq!(Quantity::new(1).map(Quantity::get), Ok(1));
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-3).is_err());
        assert!(Quantity::new(i64::from(Quantity::MAX) + 1).is_err());
    }
}
