//! Bounded free text (names, categories, option labels): trimmed, never
//! empty, never longer than the column that stores it, no control characters.

use super::ValidationError;

/// Trims `raw` and checks it is 1..=`max_chars` characters without controls.
pub fn bounded(
    field: &'static str,
    raw: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if s.chars().count() > max_chars {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(s.to_string())
}

/// A person's display name.
pub fn person_name(raw: &str) -> Result<String, ValidationError> {
    bounded("name", raw, 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(bounded("name", "  Kim  ", 10), Ok("Kim".to_string()));
        assert!(bounded("name", "   ", 10).is_err());
        assert!(bounded("name", "abcdefghijk", 10).is_err());
        assert!(bounded("name", "a\nb", 10).is_err());
        assert_eq!(bounded("name", "김민수", 3), Ok("김민수".to_string()));
    }
}
