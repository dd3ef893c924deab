//! Account rows: signup, lookup for login, profile edits and withdrawal.

use sqlx::Row;

use super::outbox::append;
use super::verification::{NewCode, put_code};
use super::{Store, StoreError};
use crate::domain::email::Email;
use crate::domain::events::{DomainEvent, EventKind};
use crate::domain::ids::UserId;
use crate::domain::role::Role;
use crate::domain::time::Timestamp;

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
    pub deleted: bool,
    /// Verified their email (accounts older than verification count as
    /// verified, and so does the bootstrapped admin).
    pub email_verified: bool,
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(UserRecord {
        id: UserId::new(row.try_get("id")?),
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("user role {role}")))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        deleted: row.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
        email_verified: row
            .try_get::<Option<i64>, _>("email_verified_at")?
            .is_some(),
    })
}

impl Store {
    pub async fn find_user_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, name, role, created_at, deleted_at, \
             email_verified_at FROM users WHERE email = ?",
        )
        .bind(email.as_str().to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn find_user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, name, role, created_at, deleted_at, \
             email_verified_at FROM users WHERE id = ?",
        )
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Changes the profile fields that are given; a withdrawn account is not
    /// touched. Answers whether a live account was updated.
    pub async fn update_user(
        &self,
        id: UserId,
        name: Option<&str>,
        password_hash: Option<&str>,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE users SET name = COALESCE(?, name), password_hash = COALESCE(?, password_hash) \
             WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(name.map(str::to_owned))
        .bind(password_hash.map(str::to_owned))
        .bind(id.get())
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Withdraws an account: it can no longer sign in, and a seller's
    /// products leave the catalog. The row (and so its orders' history and
    /// its email) stays.
    pub async fn withdraw_user(&self, id: UserId) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.pool.begin().await?;
        let withdrawn =
            sqlx::query("UPDATE users SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
                .bind(now.millis())
                .bind(id.get())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        if withdrawn {
            append(
                &mut tx,
                &[account_event(EventKind::AccountWithdrawn, id, None, now)],
            )
            .await?;
        }
        tx.commit().await?;
        // Cached offers carry whether their seller has withdrawn.
        self.offers.invalidate();
        if withdrawn {
            self.events_appended();
            self.feed_account_withdrawn(id);
        }
        Ok(withdrawn)
    }

    /// Creates an account of `role` (signup allows customer or seller only),
    /// its email not verified; a taken email is `Duplicate`.
    pub async fn create_user(
        &self,
        email: &Email,
        password_hash: &str,
        name: &str,
        role: Role,
    ) -> Result<UserId, StoreError> {
        self.create_user_with_code(email, password_hash, name, role, |_| None)
            .await
    }

    /// `create_user`, and when `code` makes one for the new id, in the same
    /// transaction its first verification code with the mail that carries
    /// it: an account is never left waiting for a code nobody sends.
    pub async fn create_user_with_code(
        &self,
        email: &Email,
        password_hash: &str,
        name: &str,
        role: Role,
        code: impl FnOnce(UserId) -> Option<NewCode>,
    ) -> Result<UserId, StoreError> {
        let now = Timestamp::now();
        let insert = sqlx::query(
            "INSERT INTO users (email, password_hash, name, role, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(email.as_str().to_owned())
        .bind(password_hash.to_owned())
        .bind(name.to_owned())
        .bind(role.as_str())
        .bind(now.millis());
        let mut tx = self.pool.begin().await?;
        let id = self
            .insert_on(&mut tx, insert)
            .await
            .map(UserId::new)
            .map_err(|e| match e {
                StoreError::Database(e) => StoreError::unique(e, "email"),
                other => other,
            })?;
        let signed_up = account_event(EventKind::AccountSignedUp, id, Some((email, role)), now);
        append(&mut tx, &[signed_up]).await?;
        if let Some(code) = code(id) {
            put_code(&mut tx, self.backend, id, &code).await?;
        }
        tx.commit().await?;
        self.events_appended();
        Ok(id)
    }

    /// Creates the configured admin account. Admins exist only through the
    /// bootstrap at start-up, which first makes sure the email is free.
    pub async fn create_admin(
        &self,
        email: &Email,
        password_hash: &str,
    ) -> Result<UserId, StoreError> {
        let id = self
            .create_user(email, password_hash, "Administrator", Role::Admin)
            .await?;
        self.mark_email_verified(id).await?;
        Ok(id)
    }

    /// Sets the password of an admin account (and makes it live again).
    /// Never touches another role: answers whether an admin was updated.
    pub async fn reset_admin_password(
        &self,
        id: UserId,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE users SET password_hash = ?, deleted_at = NULL WHERE id = ? AND role = 'admin'",
        )
        .bind(password_hash.to_owned())
        .bind(id.get())
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Turns every admin but `keep` into a customer; answers who was demoted.
    pub async fn demote_admins(&self, keep: Option<UserId>) -> Result<Vec<UserId>, StoreError> {
        let admins: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE role = 'admin'")
            .fetch_all(&self.pool)
            .await?;
        let mut demoted = Vec::new();
        for id in admins.into_iter().map(UserId::new) {
            if Some(id) == keep {
                continue;
            }
            let updated =
                sqlx::query("UPDATE users SET role = 'customer' WHERE id = ? AND role = 'admin'")
                    .bind(id.get())
                    .execute(&self.pool)
                    .await?;
            if updated.rows_affected() == 1 {
                demoted.push(id);
            }
        }
        Ok(demoted)
    }
}

/// An account event; `signed_up` says who (email and role) joined.
fn account_event(
    kind: EventKind,
    id: UserId,
    joined: Option<(&Email, Role)>,
    at: Timestamp,
) -> DomainEvent {
    let mut data = serde_json::json!({ "user_id": id.get() });
    if let (Some((email, role)), Some(map)) = (joined, data.as_object_mut()) {
        map.insert("email".into(), email.as_str().into());
        map.insert("role".into(), role.as_str().into());
    }
    DomainEvent::new(kind, format!("users/{}", id.get()), at, data)
}
