//! Product reviews: a rating of 1 to 5 with text, and a product's rating
//! as listings show it (average and count, from running totals).

use serde::Serialize;
use utoipa::ToSchema;

use super::ValidationError;

pub const TEXT_MAX: usize = 2000;

/// A review about to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub rating: u8,
    pub text: String,
}

impl NewReview {
    pub fn parse(rating: i64, text: &str) -> Result<Self, ValidationError> {
        let rating = u8::try_from(rating)
            .ok()
            .filter(|r| (1..=5).contains(r))
            .ok_or_else(|| ValidationError::new("rating", "must be 1 to 5"))?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > TEXT_MAX {
            return Err(ValidationError::new(
                "text",
                format!("must be 1 to {TEXT_MAX} characters"),
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(ValidationError::new(
                "text",
                "must not contain control characters other than line breaks and tabs",
            ));
        }
        Ok(Self {
            rating,
            text: text.to_string(),
        })
    }
}

/// A product's rating: the average of its reviews (two decimals; `null`
/// without reviews) and their count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Rating {
    pub average: Option<f64>,
    pub count: i64,
}

/// `average` is a quotient of integers rounded to two decimals: never NaN.
impl Eq for Rating {}

impl Rating {
    /// From the running totals kept on the product row.
    pub fn from_totals(sum: i64, count: i64) -> Self {
        let average = (count > 0).then(|| {
            let hundredths = (sum * 100 + count / 2) / count;
            hundredths as f64 / 100.0
        });
        Self {
            average,
            count: count.max(0),
        }
    }
}

impl Default for Rating {
    fn default() -> Self {
        Self::from_totals(0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviews_are_checked() {
        assert!(NewReview::parse(5, " great ").is_ok());
        assert_eq!(NewReview::parse(0, "x").map_err(|e| e.field), Err("rating"));
        assert_eq!(NewReview::parse(6, "x").map_err(|e| e.field), Err("rating"));
        assert_eq!(NewReview::parse(3, "  ").map_err(|e| e.field), Err("text"));
        assert!(NewReview::parse(3, "a\nb").is_ok());
        assert!(NewReview::parse(3, "a\u{0}b").is_err());
        assert!(NewReview::parse(3, &"t".repeat(TEXT_MAX + 1)).is_err());
    }

    #[test]
    fn averages_round_to_hundredths() {
        assert_eq!(Rating::from_totals(0, 0).average, None);
        assert_eq!(Rating::from_totals(9, 2).average, Some(4.5));
        assert_eq!(Rating::from_totals(13, 3).average, Some(4.33));
        assert_eq!(Rating::from_totals(14, 3).average, Some(4.67));
    }
}
