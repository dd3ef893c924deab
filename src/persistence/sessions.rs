//! Login sessions and their refresh tokens. A session is one refresh-token
//! family: every rotation adds a token to it, and revoking it (logout, reuse
//! of a rotated token, withdrawal, a password change, an admin's demotion)
//! refuses all of them. The rows outlive the process, so a revocation
//! survives restarts.

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;

/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current; the new one replaces it.
    Rotated,
    /// The token had already been rotated: someone replayed it. The whole
    /// session is now revoked.
    Reused,
    /// The session was revoked earlier (logout, reuse, withdrawal).
    Revoked,
    /// No such token or session, or it belongs to someone else.
    Unknown,
}

/// Why a session ended, kept for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    Reuse,
    PasswordChanged,
    Withdrawn,
    /// An admin no longer named in configuration became a customer.
    Demoted,
    /// The user logged out of every device.
    LogoutAll,
}

impl RevokeReason {
    fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "logout",
            RevokeReason::Reuse => "reuse",
            RevokeReason::PasswordChanged => "password_changed",
            RevokeReason::Withdrawn => "withdrawn",
            RevokeReason::Demoted => "demoted",
            RevokeReason::LogoutAll => "logout_all",
        }
    }
}

impl Store {
    /// Opens a session with its first refresh token.
    pub async fn open_session(
        &self,
        session: &str,
        user: UserId,
        jti: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now().millis();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(session.to_owned())
        .bind(user.get())
        .bind(now)
        .bind(expires_at.millis())
        .execute(&mut *tx)
        .await?;
        insert_token(&mut tx, session, jti, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces refresh token `old` of `session` with `new`, atomically: of
    /// two concurrent presentations of one token exactly one rotates, and
    /// the other is treated as reuse.
    pub async fn rotate_refresh(
        &self,
        session: &str,
        user: UserId,
        old: &str,
        new: &str,
    ) -> Result<Rotation, StoreError> {
        let now = Timestamp::now().millis();
        let mut tx = self.pool.begin().await?;
        // Lock the session row before anything else: every transaction on a
        // session then queues on it (InnoDB row lock, SQLite write lock), so
        // none can deadlock or fail to upgrade a read snapshot.
        sqlx::query("UPDATE sessions SET revoked_at = revoked_at WHERE id = ?")
            .bind(session.to_owned())
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT user_id, revoked_at FROM sessions WHERE id = ?")
            .bind(session.to_owned())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        if row.try_get::<i64, _>("user_id")? != user.get() {
            return Ok(Rotation::Unknown);
        }
        if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
            return Ok(Rotation::Revoked);
        }
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = ? \
             WHERE jti = ? AND session_id = ? AND rotated_at IS NULL",
        )
        .bind(now)
        .bind(old.to_owned())
        .bind(session.to_owned())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 1 {
            insert_token(&mut tx, session, new, now).await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated);
        }
        let known = sqlx::query("SELECT 1 FROM refresh_tokens WHERE jti = ? AND session_id = ?")
            .bind(old.to_owned())
            .bind(session.to_owned())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !known {
            return Ok(Rotation::Unknown);
        }
        // A rotated token came back: it has leaked.
        sqlx::query("UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ?")
            .bind(now)
            .bind(RevokeReason::Reuse.as_str())
            .bind(session.to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Rotation::Reused)
    }

    /// Revokes one session of `user`; answers whether it is theirs.
    /// Revoking twice is harmless.
    pub async fn revoke_session(
        &self,
        session: &str,
        user: UserId,
        reason: RevokeReason,
    ) -> Result<bool, StoreError> {
        let revoked = sqlx::query(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? \
             WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(Timestamp::now().millis())
        .bind(reason.as_str())
        .bind(session.to_owned())
        .bind(user.get())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if revoked == 1 {
            return Ok(true);
        }
        let owned = sqlx::query("SELECT 1 FROM sessions WHERE id = ? AND user_id = ?")
            .bind(session.to_owned())
            .bind(user.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(owned.is_some())
    }

    /// Revokes every live session of `user`; answers their ids.
    pub async fn revoke_user_sessions(
        &self,
        user: UserId,
        reason: RevokeReason,
    ) -> Result<Vec<String>, StoreError> {
        let now = Timestamp::now().millis();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? \
             WHERE user_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason.as_str())
        .bind(user.get())
        .execute(&mut *tx)
        .await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE user_id = ? AND revoked_at = ? AND expires_at > ?",
        )
        .bind(user.get())
        .bind(now)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    session: &str,
    jti: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO refresh_tokens (jti, session_id, issued_at) VALUES (?, ?, ?)")
        .bind(jti.to_owned())
        .bind(session.to_owned())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
