//! Account rows: signup, lookup for login, profile edits and withdrawal.

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::email::Email;
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
    })
}

impl Store {
    pub async fn find_user_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, name, role, created_at, deleted_at \
             FROM users WHERE email = ?",
        )
        .bind(email.as_str().to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn find_user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, name, role, created_at, deleted_at \
             FROM users WHERE id = ?",
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

    /// Withdraws an account: it can no longer sign in. The row (and so its
    /// orders' history and its email) stays.
    pub async fn withdraw_user(&self, id: UserId) -> Result<bool, StoreError> {
        let updated =
            sqlx::query("UPDATE users SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
                .bind(Timestamp::now().millis())
                .bind(id.get())
                .execute(&self.pool)
                .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Creates a customer or seller account; a taken email is `Duplicate`.
    pub async fn create_user(
        &self,
        email: &Email,
        password_hash: &str,
        name: &str,
        role: Role,
    ) -> Result<UserId, StoreError> {
        let insert = sqlx::query(
            "INSERT INTO users (email, password_hash, name, role, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(email.as_str().to_owned())
        .bind(password_hash.to_owned())
        .bind(name.to_owned())
        .bind(role.as_str())
        .bind(Timestamp::now().millis());
        self.insert_returning_id(insert)
            .await
            .map(UserId::new)
            .map_err(|e| match e {
                StoreError::Database(e) => StoreError::unique(e, "email"),
                other => other,
            })
    }

    /// Creates the configured admin, or resets its password and role if the
    /// email already exists. Admins exist only through this path.
    pub async fn upsert_admin(
        &self,
        email: &Email,
        password_hash: &str,
    ) -> Result<UserId, StoreError> {
        if let Some(existing) = self.find_user_by_email(email).await? {
            sqlx::query(
                "UPDATE users SET password_hash = ?, role = 'admin', deleted_at = NULL WHERE id = ?",
            )
            .bind(password_hash.to_owned())
            .bind(existing.id.get())
            .execute(&self.pool)
            .await?;
            return Ok(existing.id);
        }
        let insert = sqlx::query(
            "INSERT INTO users (email, password_hash, name, role, created_at) \
             VALUES (?, ?, 'Administrator', 'admin', ?)",
        )
        .bind(email.as_str().to_owned())
        .bind(password_hash.to_owned())
        .bind(Timestamp::now().millis());
        self.insert_returning_id(insert).await.map(UserId::new)
    }
}
