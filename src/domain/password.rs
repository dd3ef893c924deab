//! A password good enough to accept at signup: long enough, not a single
//! character class, not one of the passwords every attacker tries first.
//! It is only ever hashed, never stored or logged.

use std::fmt;

use super::ValidationError;

pub struct Password(String);

/// The handful every credential-stuffing list starts with.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty123",
    "qwertyuiop",
    "iloveyou",
    "11111111",
    "abc12345",
    "letmein1",
    "admin123",
    "welcome1",
    "passw0rd",
];

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let weak = |why: &str| ValidationError::new("password", why.to_string());
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(weak("must be at least 8 characters"));
        }
        if chars > Self::MAX_CHARS {
            return Err(weak("must be at most 128 characters"));
        }
        if raw.chars().any(char::is_control) {
            return Err(weak("must not contain control characters"));
        }
        let classes = [
            raw.chars().any(char::is_alphabetic),
            raw.chars().any(|c| c.is_ascii_digit()),
            raw.chars().any(|c| !c.is_alphanumeric()),
        ];
        if classes.iter().filter(|&&present| present).count() < 2 {
            return Err(weak("must mix at least two of letters, digits and symbols"));
        }
        if COMMON.contains(&raw.to_lowercase().as_str()) {
            return Err(weak("is too common"));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_weak_and_accepts_mixed() {
        for weak in [
            "",
            "short1!",
            "abcdefghij",
            "1234567890",
            "Password1",
            "pass\u{7}word1",
        ] {
            assert!(Password::parse(weak).is_err(), "{weak:?} should be refused");
        }
        assert!(Password::parse(&"a1".repeat(65)).is_err());
        for ok in ["correct horse battery", "s3cret-drop", "한글비밀번호12"] {
            assert!(Password::parse(ok).is_ok(), "{ok:?} should pass");
        }
        assert_eq!(
            format!("{:?}", Password::parse("s3cret-drop").unwrap()),
            "Password(***)"
        );
    }
}
