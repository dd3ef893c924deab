//! Blocking: a member hides another's posts and comments from everything
//! they read (the feed, author lists, comment lists). Idempotent both ways;
//! blocking oneself is refused.

use actix_web::{HttpResponse, delete, get, put, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::cursor_query::{CursorQuery, next_cursor};
use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;
use crate::http::auth::AuthUser;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::BlockRecord;

#[derive(Serialize, ToSchema)]
pub struct BlockedView {
    pub id: UserId,
    pub name: String,
    pub blocked_at: Timestamp,
}

impl From<BlockRecord> for BlockedView {
    fn from(b: BlockRecord) -> Self {
        Self {
            id: b.user_id,
            name: b.name,
            blocked_at: b.blocked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BlockPage {
    pub items: Vec<BlockedView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Blocks a member (again: no change).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The member to block")),
    responses(
        (status = 204, description = "Blocked"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: no such member", body = Problem),
        (status = 422, description = "`SELF_BLOCK`: the caller's own id", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[put("/users/{id}/block")]
pub async fn block(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let blocked = UserId::new(id.into_inner());
    if blocked == user.id {
        return Err(ApiError::SelfBlock);
    }
    if !state.store.user_is_active(blocked).await? {
        return Err(ApiError::NotFound(format!(
            "member {blocked} does not exist"
        )));
    }
    state.store.block(user.id, blocked).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Unblocks a member (not blocked: no change).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The member to unblock")),
    responses(
        (status = 204, description = "Not blocked (any more)"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/users/{id}/block")]
pub async fn unblock(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .unblock(user.id, UserId::new(id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The members the caller blocked, by id.
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(CursorQuery),
    responses(
        (status = 200, body = BlockPage),
        (status = 400, description = "`VALIDATION_FAILED`: bad cursor or limit", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/users/me/blocks")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<CursorQuery>,
) -> Result<HttpResponse, ApiError> {
    let (after, limit) = query.parse()?;
    let mut items = state.store.blocks(user.id, after, limit.probe()).await?;
    let next_cursor = next_cursor(&mut items, limit, |b| b.user_id.get());
    Ok(HttpResponse::Ok().json(BlockPage {
        items: items.into_iter().map(BlockedView::from).collect(),
        next_cursor,
    }))
}
