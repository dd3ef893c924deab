//! Blocks: a member hides another's posts and comments from what they
//! read. Blocking and unblocking are idempotent.

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;

/// A blocked account as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRecord {
    pub user_id: UserId,
    pub name: String,
    pub blocked_at: Timestamp,
}

impl Store {
    /// `blocker` blocks `blocked` (an active account, checked by the caller);
    /// blocking twice keeps the first row.
    pub async fn block(&self, blocker: UserId, blocked: UserId) -> Result<(), StoreError> {
        let sql = match self.backend {
            super::Backend::Sqlite => {
                "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?) \
                 ON CONFLICT (blocker_id, blocked_id) DO NOTHING"
            }
            super::Backend::MySql => {
                "INSERT IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)"
            }
        };
        sqlx::query(sql)
            .bind(blocker.get())
            .bind(blocked.get())
            .bind(Timestamp::now().millis())
            .execute(&self.pool)
            .await?;
        self.feed_followees_changed(blocker);
        Ok(())
    }

    /// `blocker` unblocks `blocked`, whether or not they had.
    pub async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?")
            .bind(blocker.get())
            .bind(blocked.get())
            .execute(&self.pool)
            .await?;
        self.feed_followees_changed(blocker);
        Ok(())
    }

    /// Up to `limit` of the accounts `blocker` blocked, by id after `after`.
    pub async fn blocks(
        &self,
        blocker: UserId,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<BlockRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT b.blocked_id, u.name, b.created_at FROM blocks b \
             JOIN users u ON u.id = b.blocked_id \
             WHERE b.blocker_id = ? AND b.blocked_id > ? ORDER BY b.blocked_id LIMIT ?",
        )
        .bind(blocker.get())
        .bind(after.unwrap_or(0))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BlockRecord {
                    user_id: UserId::new(r.try_get(0)?),
                    name: r.try_get(1)?,
                    blocked_at: Timestamp::from_millis(r.try_get(2)?),
                })
            })
            .collect()
    }
}
