//! The two token signing secrets (access and refresh), checked at start-up.
//!
//! Outside development mode both must be configured, hold at least
//! [`MIN_SECRET_BYTES`] bytes (HS256 is as strong as its key, and RFC 7518
//! asks for a key at least as long as the hash) and differ from each other
//! (a leak of one must not forge the other). In development mode a missing
//! secret is made up for the process and a short one is only warned about.

use crate::config::Settings;

/// Shortest secret accepted outside development mode: SHA-256's output.
pub const MIN_SECRET_BYTES: usize = 32;

/// The one line that says a process runs in development mode.
pub const DEVELOPMENT_MODE_WARNING: &str = "DEVELOPMENT MODE: random token secrets for this \
     process (tokens die with it) and short secrets accepted; configure \
     STAMPEDE_JWT_SECRET and STAMPEDE_REFRESH_TOKEN_SECRET (at least 32 bytes each) and \
     STAMPEDE_DEV_MODE=false for anything but a local try-out";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "invalid configuration: {key} is not set; outside development mode (STAMPEDE_DEV_MODE, \
         on by default only when nothing is configured) token secrets are never made up"
    )]
    Missing { key: &'static str },
    #[error("invalid configuration: {key} must be at least {MIN_SECRET_BYTES} bytes, not {len}")]
    Short { key: &'static str, len: usize },
    #[error(
        "invalid configuration: STAMPEDE_REFRESH_TOKEN_SECRET must differ from STAMPEDE_JWT_SECRET"
    )]
    Equal,
}

/// The checked secrets.
pub struct TokenSecrets {
    pub access: Vec<u8>,
    pub refresh: Vec<u8>,
}

impl TokenSecrets {
    /// The configured secrets, checked; in `development` mode missing ones
    /// are made up.
    pub fn from_settings(settings: &Settings, development: bool) -> Result<Self, SecretError> {
        let access = secret(&settings.jwt_secret, "STAMPEDE_JWT_SECRET", development)?;
        let refresh = secret(
            &settings.refresh_token_secret,
            "STAMPEDE_REFRESH_TOKEN_SECRET",
            development,
        )?;
        if access == refresh {
            return Err(SecretError::Equal);
        }
        Ok(Self { access, refresh })
    }
}

fn secret(
    configured: &Option<String>,
    key: &'static str,
    development: bool,
) -> Result<Vec<u8>, SecretError> {
    match configured {
        Some(secret) if secret.len() >= MIN_SECRET_BYTES => Ok(secret.as_bytes().to_vec()),
        Some(secret) if development => {
            tracing::warn!("{key} is shorter than {MIN_SECRET_BYTES} bytes");
            Ok(secret.as_bytes().to_vec())
        }
        Some(secret) => Err(SecretError::Short {
            key,
            len: secret.len(),
        }),
        // 244 random bits from the OS generator, hex-encoded.
        None if development => Ok(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
        .into_bytes()),
        None => Err(SecretError::Missing { key }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(access: Option<&str>, refresh: Option<&str>) -> Settings {
        Settings {
            jwt_secret: access.map(str::to_owned),
            refresh_token_secret: refresh.map(str::to_owned),
            ..Settings::default()
        }
    }

    #[test]
    fn production_needs_two_long_distinct_secrets() {
        let long_a = "a".repeat(MIN_SECRET_BYTES);
        let long_b = "b".repeat(MIN_SECRET_BYTES);
        let short = "s".repeat(MIN_SECRET_BYTES - 1);
        let ok = TokenSecrets::from_settings(&settings(Some(&long_a), Some(&long_b)), false);
        assert!(ok.is_ok_and(|s| s.access == long_a.as_bytes()));
        for (access, refresh) in [
            (None, Some(long_b.as_str())),
            (Some(long_a.as_str()), None),
            (Some(short.as_str()), Some(long_b.as_str())),
            (Some(long_a.as_str()), Some(long_a.as_str())),
        ] {
            let refused = TokenSecrets::from_settings(&settings(access, refresh), false);
            assert!(refused.is_err(), "{access:?} {refresh:?}");
        }
    }

    #[test]
    fn development_makes_up_what_is_missing() {
        let made = TokenSecrets::from_settings(&settings(None, None), true).expect("secrets");
        assert!(made.access.len() >= MIN_SECRET_BYTES);
        assert_ne!(made.access, made.refresh);
        let short = TokenSecrets::from_settings(&settings(Some("short"), None), true);
        assert!(short.is_ok());
    }
}
