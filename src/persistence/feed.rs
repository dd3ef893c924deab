//! The newsfeed, fanned out on read: nothing is copied per follower on
//! write (see docs/community.md for why). A `following` page by date takes
//! its ids from the feed index in memory (`feed_index.rs`) and reads their
//! rows by primary key; every other page (and one reaching past what the
//! index holds) is chosen in SQL over the `posts_feed` index.

use super::posts::{NOT_BLOCKED, POST_COLUMNS, PostRecord, post_from};
use super::{Store, StoreError};
use crate::domain::feed::{FeedPosition, FeedScope};
use crate::domain::ids::UserId;

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    pub posts: Vec<PostRecord>,
    /// More posts follow in this order.
    pub more: bool,
    /// The likes order's set bound this page used (the newest post id when
    /// a first page fixed it); 0 by date.
    pub bound: i64,
}

impl Store {
    /// The newest post id now (0 without posts): a likes feed's set bound.
    async fn newest_post_id(&self) -> Result<i64, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM posts")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    /// Up to `limit` posts of `scope` after `at`, as `viewer` may see them
    /// (`following` needs a viewer: the caller checks).
    pub async fn feed(
        &self,
        viewer: Option<UserId>,
        scope: FeedScope,
        at: &FeedPosition,
        limit: u32,
    ) -> Result<FeedPage, StoreError> {
        if let (FeedScope::Following, Some(reader), FeedPosition::ByDate { before }) =
            (scope, viewer, at)
        {
            let before = before.unwrap_or(i64::MAX);
            let take = limit as usize + 1;
            if let Some(ids) = self.following_page_ids(reader, before, take).await? {
                return self.page_of(&ids, limit).await;
            }
        }
        let viewer = viewer.map_or(0, UserId::get);
        // The ids of the page first (from indexes alone where it can: see
        // migration 0014), then their rows: sorting candidates with their
        // bodies would make MariaDB sort on disk.
        // Each scope names its authors so that MariaDB starts from the
        // right table: `all` walks the posts by id or likes and skips
        // withdrawn authors (few, by `users_withdrawn`); `following` starts
        // from the reader's follows.
        let mut ids = format!(
            "SELECT p.id FROM posts p \
             WHERE p.deleted_at IS NULL AND p.hidden_at IS NULL AND {NOT_BLOCKED}"
        );
        let mut binds = vec![viewer];
        match scope {
            FeedScope::All => ids.push_str(
                " AND p.author_id NOT IN \
                 (SELECT w.id FROM users w WHERE w.deleted_at IS NOT NULL)",
            ),
            FeedScope::Following => {
                ids.push_str(
                    " AND p.author_id IN (SELECT f.followee_id FROM follows f \
                     JOIN users fu ON fu.id = f.followee_id \
                     WHERE f.follower_id = ? AND fu.deleted_at IS NULL)",
                );
                binds.push(viewer);
            }
        }
        let (bound, order) = match at {
            FeedPosition::ByDate { before } => {
                ids.push_str(" AND p.id < ?");
                binds.push(before.unwrap_or(i64::MAX));
                (0, "p.id DESC")
            }
            FeedPosition::ByLikes { bound, shown } => {
                let bound = match bound {
                    Some(b) => *b,
                    None => self.newest_post_id().await?,
                };
                ids.push_str(" AND p.id <= ?");
                binds.push(bound);
                if !shown.is_empty() {
                    let marks = vec!["?"; shown.len()].join(", ");
                    ids.push_str(&format!(" AND p.id NOT IN ({marks})"));
                    binds.extend_from_slice(shown);
                }
                (bound, "p.like_count DESC, p.id DESC")
            }
        };
        binds.push(i64::from(limit) + 1);
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM ({ids} ORDER BY {order} LIMIT ?) t \
             JOIN posts p ON p.id = t.id JOIN users u ON u.id = p.author_id ORDER BY {order}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut posts = rows.iter().map(post_from).collect::<Result<Vec<_>, _>>()?;
        let more = posts.len() > limit as usize;
        posts.truncate(limit as usize);
        Ok(FeedPage { posts, more, bound })
    }

    /// The rows of a date-ordered page whose ids (up to `limit` + 1, newest
    /// first) the feed index chose. A post deleted or hidden since is left
    /// out (its author's ids are dropped from the index at that commit).
    async fn page_of(&self, ids: &[i64], limit: u32) -> Result<FeedPage, StoreError> {
        let more = ids.len() > limit as usize;
        let ids = &ids[..ids.len().min(limit as usize)];
        if ids.is_empty() {
            return Ok(FeedPage {
                posts: Vec::new(),
                more,
                bound: 0,
            });
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM posts p JOIN users u ON u.id = p.author_id \
             WHERE p.id IN ({marks}) AND p.deleted_at IS NULL AND p.hidden_at IS NULL \
             ORDER BY p.id DESC"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let posts = rows.iter().map(post_from).collect::<Result<Vec<_>, _>>()?;
        Ok(FeedPage {
            posts,
            more,
            bound: 0,
        })
    }
}
