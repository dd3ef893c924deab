//! Activity notifications: what happened to a member's account and posts,
//! and which of them to mark read.

use serde::Serialize;
use utoipa::ToSchema;

use super::ValidationError;

/// What someone did. Stored as the `activities.kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// The actor followed the recipient.
    Followed,
    /// The actor liked the recipient's post.
    LikedPost,
    /// The actor liked the recipient's comment.
    LikedComment,
    /// The actor commented on the recipient's post.
    Commented,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Followed => "followed",
            Self::LikedPost => "liked_post",
            Self::LikedComment => "liked_comment",
            Self::Commented => "commented",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Followed,
            Self::LikedPost,
            Self::LikedComment,
            Self::Commented,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }
}

/// Which activities to mark read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkRead {
    /// Those with an id up to this one (what the reader has seen).
    UpTo(i64),
    All,
}

impl MarkRead {
    /// Exactly one of `up_to` and `all: true`.
    pub fn parse(up_to: Option<i64>, all: Option<bool>) -> Result<Self, ValidationError> {
        match (up_to, all) {
            (Some(id), None | Some(false)) => Ok(Self::UpTo(id)),
            (None, Some(true)) => Ok(Self::All),
            _ => Err(ValidationError::new(
                "up_to",
                "give either `up_to` (an activity id) or `all: true`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in ["followed", "liked_post", "liked_comment", "commented"] {
            assert_eq!(ActivityKind::parse(k).map(ActivityKind::as_str), Some(k));
        }
        assert_eq!(ActivityKind::parse("poked"), None);
    }

    #[test]
    fn marking_names_one_bound() {
        assert_eq!(MarkRead::parse(Some(5), None), Ok(MarkRead::UpTo(5)));
        assert_eq!(MarkRead::parse(None, Some(true)), Ok(MarkRead::All));
        assert!(MarkRead::parse(None, None).is_err());
        assert!(MarkRead::parse(None, Some(false)).is_err());
        assert!(MarkRead::parse(Some(5), Some(true)).is_err());
    }
}
