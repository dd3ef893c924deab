//! Email verification codes: at most one live code per account, stored as
//! keyed hashes with an expiry and a budget of wrong tries. Checking a code
//! locks its row first, so two guesses at once cannot both spend the same
//! try or both verify.

use sqlx::Row;

use super::mail_queue::{NewMail, enqueue_on};
use super::{Backend, Store, StoreError};
use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// A code about to be sent, as the store keeps it, with the mail carrying it.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub code_hash: String,
    pub link_hash: String,
    pub expires_at: Timestamp,
    pub attempts: u32,
    pub mail: NewMail,
}

/// What presenting a code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right code: the email is verified and the code is gone.
    Verified,
    /// Wrong code; `left` tries remain (0: the code is now burnt).
    Wrong { left: u32 },
    /// No live code: none was sent, it expired, was used or was burnt.
    Expired,
}

/// Replaces `user`'s live code (if any) with `code` and queues its mail.
pub(crate) async fn put_code(
    tx: &mut Tx<'_>,
    backend: Backend,
    user: UserId,
    code: &NewCode,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM email_verifications WHERE user_id = ?")
        .bind(user.get())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO email_verifications \
         (user_id, code_hash, link_hash, expires_at, attempts_left, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(user.get())
    .bind(code.code_hash.clone())
    .bind(code.link_hash.clone())
    .bind(code.expires_at.millis())
    .bind(i64::from(code.attempts))
    .bind(Timestamp::now().millis())
    .execute(&mut **tx)
    .await?;
    enqueue_on(tx, backend, &code.mail).await?;
    Ok(())
}

impl Store {
    /// Sends `user` a new code, retiring the one before.
    pub async fn replace_code(&self, user: UserId, code: &NewCode) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        put_code(&mut tx, self.backend, user, code).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks `code_hash` against `user`'s live code at `now`.
    pub async fn check_code(
        &self,
        user: UserId,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<CodeCheck, StoreError> {
        let mut tx = self.begin_write().await?;
        // Lock the row before reading it (see the module comment).
        sqlx::query(
            "UPDATE email_verifications SET attempts_left = attempts_left WHERE user_id = ?",
        )
        .bind(user.get())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT code_hash, expires_at, attempts_left FROM email_verifications \
             WHERE user_id = ?",
        )
        .bind(user.get())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(CodeCheck::Expired);
        };
        let stored: String = row.try_get("code_hash")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let left: i64 = row.try_get("attempts_left")?;
        if expires_at <= now.millis() || left <= 0 {
            delete_code(&mut tx, user).await?;
            tx.commit().await?;
            return Ok(CodeCheck::Expired);
        }
        if same(&stored, code_hash) {
            delete_code(&mut tx, user).await?;
            verify_on(&mut tx, user, now).await?;
            tx.commit().await?;
            return Ok(CodeCheck::Verified);
        }
        let left = left - 1;
        if left == 0 {
            delete_code(&mut tx, user).await?;
        } else {
            sqlx::query("UPDATE email_verifications SET attempts_left = ? WHERE user_id = ?")
                .bind(left)
                .bind(user.get())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(CodeCheck::Wrong {
            left: u32::try_from(left).unwrap_or(0),
        })
    }

    /// Verifies the account whose live code has the link `link_hash`;
    /// answers which, or none when no live code has it.
    pub async fn check_link(
        &self,
        link_hash: &str,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError> {
        let mut tx = self.begin_write().await?;
        // Write first (a lock, as in `check_code`), then read.
        sqlx::query(
            "UPDATE email_verifications SET attempts_left = attempts_left WHERE link_hash = ?",
        )
        .bind(link_hash.to_owned())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT user_id, expires_at, attempts_left FROM email_verifications \
             WHERE link_hash = ?",
        )
        .bind(link_hash.to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = UserId::new(row.try_get("user_id")?);
        let live = row.try_get::<i64, _>("expires_at")? > now.millis()
            && row.try_get::<i64, _>("attempts_left")? > 0;
        // Whoever deletes the row verifies: of two clicks at once, one does.
        let deleted = sqlx::query("DELETE FROM email_verifications WHERE link_hash = ?")
            .bind(link_hash.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if deleted && live {
            verify_on(&mut tx, user, now).await?;
        }
        tx.commit().await?;
        Ok((deleted && live).then_some(user))
    }

    /// Marks `user`'s email verified (the bootstrapped admin's at creation).
    pub async fn mark_email_verified(&self, user: UserId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        verify_on(&mut tx, user, Timestamp::now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Refuses `user`'s access tokens issued up to `at` (logout everywhere).
    pub async fn revoke_access_tokens(
        &self,
        user: UserId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET tokens_revoked_at = ? WHERE id = ?")
            .bind(at.millis())
            .bind(user.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Accounts whose access tokens were revoked after `since`, with when:
    /// start-up reloads them, since tokens issued before may still be alive.
    pub async fn access_revocations_since(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(UserId, Timestamp)>, StoreError> {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, tokens_revoked_at FROM users WHERE tokens_revoked_at > ?")
                .bind(since.millis())
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, at)| (UserId::new(id), Timestamp::from_millis(at)))
            .collect())
    }
}

async fn delete_code(tx: &mut Tx<'_>, user: UserId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM email_verifications WHERE user_id = ?")
        .bind(user.get())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn verify_on(tx: &mut Tx<'_>, user: UserId, at: Timestamp) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET email_verified_at = COALESCE(email_verified_at, ?) WHERE id = ?")
        .bind(at.millis())
        .bind(user.get())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Compares two hashes in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
