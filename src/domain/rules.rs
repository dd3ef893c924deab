//! Sale rules of one SKU: the window in which it can be bought (the preorder
//! opening time) and how many units one buyer may hold.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ValidationError;
use super::time::Timestamp;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SaleRules {
    /// Purchases before this instant are refused with `NOT_ON_SALE`.
    pub opens_at: Option<Timestamp>,
    /// Purchases from this instant on are refused with `NOT_ON_SALE`.
    pub closes_at: Option<Timestamp>,
    /// Units one buyer may hold (reserved or bought) at once.
    pub per_user_limit: Option<u32>,
}

impl SaleRules {
    pub fn new(
        opens_at: Option<Timestamp>,
        closes_at: Option<Timestamp>,
        per_user_limit: Option<u32>,
    ) -> Result<Self, ValidationError> {
        if let (Some(o), Some(c)) = (opens_at, closes_at)
            && c <= o
        {
            return Err(ValidationError::new("closes_at", "must be after opens_at"));
        }
        if per_user_limit == Some(0) {
            return Err(ValidationError::new("per_user_limit", "must be at least 1"));
        }
        Ok(Self {
            opens_at,
            closes_at,
            per_user_limit,
        })
    }

    pub fn is_open(&self, now: Timestamp) -> bool {
        self.opens_at.is_none_or(|o| now >= o) && self.closes_at.is_none_or(|c| now < c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn window_is_half_open() {
        let r = SaleRules::new(Some(t(100)), Some(t(200)), None).expect("valid");
        assert!(!r.is_open(t(99)));
        assert!(r.is_open(t(100)));
        assert!(r.is_open(t(199)));
        assert!(!r.is_open(t(200)));
        assert!(SaleRules::default().is_open(t(0)));
    }

    #[test]
    fn refuses_inverted_window_and_zero_limit() {
        assert!(SaleRules::new(Some(t(200)), Some(t(200)), None).is_err());
        assert!(SaleRules::new(None, None, Some(0)).is_err());
    }
}
