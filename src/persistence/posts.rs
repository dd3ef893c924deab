//! Community posts: write, edit, soft-delete, read one, list one author's.
//! Counters on the row (`like_count`, `comment_count`) are written by the
//! batches and transactions that write what they count, never here.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};
use crate::domain::ids::UserId;
use crate::domain::post::PostBody;
use crate::domain::time::Timestamp;

/// A post as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRecord {
    pub id: i64,
    pub author_id: UserId,
    pub author_name: String,
    pub body: String,
    pub like_count: i64,
    pub comment_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Hidden by an admin (only admins are ever shown such a post).
    pub hidden: bool,
}

/// The columns [`post_from`] reads, over `posts p JOIN users u`.
pub(crate) const POST_COLUMNS: &str = "p.id, p.author_id, u.name, p.body, p.like_count, \
     p.comment_count, p.created_at, p.updated_at, p.hidden_at";

/// Leaves out authors the viewer (bound as the next parameter; 0 for
/// nobody) blocked.
pub(crate) const NOT_BLOCKED: &str =
    "NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ? AND b.blocked_id = p.author_id)";

pub(crate) fn post_from(r: &AnyRow) -> Result<PostRecord, StoreError> {
    let hidden: Option<i64> = r.try_get(8)?;
    Ok(PostRecord {
        id: r.try_get(0)?,
        author_id: UserId::new(r.try_get(1)?),
        author_name: r.try_get(2)?,
        body: r.try_get(3)?,
        like_count: r.try_get(4)?,
        comment_count: r.try_get(5)?,
        created_at: Timestamp::from_millis(r.try_get(6)?),
        updated_at: Timestamp::from_millis(r.try_get(7)?),
        hidden: hidden.is_some(),
    })
}

/// What an edit or a delete of a post did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostChange {
    Done(Option<PostRecord>),
    /// No visible post has this id.
    NotFound,
    /// The caller may not change it.
    NotAllowed,
}

impl Store {
    /// Writes `author`'s post.
    pub async fn create_post(
        &self,
        author: UserId,
        body: &PostBody,
    ) -> Result<PostRecord, StoreError> {
        let now = Timestamp::now();
        let id = self
            .insert_returning_id(
                sqlx::query(
                    "INSERT INTO posts (author_id, body, created_at, updated_at) \
                     VALUES (?, ?, ?, ?)",
                )
                .bind(author.get())
                .bind(body.as_str().to_string())
                .bind(now.millis())
                .bind(now.millis()),
            )
            .await?;
        self.feed_posts_changed(author);
        self.post(id, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("post {id} vanished after its insert")))
    }

    /// Post `id` if visible; hidden ones too when `with_hidden` (admins).
    /// Deleted posts and posts of withdrawn authors are never answered.
    pub async fn post(&self, id: i64, with_hidden: bool) -> Result<Option<PostRecord>, StoreError> {
        let sql = if with_hidden {
            "SELECT p.id, p.author_id, u.name, p.body, p.like_count, p.comment_count, \
             p.created_at, p.updated_at, p.hidden_at \
             FROM posts p JOIN users u ON u.id = p.author_id \
             WHERE p.id = ? AND p.deleted_at IS NULL AND u.deleted_at IS NULL"
        } else {
            "SELECT p.id, p.author_id, u.name, p.body, p.like_count, p.comment_count, \
             p.created_at, p.updated_at, p.hidden_at \
             FROM posts p JOIN users u ON u.id = p.author_id \
             WHERE p.id = ? AND p.deleted_at IS NULL AND p.hidden_at IS NULL \
             AND u.deleted_at IS NULL"
        };
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(post_from).transpose()
    }

    /// Replaces the body of `author`'s visible post `id`.
    pub async fn edit_post(
        &self,
        id: i64,
        author: UserId,
        body: &PostBody,
    ) -> Result<PostChange, StoreError> {
        let Some(post) = self.post(id, false).await? else {
            return Ok(PostChange::NotFound);
        };
        if post.author_id != author {
            return Ok(PostChange::NotAllowed);
        }
        let changed = sqlx::query(
            "UPDATE posts SET body = ?, updated_at = ? \
             WHERE id = ? AND deleted_at IS NULL AND hidden_at IS NULL",
        )
        .bind(body.as_str().to_string())
        .bind(Timestamp::now().millis())
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(PostChange::NotFound);
        }
        Ok(PostChange::Done(self.post(id, false).await?))
    }

    /// Soft-deletes post `id` when `by` wrote it or `by_admin`; admins may
    /// delete hidden posts too.
    pub async fn delete_post(
        &self,
        id: i64,
        by: UserId,
        by_admin: bool,
    ) -> Result<PostChange, StoreError> {
        let Some(post) = self.post(id, by_admin).await? else {
            return Ok(PostChange::NotFound);
        };
        if post.author_id != by && !by_admin {
            return Ok(PostChange::NotAllowed);
        }
        let changed =
            sqlx::query("UPDATE posts SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
                .bind(Timestamp::now().millis())
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected();
        self.feed_posts_changed(post.author_id);
        Ok(if changed == 0 {
            PostChange::NotFound
        } else {
            PostChange::Done(None)
        })
    }

    /// Whether `user` is an account that has not withdrawn.
    pub async fn user_is_active(&self, user: UserId) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = ? AND deleted_at IS NULL")
                .bind(user.get())
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    /// Up to `limit` of `author`'s visible posts older than `before`,
    /// newest first; none when `viewer` blocked the author.
    pub async fn posts_by_author(
        &self,
        author: UserId,
        viewer: Option<UserId>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<PostRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.author_id, u.name, p.body, p.like_count, p.comment_count, \
             p.created_at, p.updated_at, p.hidden_at \
             FROM posts p JOIN users u ON u.id = p.author_id \
             WHERE p.author_id = ? AND p.id < ? \
             AND p.deleted_at IS NULL AND p.hidden_at IS NULL AND u.deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM blocks b \
                             WHERE b.blocker_id = ? AND b.blocked_id = p.author_id) \
             ORDER BY p.id DESC LIMIT ?",
        )
        .bind(author.get())
        .bind(before.unwrap_or(i64::MAX))
        .bind(viewer.map_or(0, UserId::get))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post_from).collect()
    }
}
