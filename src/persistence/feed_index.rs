//! The `following` feed's page ids from memory: each reader's followees
//! (blocked and withdrawn accounts left out) and each author's live post
//! ids, newest first, loaded from the store on first use and dropped by
//! the store's own writes that change them (a post written, deleted or
//! hidden; a follow, block or withdrawal). A page is then a merge of about
//! a hundred short sorted lists in memory and one primary-key read of its
//! rows, where the same page in SQL made MariaDB walk and sort every post
//! of every followee (about 1.7 ms of database time per read on the seeded
//! community: the 1,000 reads/s target needed 1.7 cores for that alone).
//!
//! Only this process writes the store (`persistence/owner/`), so its own
//! writes are every change there is; each drops its entries after its
//! commit. Both maps are [`GuardedCache`]s, so a load that raced a write
//! never puts the old ids back.

use std::collections::HashMap;
use std::sync::Arc;

use super::guarded_cache::GuardedCache;
use super::{Store, StoreError};
use crate::domain::ids::UserId;

/// Post ids kept per author; an older page of a prolific author is read
/// from SQL.
const TIMELINE_CAP: usize = 200;
/// Readers (and authors) kept: bounds memory at a few tens of megabytes
/// whatever the community's size; an evicted one is read again.
const ENTRIES_MAX: usize = 200_000;

#[derive(Debug)]
pub struct FeedIndex {
    /// Reader → the accounts whose posts their `following` feed shows.
    followees: GuardedCache<i64, Arc<[i64]>>,
    /// Author → their live post ids.
    timelines: GuardedCache<i64, Arc<Timeline>>,
}

impl Default for FeedIndex {
    fn default() -> Self {
        Self {
            followees: GuardedCache::new(ENTRIES_MAX),
            timelines: GuardedCache::new(ENTRIES_MAX),
        }
    }
}

#[derive(Debug)]
struct Timeline {
    /// Live post ids, newest first.
    ids: Vec<i64>,
    /// Every live post of the author is in `ids` (fewer than the cap).
    complete: bool,
}

impl Store {
    /// Drops what the index holds about `reader`'s followees (a follow,
    /// an unfollow, a block or an unblock by `reader` committed).
    pub(crate) fn feed_followees_changed(&self, reader: UserId) {
        self.feed_index.followees.remove(&reader.get());
    }

    /// Drops `author`'s post ids (a post written, deleted or hidden).
    pub(crate) fn feed_posts_changed(&self, author: UserId) {
        self.feed_index.timelines.remove(&author.get());
    }

    /// An account withdrew: it leaves every reader's followees.
    pub(crate) fn feed_account_withdrawn(&self, user: UserId) {
        self.feed_index.followees.invalidate_all();
        self.feed_index.timelines.remove(&user.get());
    }

    /// The ids of up to `take` posts below `before` in `reader`'s
    /// `following` feed by date, newest first; `None` when the page
    /// reaches past what memory holds of a prolific author (the caller
    /// reads it from SQL).
    pub(crate) async fn following_page_ids(
        &self,
        reader: UserId,
        before: i64,
        take: usize,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        let followees = self.followees(reader.get()).await?;
        let timelines = self.timelines(&followees).await?;
        let mut ids = Vec::with_capacity(take * 2);
        for t in &timelines {
            let below = &t.ids[t.ids.partition_point(|&id| id >= before)..];
            if below.len() < take && !t.complete {
                return Ok(None);
            }
            ids.extend_from_slice(&below[..below.len().min(take)]);
        }
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.truncate(take);
        Ok(Some(ids))
    }

    async fn followees(&self, reader: i64) -> Result<Arc<[i64]>, StoreError> {
        let index = &self.feed_index;
        if let Some(f) = index.followees.get(&reader) {
            return Ok(f);
        }
        let seen = index.followees.generation();
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT f.followee_id FROM follows f JOIN users u ON u.id = f.followee_id \
             WHERE f.follower_id = ? AND u.deleted_at IS NULL AND f.followee_id NOT IN \
             (SELECT b.blocked_id FROM blocks b WHERE b.blocker_id = ?)",
        )
        .bind(reader)
        .bind(reader)
        .fetch_all(&self.pool)
        .await?;
        let ids: Arc<[i64]> = ids.into();
        index.followees.put(seen, reader, Arc::clone(&ids));
        Ok(ids)
    }

    /// The timelines of `authors`, the missing ones read in one query.
    async fn timelines(&self, authors: &[i64]) -> Result<Vec<Arc<Timeline>>, StoreError> {
        let index = &self.feed_index;
        let mut found = Vec::with_capacity(authors.len());
        let mut missing = Vec::new();
        for &a in authors {
            match index.timelines.get(&a) {
                Some(t) => found.push(t),
                None => missing.push(a),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let seen = index.timelines.generation();
        let marks = vec!["?"; missing.len()].join(", ");
        let sql = format!(
            "SELECT author_id, id FROM (SELECT author_id, id, ROW_NUMBER() OVER \
             (PARTITION BY author_id ORDER BY id DESC) AS n FROM posts \
             WHERE author_id IN ({marks}) AND deleted_at IS NULL AND hidden_at IS NULL) t \
             WHERE n <= ? ORDER BY author_id, id DESC"
        );
        let mut query = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql));
        for a in &missing {
            query = query.bind(*a);
        }
        let rows = query
            .bind(TIMELINE_CAP as i64)
            .fetch_all(&self.pool)
            .await?;
        let mut by_author: HashMap<i64, Vec<i64>> =
            missing.iter().map(|&a| (a, Vec::new())).collect();
        for (author, id) in rows {
            by_author.entry(author).or_default().push(id);
        }
        for (author, ids) in by_author {
            let timeline = Arc::new(Timeline {
                complete: ids.len() < TIMELINE_CAP,
                ids,
            });
            index.timelines.put(seen, author, Arc::clone(&timeline));
            found.push(timeline);
        }
        Ok(found)
    }
}
