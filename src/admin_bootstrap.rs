//! The admin account, which exists only because configuration names it
//! (`STAMPEDE_ADMIN_EMAIL` / `STAMPEDE_ADMIN_PASSWORD`), reconciled with the
//! store at every start:
//!
//! - a configured email held by a customer or seller is refused: promoting
//!   it would hand the admin role to whoever signed up with it first;
//! - a changed admin password ends every session of the admin (the old
//!   password may be why it was changed); an unchanged one keeps them;
//! - an admin no longer configured becomes a customer, its sessions ended.

use crate::config::Settings;
use crate::domain::email::Email;
use crate::domain::ids::UserId;
use crate::domain::role::Role;
use crate::http::passwords::{PasswordError, Passwords};
use crate::http::sessions::Sessions;
use crate::persistence::{RevokeReason, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminBootstrapError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(
        "invalid configuration: STAMPEDE_ADMIN_EMAIL {email} belongs to an existing {role} \
         account; refusing to make it an admin (configure another email, or remove that \
         account first)"
    )]
    Taken { email: Email, role: Role },
    #[error("hashing the admin password: {0}")]
    Hash(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates, refreshes or refuses the configured admin, then demotes every
/// other admin.
pub async fn bootstrap_admin(
    store: &Store,
    sessions: &Sessions,
    passwords: &Passwords,
    settings: &Settings,
) -> Result<(), AdminBootstrapError> {
    let admin = match (&settings.admin_email, &settings.admin_password) {
        (Some(email), Some(password)) => {
            Some(ensure_admin(store, sessions, passwords, email, password).await?)
        }
        (None, None) => {
            tracing::warn!(
                "no STAMPEDE_ADMIN_EMAIL/STAMPEDE_ADMIN_PASSWORD: admin routes are unusable"
            );
            None
        }
        _ => {
            return Err(AdminBootstrapError::Config(
                "set both STAMPEDE_ADMIN_EMAIL and STAMPEDE_ADMIN_PASSWORD, or neither".into(),
            ));
        }
    };
    for demoted in store.demote_admins(admin).await? {
        sessions.close_all(demoted, RevokeReason::Demoted).await?;
        tracing::warn!(
            user = demoted.get(),
            "an admin no longer named in configuration is now a customer; its sessions are revoked"
        );
    }
    Ok(())
}

/// The configured admin's id, creating the account or updating its
/// password as needed.
async fn ensure_admin(
    store: &Store,
    sessions: &Sessions,
    passwords: &Passwords,
    email: &str,
    password: &str,
) -> Result<UserId, AdminBootstrapError> {
    let email = Email::parse(email).map_err(|e| AdminBootstrapError::Config(e.to_string()))?;
    if password.len() < 8 {
        return Err(AdminBootstrapError::Config(
            "STAMPEDE_ADMIN_PASSWORD must be at least 8 characters".into(),
        ));
    }
    let existing = match store.find_user_by_email(&email).await? {
        Some(existing) => existing,
        None => {
            let hash = passwords.hash(password.to_owned()).await?;
            match store.create_admin(&email, &hash).await {
                Ok(id) => {
                    tracing::info!(%email, "admin account created");
                    return Ok(id);
                }
                // Another node starting beside this one created it first
                // (a cluster deployed at once): reconcile with theirs.
                Err(StoreError::Duplicate(_)) => {
                    store.find_user_by_email(&email).await?.ok_or_else(|| {
                        AdminBootstrapError::Config(format!(
                            "the admin account {email} was created and removed during start-up; \
                             start again"
                        ))
                    })?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    if existing.role != Role::Admin {
        return Err(AdminBootstrapError::Taken {
            email,
            role: existing.role,
        });
    }
    let unchanged = passwords
        .verify(password.to_owned(), Some(existing.password_hash))
        .await?;
    if unchanged && !existing.deleted {
        tracing::info!(%email, "admin account unchanged");
        return Ok(existing.id);
    }
    let hash = passwords.hash(password.to_owned()).await?;
    if !store.reset_admin_password(existing.id, &hash).await? {
        // Demoted by another process between our read and this write.
        return Err(AdminBootstrapError::Config(format!(
            "the admin account {email} changed role during start-up; start again"
        )));
    }
    sessions
        .close_all(existing.id, RevokeReason::PasswordChanged)
        .await?;
    tracing::info!(%email, "admin password changed; the admin's sessions are revoked");
    Ok(existing.id)
}
