//! Reading the follow graph: an account's followers and followings page by
//! page, and its counts. The rows and counts are written only by the
//! counter writer ([`Store::write_memberships`]).

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;

/// One account in a followers or following list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowEntry {
    pub user_id: UserId,
    pub name: String,
    /// When the follow was made.
    pub since: Timestamp,
}

/// An account's public social figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialCounts {
    pub user_id: UserId,
    pub name: String,
    pub follower_count: i64,
    pub following_count: i64,
}

/// Which side of the graph a list reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowSide {
    /// Who follows the account.
    Followers,
    /// Whom the account follows.
    Following,
}

impl Store {
    /// A live (not withdrawn) account's name and counts.
    pub async fn social_counts(&self, user: UserId) -> Result<Option<SocialCounts>, StoreError> {
        let row = sqlx::query(
            "SELECT name, follower_count, following_count FROM users \
             WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(user.get())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SocialCounts {
                user_id: user,
                name: r.try_get(0)?,
                follower_count: r.try_get(1)?,
                following_count: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Up to `limit` accounts on `side` of `user`, by descending account id,
    /// starting below `before` (the last id of the previous page): a cursor
    /// on the key, so pages neither repeat nor skip while follows change.
    pub async fn follow_page(
        &self,
        user: UserId,
        side: FollowSide,
        before: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<FollowEntry>, StoreError> {
        let query = match side {
            FollowSide::Followers => {
                "SELECT f.follower_id, u.name, f.created_at FROM follows f \
                 JOIN users u ON u.id = f.follower_id \
                 WHERE f.followee_id = ? AND f.follower_id < ? AND u.deleted_at IS NULL \
                 ORDER BY f.follower_id DESC LIMIT ?"
            }
            FollowSide::Following => {
                "SELECT f.followee_id, u.name, f.created_at FROM follows f \
                 JOIN users u ON u.id = f.followee_id \
                 WHERE f.follower_id = ? AND f.followee_id < ? AND u.deleted_at IS NULL \
                 ORDER BY f.followee_id DESC LIMIT ?"
            }
        };
        let rows = sqlx::query(query)
            .bind(user.get())
            .bind(before.map_or(i64::MAX, UserId::get))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(FollowEntry {
                    user_id: UserId::new(r.try_get(0)?),
                    name: r.try_get(1)?,
                    since: Timestamp::from_millis(r.try_get(2)?),
                })
            })
            .collect()
    }
}
