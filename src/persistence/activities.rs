//! A member's activity notifications: read newest first, count the unread,
//! mark read. Rows are written where the thing happens (a comment's
//! transaction, the like and follow batches).

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::activity::{ActivityKind, MarkRead};
use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;

/// One notification as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRecord {
    pub id: i64,
    pub actor_id: UserId,
    pub actor_name: String,
    pub kind: ActivityKind,
    /// 0 in the row when it does not apply.
    pub post_id: Option<i64>,
    pub comment_id: Option<i64>,
    pub created_at: Timestamp,
    pub read: bool,
}

impl Store {
    /// Up to `limit` of `user`'s activities older than `before`, newest first.
    pub async fn activities(
        &self,
        user: UserId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ActivityRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.actor_id, COALESCE(u.name, ''), a.kind, a.post_id, a.comment_id, \
             a.created_at, a.read_at FROM activities a LEFT JOIN users u ON u.id = a.actor_id \
             WHERE a.recipient_id = ? AND a.id < ? ORDER BY a.id DESC LIMIT ?",
        )
        .bind(user.get())
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(3)?;
                let post: i64 = r.try_get(4)?;
                let comment: i64 = r.try_get(5)?;
                let read: Option<i64> = r.try_get(7)?;
                Ok(ActivityRecord {
                    id: r.try_get(0)?,
                    actor_id: UserId::new(r.try_get(1)?),
                    actor_name: r.try_get(2)?,
                    kind: ActivityKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("activity kind {kind}")))?,
                    post_id: (post != 0).then_some(post),
                    comment_id: (comment != 0).then_some(comment),
                    created_at: Timestamp::from_millis(r.try_get(6)?),
                    read: read.is_some(),
                })
            })
            .collect()
    }

    /// How many of `user`'s activities are unread.
    pub async fn unread_activities(&self, user: UserId) -> Result<i64, StoreError> {
        let n = sqlx::query_scalar(
            "SELECT COUNT(*) FROM activities WHERE recipient_id = ? AND read_at IS NULL",
        )
        .bind(user.get())
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// Marks `user`'s unread activities read (those up to an id, or all);
    /// answers how many changed.
    pub async fn mark_activities_read(
        &self,
        user: UserId,
        which: MarkRead,
    ) -> Result<u64, StoreError> {
        let up_to = match which {
            MarkRead::UpTo(id) => id,
            MarkRead::All => i64::MAX,
        };
        let changed = sqlx::query(
            "UPDATE activities SET read_at = ? \
             WHERE recipient_id = ? AND id <= ? AND read_at IS NULL",
        )
        .bind(Timestamp::now().millis())
        .bind(user.get())
        .bind(up_to)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed)
    }
}
