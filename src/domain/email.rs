//! An email address, normalised (trimmed, lower-cased, Unicode NFC) so that
//! one mailbox is one account: a composed and a decomposed "é" are the same
//! letter typed two ways. The store compares the normalised text byte for
//! byte (on MySQL `users.email` is `utf8mb4_bin`), so it neither merges
//! what this keeps apart ("jose" and "josé") nor splits what it merges.

use serde::Serialize;
use std::fmt;
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

use super::ValidationError;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        // NFC after lower-casing: case mapping may leave a decomposed form.
        let s: String = raw.trim().to_lowercase().nfc().collect();
        let invalid = || ValidationError::new("email", "is not a valid email address");
        if s.len() > Self::MAX_LEN || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_mailbox_after_nfc() {
        let composed = Email::parse("JOS\u{c9}@shop.test").map(|e| e.0);
        let decomposed = Email::parse("jose\u{301}@Shop.test").map(|e| e.0);
        assert_eq!(composed, Ok("jos\u{e9}@shop.test".to_string()));
        assert_eq!(decomposed, composed);
        assert_ne!(Email::parse("jose@shop.test").map(|e| e.0), composed);
    }

    #[test]
    fn normalises_and_rejects_malformed() {
        assert_eq!(
            Email::parse("  Kim@Example.COM ").map(|e| e.0),
            Ok("kim@example.com".to_string())
        );
        for bad in [
            "",
            "kim",
            "kim@",
            "@example.com",
            "kim@example",
            "k m@x.io",
            "a@b@c.io",
            "kim@.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
