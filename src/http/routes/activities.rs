//! The caller's activity notifications: someone followed them, liked their
//! post or comment, or commented on their post. Newest first, with an
//! unread count and marking read up to what the reader has seen.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cursor_query::{CursorQuery, next_cursor};
use super::posts::Author;
use crate::domain::activity::{ActivityKind, MarkRead};
use crate::domain::time::Timestamp;
use crate::http::auth::AuthUser;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::ActivityRecord;

#[derive(Serialize, ToSchema)]
pub struct ActivityView {
    pub id: i64,
    /// Who did it.
    pub actor: Author,
    pub kind: ActivityKind,
    /// The post it concerns (`null` for a follow).
    pub post_id: Option<i64>,
    /// The comment it concerns (a comment like, or the new comment).
    pub comment_id: Option<i64>,
    pub created_at: Timestamp,
    pub read: bool,
}

impl From<ActivityRecord> for ActivityView {
    fn from(a: ActivityRecord) -> Self {
        Self {
            id: a.id,
            actor: Author {
                id: a.actor_id,
                name: a.actor_name,
            },
            kind: a.kind,
            post_id: a.post_id,
            comment_id: a.comment_id,
            created_at: a.created_at,
            read: a.read,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActivityPage {
    pub items: Vec<ActivityView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkReadRequest {
    /// Mark activities with this id and older read.
    pub up_to: Option<i64>,
    /// `true` marks every activity read (instead of `up_to`).
    pub all: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct MarkedRead {
    /// Activities this call marked read.
    pub marked: u64,
    /// Unread activities left.
    pub unread: i64,
}

/// The caller's activities, newest first.
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(CursorQuery),
    responses(
        (status = 200, body = ActivityPage),
        (status = 400, description = "`VALIDATION_FAILED`: bad cursor or limit", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/users/me/activities")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<CursorQuery>,
) -> Result<HttpResponse, ApiError> {
    let (before, limit) = query.parse()?;
    let mut items = state
        .store
        .activities(user.id, before, limit.probe())
        .await?;
    let next_cursor = next_cursor(&mut items, limit, |a| a.id);
    Ok(HttpResponse::Ok().json(ActivityPage {
        items: items.into_iter().map(ActivityView::from).collect(),
        next_cursor,
    }))
}

/// How many of the caller's activities are unread.
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UnreadCount),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/users/me/activities/unread-count")]
pub async fn unread_count(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let unread = state.store.unread_activities(user.id).await?;
    Ok(HttpResponse::Ok().json(UnreadCount { unread }))
}

/// Marks the caller's activities read: up to an id, or all.
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    request_body = MarkReadRequest,
    responses(
        (status = 200, body = MarkedRead),
        (status = 400, description = "`VALIDATION_FAILED`: neither or both of `up_to` and `all: true`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[post("/users/me/activities/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<MarkReadRequest>,
) -> Result<HttpResponse, ApiError> {
    let which = MarkRead::parse(body.up_to, body.all)?;
    let marked = state.store.mark_activities_read(user.id, which).await?;
    let unread = state.store.unread_activities(user.id).await?;
    Ok(HttpResponse::Ok().json(MarkedRead { marked, unread }))
}
