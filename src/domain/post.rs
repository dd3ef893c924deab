//! What members write in the community: the body of a post or a comment,
//! trimmed, never empty, bounded, without control characters other than
//! line breaks and tabs.

use super::ValidationError;

/// Longest post body, in characters.
pub const POST_MAX: usize = 5000;
/// Longest comment body, in characters.
pub const COMMENT_MAX: usize = 2000;

/// The text of a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostBody(String);

/// The text of a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(String);

impl PostBody {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        written("body", raw, POST_MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl CommentBody {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        written("body", raw, COMMENT_MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trims `raw` and checks it is 1..=`max` characters of prose.
pub(crate) fn written(
    field: &'static str,
    raw: &str,
    max: usize,
) -> Result<String, ValidationError> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_trimmed_and_bounded() {
        assert_eq!(
            PostBody::parse("  hello\nworld ").map(|b| b.as_str().to_string()),
            Ok("hello\nworld".to_string())
        );
        assert!(PostBody::parse(" \n ").is_err());
        assert!(PostBody::parse(&"가".repeat(POST_MAX)).is_ok());
        assert!(PostBody::parse(&"가".repeat(POST_MAX + 1)).is_err());
        assert!(PostBody::parse("a\u{7}b").is_err());
        assert!(CommentBody::parse(&"c".repeat(COMMENT_MAX + 1)).is_err());
        assert!(CommentBody::parse("nice").is_ok());
    }
}
