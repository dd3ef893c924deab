//! Password hashing with argon2id. Hashing is CPU-heavy (tens of ms), so it
//! runs on the blocking pool, never on an async worker; unknown accounts are
//! verified against a dummy hash so timing does not reveal which emails exist.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::OnceLock;

use super::ApiError;

/// Hashes a password (argon2id, random salt) off the async workers.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("hashing password: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hash task: {e}")))?
}

pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    let hash = match hash {
        Some(h) => h,
        None => dummy_hash().await?,
    };
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verify task: {e}")))
}

async fn dummy_hash() -> Result<String, ApiError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let h = hash_password("not-a-real-password".into()).await?;
    Ok(DUMMY.get_or_init(|| h).clone())
}
