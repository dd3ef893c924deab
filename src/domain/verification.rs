//! Email verification secrets: the 6-digit code a buyer types, the token of
//! the link in the same mail, and the keyed hashes the store keeps instead
//! of either (a leaked table gives no working code). The random values are
//! drawn by the caller; here they are only checked, rendered and hashed.

use sha2::{Digest, Sha256};

use super::ValidationError;

/// Digits of a code.
pub const CODE_DIGITS: usize = 6;

/// A one-time code: exactly six ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationCode(String);

impl VerificationCode {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        if s.len() == CODE_DIGITS && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new("code", "must be 6 digits"))
        }
    }

    /// The code of a random number (only its last six digits count).
    pub fn from_number(n: u32) -> Self {
        Self(format!("{:06}", n % 1_000_000))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The token of a verification link: 32 lowercase hex digits (128 bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkToken(String);

impl LinkToken {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.len() == 32 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValidationError::new("token", "is not a verification token"))
        }
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(hex(&bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The server's key for hashing verification secrets.
#[derive(Clone)]
pub struct HashKey([u8; 32]);

impl HashKey {
    /// A key of its own derived from `secret` (a token secret), so the
    /// hashes say nothing about that secret and the key needs no setting.
    pub fn derive(secret: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"stampede email verification v1\0");
        h.update(secret);
        Self(h.finalize().into())
    }

    /// The stored form of `code` for account `user`: a code is only good
    /// for the account it was sent to.
    pub fn code_hash(&self, user: i64, code: &VerificationCode) -> String {
        self.hash(&[
            b"code",
            user.to_string().as_bytes(),
            code.as_str().as_bytes(),
        ])
    }

    /// The stored form of a link token (looked up by it: tokens are unique).
    pub fn link_hash(&self, token: &LinkToken) -> String {
        self.hash(&[b"link", token.as_str().as_bytes()])
    }

    /// SHA-256 over the key and the length-prefixed parts: no two part
    /// lists hash the same input.
    fn hash(&self, parts: &[&[u8]]) -> String {
        let mut h = Sha256::new();
        h.update(self.0);
        for part in parts {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        hex(&h.finalize())
    }
}

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey(..)")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(VerificationCode::from_number(42).as_str(), "000042");
        assert_eq!(VerificationCode::from_number(1_234_567).as_str(), "234567");
        assert!(VerificationCode::parse(" 123456 ").is_ok());
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert!(VerificationCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn link_tokens_are_hex() {
        let t = LinkToken::from_bytes([0xab; 16]);
        assert_eq!(LinkToken::parse(t.as_str()), Ok(t));
        assert!(LinkToken::parse("ABABABABABABABABABABABABABABABAB").is_err());
        assert!(LinkToken::parse("ab").is_err());
    }

    #[test]
    fn hashes_depend_on_key_account_and_code() {
        let code = VerificationCode::from_number(123_456);
        let k = HashKey::derive(b"secret");
        assert_eq!(k.code_hash(1, &code), k.code_hash(1, &code));
        assert_ne!(k.code_hash(1, &code), k.code_hash(2, &code));
        assert_ne!(
            k.code_hash(1, &code),
            HashKey::derive(b"other").code_hash(1, &code)
        );
        assert_ne!(
            k.code_hash(1, &code),
            k.code_hash(1, &VerificationCode::from_number(123_457))
        );
        assert_eq!(k.code_hash(1, &code).len(), 64);
    }
}
