//! Reports of posts to the admins: why a member reports one, and what an
//! admin decides.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ValidationError;
use super::post::written;

/// Longest report reason, in characters (the column's bound).
pub const REASON_MAX: usize = 500;

/// Why a member reports a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportReason(String);

impl ReportReason {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        written("reason", raw, REASON_MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An admin's decision on a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportAction {
    /// Hide the post from everyone but admins; closes every open report
    /// of that post.
    Hide,
    /// Close this report; the post stays.
    Dismiss,
}

impl ReportAction {
    /// Stored as `post_reports.resolution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hide => "hidden",
            Self::Dismiss => "dismissed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_bounded() {
        assert!(ReportReason::parse("spam").is_ok());
        assert!(ReportReason::parse("  ").is_err());
        assert!(ReportReason::parse(&"r".repeat(REASON_MAX + 1)).is_err());
    }
}
