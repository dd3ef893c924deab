//! Reports of posts to the admins, and their resolution: hiding the post
//! (which closes every open report of it) or dismissing one report.

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::ids::UserId;
use crate::domain::moderation::{ReportAction, ReportReason};
use crate::domain::time::Timestamp;

/// An open report as admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    pub id: i64,
    pub post_id: i64,
    pub post_author_id: UserId,
    pub post_body: String,
    pub reporter_id: UserId,
    pub reason: String,
    pub created_at: Timestamp,
}

/// What filing a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportAdd {
    Added(i64),
    /// No visible post has this id.
    NoSuchPost,
    /// This member reported this post already.
    AlreadyReported,
}

/// What resolving a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportResolve {
    /// Closed; `post` is the reported post (hidden, when the action was).
    Resolved {
        post: i64,
    },
    NotFound,
    AlreadyResolved,
}

impl Store {
    /// `reporter` reports visible post `post`, once.
    pub async fn report_post(
        &self,
        post: i64,
        reporter: UserId,
        reason: &ReportReason,
    ) -> Result<ReportAdd, StoreError> {
        if self.post(post, false).await?.is_none() {
            return Ok(ReportAdd::NoSuchPost);
        }
        let insert = sqlx::query(
            "INSERT INTO post_reports (post_id, reporter_id, reason, created_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(post)
        .bind(reporter.get())
        .bind(reason.as_str().to_string())
        .bind(Timestamp::now().millis());
        match self.insert_returning_id(insert).await {
            Ok(id) => Ok(ReportAdd::Added(id)),
            Err(StoreError::Database(e)) => match StoreError::unique(e, "report") {
                StoreError::Duplicate(_) => Ok(ReportAdd::AlreadyReported),
                other => Err(other),
            },
            Err(e) => Err(e),
        }
    }

    /// Up to `limit` open reports after report `after`, oldest first.
    pub async fn open_reports(
        &self,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ReportRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.post_id, p.author_id, p.body, r.reporter_id, r.reason, r.created_at \
             FROM post_reports r JOIN posts p ON p.id = r.post_id \
             WHERE r.resolved_at IS NULL AND r.id > ? ORDER BY r.id LIMIT ?",
        )
        .bind(after.unwrap_or(0))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReportRecord {
                    id: r.try_get(0)?,
                    post_id: r.try_get(1)?,
                    post_author_id: UserId::new(r.try_get(2)?),
                    post_body: r.try_get(3)?,
                    reporter_id: UserId::new(r.try_get(4)?),
                    reason: r.try_get(5)?,
                    created_at: Timestamp::from_millis(r.try_get(6)?),
                })
            })
            .collect()
    }

    /// Applies an admin's decision on open report `id`.
    pub async fn resolve_report(
        &self,
        id: i64,
        action: ReportAction,
    ) -> Result<ReportResolve, StoreError> {
        let now = Timestamp::now().millis();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT r.post_id, r.resolved_at, p.author_id \
             FROM post_reports r JOIN posts p ON p.id = r.post_id WHERE r.id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(ReportResolve::NotFound);
        };
        let post: i64 = row.try_get(0)?;
        let resolved: Option<i64> = row.try_get(1)?;
        let author = UserId::new(row.try_get(2)?);
        if resolved.is_some() {
            return Ok(ReportResolve::AlreadyResolved);
        }
        let closed = match action {
            ReportAction::Dismiss => {
                sqlx::query(
                    "UPDATE post_reports SET resolved_at = ?, resolution = ? \
                     WHERE id = ? AND resolved_at IS NULL",
                )
                .bind(now)
                .bind(action.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?
            }
            ReportAction::Hide => {
                sqlx::query("UPDATE posts SET hidden_at = ? WHERE id = ? AND hidden_at IS NULL")
                    .bind(now)
                    .bind(post)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE post_reports SET resolved_at = ?, resolution = ? \
                     WHERE post_id = ? AND resolved_at IS NULL",
                )
                .bind(now)
                .bind(action.as_str())
                .bind(post)
                .execute(&mut *tx)
                .await?
            }
        };
        if closed.rows_affected() == 0 {
            // Another admin closed it between the read and the update.
            return Ok(ReportResolve::AlreadyResolved);
        }
        tx.commit().await?;
        if action == ReportAction::Hide {
            self.feed_posts_changed(author);
        }
        Ok(ReportResolve::Resolved { post })
    }
}
