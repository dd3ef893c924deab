//! Money: an integer amount in minor units (won, cents) and an ISO 4217
//! currency code. Integers only, so sums and comparisons are exact.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

use super::ValidationError;
use super::quantity::Quantity;

/// A unit price in minor units of its currency: 0 to `Price::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Price(i64);

impl Price {
    /// 10^12 minor units: far above any real price, far below `i64` limits
    /// even when multiplied by a large order quantity.
    pub const MAX: i64 = 1_000_000_000_000;

    pub fn new(amount: i64) -> Result<Self, ValidationError> {
        if !(0..=Self::MAX).contains(&amount) {
            return Err(ValidationError::new(
                "price",
                format!("must be between 0 and {} minor units", Self::MAX),
            ));
        }
        Ok(Self(amount))
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }
}

impl Price {
    /// The price of `qty` units; `None` beyond `Amount::MAX`.
    pub fn times(self, qty: Quantity) -> Option<Amount> {
        self.0.checked_mul(qty.as_i64()).and_then(Amount::new)
    }
}

/// A sum of money in minor units, such as an order's total: 0 to
/// `Amount::MAX`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, ToSchema,
)]
#[serde(transparent)]
pub struct Amount(i64);

impl Amount {
    pub const ZERO: Amount = Amount(0);
    /// 10^15 minor units: a thousand times the dearest price, still far from
    /// the `i64` limit.
    pub const MAX: i64 = 1_000_000_000_000_000;

    pub fn new(amount: i64) -> Option<Self> {
        (0..=Self::MAX).contains(&amount).then_some(Self(amount))
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).and_then(Amount::new)
    }
}

/// An ISO 4217 code: exactly three ASCII uppercase letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = String, example = "KRW")]
pub struct Currency([u8; 3]);

impl Currency {
    /// The shop's home currency, used when a request names none.
    pub const KRW: Currency = Currency(*b"KRW");

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(ValidationError::new(
                "currency",
                "must be three uppercase letters (ISO 4217), e.g. KRW",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters ever get in, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or("KRW")
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::KRW
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_bounded_minor_units() {
        assert_eq!(Price::new(0).map(Price::minor_units), Ok(0));
        assert_eq!(
            Price::new(Price::MAX).map(Price::minor_units),
            Ok(Price::MAX)
        );
        assert!(Price::new(-1).is_err());
        assert!(Price::new(Price::MAX + 1).is_err());
    }

    #[test]
    fn totals_are_bounded_sums() {
        let price = Price::new(1_000).unwrap();
        let three = Quantity::new(3).unwrap();
        assert_eq!(price.times(three).map(Amount::minor_units), Some(3_000));
        let dear = Price::new(Price::MAX).unwrap();
        let many = Quantity::new(i64::from(Quantity::MAX)).unwrap();
        assert_eq!(dear.times(many), None);
        let big = Amount::new(Amount::MAX).unwrap();
        assert_eq!(big.checked_add(Amount::new(1).unwrap()), None);
        assert_eq!(Amount::ZERO.checked_add(big), Some(big));
        assert_eq!(Amount::new(-1), None);
    }

    #[test]
    fn currencies_are_three_uppercase_letters() {
        assert_eq!(
            Currency::parse("USD").map(|c| c.to_string()),
            Ok("USD".into())
        );
        assert_eq!(Currency::default().as_str(), "KRW");
        for bad in ["usd", "US", "USDT", "U$D", "", "ÄBC"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }
}
