//! Likes on posts and comments. Each post's (and comment's) likes are owned
//! by one counter actor: liking twice counts once, unliking what one does
//! not like is fine, and the answer goes out once the like is committed,
//! with the count as committed.

use actix_web::{HttpResponse, delete, put, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::counter::{Target, Toggle};
use crate::domain::ids::{CommentId, PostId};
use crate::http::auth::AuthUser;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};

/// The caller's like and the count, as committed.
#[derive(Serialize, ToSchema)]
pub struct LikeState {
    /// Whether the caller likes it now.
    pub liked: bool,
    pub like_count: i64,
}

async fn set_like(
    state: &AppState,
    caller: AuthUser,
    target: Target,
    on: bool,
) -> Result<HttpResponse, ApiError> {
    let toggle = Toggle::parse(target, caller.id, on).map_err(crate::actors::CounterError::from)?;
    let tally = state.toggle(target, toggle).await?;
    Ok(HttpResponse::Ok().json(LikeState {
        liked: tally.on,
        like_count: tally.count,
    }))
}

/// Likes a post (again: no change).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Post id")),
    responses(
        (status = 200, body = LikeState),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown, deleted or hidden post", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`: retry (a like is idempotent)", body = Problem),
    )
)]
#[put("/posts/{id}/like")]
pub async fn like_post(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let target = Target::Post(PostId::new(id.into_inner()));
    set_like(&state, caller, target, true).await
}

/// Takes back a like of a post (none: no change).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Post id")),
    responses(
        (status = 200, body = LikeState),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown, deleted or hidden post", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`: retry (an unlike is idempotent)", body = Problem),
    )
)]
#[delete("/posts/{id}/like")]
pub async fn unlike_post(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let target = Target::Post(PostId::new(id.into_inner()));
    set_like(&state, caller, target, false).await
}

/// Likes a comment (again: no change).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Comment id")),
    responses(
        (status = 200, body = LikeState),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or deleted comment, or its post is deleted or hidden", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`: retry (a like is idempotent)", body = Problem),
    )
)]
#[put("/comments/{id}/like")]
pub async fn like_comment(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let target = Target::Comment(CommentId::new(id.into_inner()));
    set_like(&state, caller, target, true).await
}

/// Takes back a like of a comment (none: no change).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Comment id")),
    responses(
        (status = 200, body = LikeState),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or deleted comment, or its post is deleted or hidden", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`: retry (an unlike is idempotent)", body = Problem),
    )
)]
#[delete("/comments/{id}/like")]
pub async fn unlike_comment(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let target = Target::Comment(CommentId::new(id.into_inner()));
    set_like(&state, caller, target, false).await
}
