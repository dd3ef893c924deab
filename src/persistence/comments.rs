//! Comments on posts. Writing or deleting one updates its post's
//! `comment_count` in the same transaction, and a comment on someone
//! else's post notifies them (an `activities` row of kind `commented`).

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};
use crate::domain::activity::ActivityKind;
use crate::domain::ids::UserId;
use crate::domain::post::CommentBody;
use crate::domain::time::Timestamp;

/// A comment as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRecord {
    pub id: i64,
    pub post_id: i64,
    pub author_id: UserId,
    pub author_name: String,
    pub body: String,
    pub like_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn comment_from(r: &AnyRow) -> Result<CommentRecord, StoreError> {
    Ok(CommentRecord {
        id: r.try_get(0)?,
        post_id: r.try_get(1)?,
        author_id: UserId::new(r.try_get(2)?),
        author_name: r.try_get(3)?,
        body: r.try_get(4)?,
        like_count: r.try_get(5)?,
        created_at: Timestamp::from_millis(r.try_get(6)?),
        updated_at: Timestamp::from_millis(r.try_get(7)?),
    })
}

/// What a comment write, edit or delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentChange {
    Done(Option<CommentRecord>),
    /// No visible post (or live comment on one) has this id.
    NotFound,
    /// The caller may not change it.
    NotAllowed,
}

/// A comment handed to the comment writer: written in a batch with every
/// other comment that queued while the previous batch committed.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub post: i64,
    pub author: UserId,
    pub body: CommentBody,
    pub at: Timestamp,
}

/// Counts `n` more comments on visible post `post` inside `tx` and answers
/// its author; `None` when no visible post has that id. The counter's
/// update comes first so the transaction takes the post row's write lock
/// before the comments' foreign keys read it: taking the read lock first
/// and upgrading would deadlock two concurrent writers on MariaDB.
async fn count_comments(
    tx: &mut sqlx::AnyConnection,
    post: i64,
    n: i64,
) -> Result<Option<i64>, StoreError> {
    let counted = sqlx::query(
        "UPDATE posts SET comment_count = comment_count + ? \
         WHERE id = ? AND deleted_at IS NULL AND hidden_at IS NULL \
         AND author_id IN (SELECT u.id FROM users u WHERE u.deleted_at IS NULL)",
    )
    .bind(n)
    .bind(post)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if counted == 0 {
        return Ok(None);
    }
    let author = sqlx::query_scalar("SELECT author_id FROM posts WHERE id = ?")
        .bind(post)
        .fetch_one(&mut *tx)
        .await?;
    Ok(Some(author))
}

impl Store {
    /// Writes `comments` in one transaction: each post's count moves once
    /// by its number of new comments, and each comment on someone else's
    /// post notifies its author. Answers each comment's id, in order, or
    /// `None` for one on a post that is not visible (nothing written).
    pub async fn write_comments(
        &self,
        comments: &[&NewComment],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        // Posts in ascending order, so two transactions never lock them
        // crosswise.
        let mut per_post: BTreeMap<i64, i64> = BTreeMap::new();
        for c in comments {
            *per_post.entry(c.post).or_default() += 1;
        }
        let mut tx = self.begin_write().await?;
        let mut authors = BTreeMap::new();
        for (post, n) in per_post {
            authors.insert(post, count_comments(&mut tx, post, n).await?);
        }
        let mut ids = Vec::with_capacity(comments.len());
        for c in comments {
            let Some(&Some(post_author)) = authors.get(&c.post) else {
                ids.push(None);
                continue;
            };
            let insert = sqlx::query(
                "INSERT INTO comments (post_id, author_id, body, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(c.post)
            .bind(c.author.get())
            .bind(c.body.as_str().to_string())
            .bind(c.at.millis())
            .bind(c.at.millis());
            let id = self.insert_on(&mut tx, insert).await?;
            if post_author != c.author.get() {
                sqlx::query(
                    "INSERT INTO activities (recipient_id, actor_id, kind, post_id, comment_id, \
                     created_at) VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(post_author)
                .bind(c.author.get())
                .bind(ActivityKind::Commented.as_str())
                .bind(c.post)
                .bind(id)
                .bind(c.at.millis())
                .execute(&mut *tx)
                .await?;
            }
            ids.push(Some(id));
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Live comment `id` on a visible post.
    pub async fn comment(&self, id: i64) -> Result<Option<CommentRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT c.id, c.post_id, c.author_id, u.name, c.body, c.like_count, c.created_at, \
             c.updated_at FROM comments c JOIN users u ON u.id = c.author_id \
             JOIN posts p ON p.id = c.post_id JOIN users pu ON pu.id = p.author_id \
             WHERE c.id = ? AND c.deleted_at IS NULL AND p.deleted_at IS NULL \
             AND p.hidden_at IS NULL AND pu.deleted_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(comment_from).transpose()
    }

    /// Up to `limit` live comments on `post` after comment `after`, oldest
    /// first, leaving out authors `viewer` blocked and withdrawn ones.
    pub async fn comments(
        &self,
        post: i64,
        viewer: Option<UserId>,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<CommentRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.post_id, c.author_id, u.name, c.body, c.like_count, c.created_at, \
             c.updated_at FROM comments c JOIN users u ON u.id = c.author_id \
             WHERE c.post_id = ? AND c.id > ? AND c.deleted_at IS NULL \
             AND u.deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM blocks b \
                             WHERE b.blocker_id = ? AND b.blocked_id = c.author_id) \
             ORDER BY c.id LIMIT ?",
        )
        .bind(post)
        .bind(after.unwrap_or(0))
        .bind(viewer.map_or(0, UserId::get))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(comment_from).collect()
    }

    /// Replaces the body of `author`'s comment `id`.
    pub async fn edit_comment(
        &self,
        id: i64,
        author: UserId,
        body: &CommentBody,
    ) -> Result<CommentChange, StoreError> {
        let Some(comment) = self.comment(id).await? else {
            return Ok(CommentChange::NotFound);
        };
        if comment.author_id != author {
            return Ok(CommentChange::NotAllowed);
        }
        let changed = sqlx::query(
            "UPDATE comments SET body = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(body.as_str().to_string())
        .bind(Timestamp::now().millis())
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(CommentChange::NotFound);
        }
        Ok(CommentChange::Done(self.comment(id).await?))
    }

    /// Soft-deletes comment `id` when `by` wrote it or the post, or
    /// `by_admin`, and takes it off its post's count in the same
    /// transaction (once, however many deletes race).
    pub async fn delete_comment(
        &self,
        id: i64,
        by: UserId,
        by_admin: bool,
    ) -> Result<CommentChange, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT c.post_id, c.author_id, p.author_id FROM comments c \
             JOIN posts p ON p.id = c.post_id JOIN users pu ON pu.id = p.author_id \
             WHERE c.id = ? AND c.deleted_at IS NULL AND p.deleted_at IS NULL \
             AND p.hidden_at IS NULL AND pu.deleted_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(CommentChange::NotFound);
        };
        let (post, author, post_author): (i64, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        if by.get() != author && by.get() != post_author && !by_admin {
            return Ok(CommentChange::NotAllowed);
        }
        let changed =
            sqlx::query("UPDATE comments SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
                .bind(Timestamp::now().millis())
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed == 0 {
            return Ok(CommentChange::NotFound);
        }
        sqlx::query("UPDATE posts SET comment_count = comment_count - 1 WHERE id = ?")
            .bind(post)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(CommentChange::Done(None))
    }
}
