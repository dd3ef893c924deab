//! Comments on posts: any signed-in member comments on a visible post;
//! the comment's author edits it; its author, the post's author or an
//! admin deletes it. Lists read oldest first, so new comments only ever
//! add to the end and paging never repeats or skips one.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cursor_query::{CursorQuery, next_cursor};
use super::posts::{Author, no_post};
use crate::domain::counter::Target;
use crate::domain::ids::CommentId;
use crate::domain::post::CommentBody;
use crate::domain::role::Role;
use crate::domain::time::Timestamp;
use crate::http::auth::AuthUser;
use crate::http::problem::Problem;
use crate::http::rate_limit::PublicRead;
use crate::http::viewer::Viewer;
use crate::http::{ApiError, AppState};
use crate::persistence::{CommentChange, CommentRecord};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// 1 to 2,000 characters after trimming.
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct CommentView {
    pub id: i64,
    pub post_id: i64,
    pub author: Author,
    pub body: String,
    pub like_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<CommentRecord> for CommentView {
    fn from(c: CommentRecord) -> Self {
        Self {
            id: c.id,
            post_id: c.post_id,
            author: Author {
                id: c.author_id,
                name: c.author_name,
            },
            body: c.body,
            like_count: c.like_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CommentPage {
    pub items: Vec<CommentView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn no_comment(id: i64) -> ApiError {
    ApiError::NotFound(format!("comment {id} does not exist"))
}

/// Comments on a post; its author is notified (unless it is the caller).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Post id")),
    request_body = CommentRequest,
    responses(
        (status = 201, body = CommentView),
        (status = 400, description = "`VALIDATION_FAILED`: empty or too long body", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown, deleted or hidden post", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[post("/posts/{id}/comments")]
pub async fn add(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CommentRequest>,
) -> Result<HttpResponse, ApiError> {
    let post = id.into_inner();
    let text = CommentBody::parse(&body.body)?;
    let written = state.comments.add(post, user.id, text).await?;
    match written {
        Some(id) => match state.store.comment(id).await? {
            Some(c) => Ok(HttpResponse::Created().json(CommentView::from(c))),
            // Written, then its post went away before the read-back.
            None => Err(no_post(post)),
        },
        None => Err(no_post(post)),
    }
}

/// A post's comments, oldest first (none by members the caller blocked).
#[utoipa::path(
    tag = "community",
    params(("id" = i64, Path, description = "Post id"), CursorQuery),
    responses(
        (status = 200, body = CommentPage),
        (status = 400, description = "`VALIDATION_FAILED`: bad cursor or limit", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`: a bad token", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown, deleted or hidden post", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/posts/{id}/comments")]
pub async fn list(
    _budget: PublicRead,
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<i64>,
    query: web::Query<CursorQuery>,
) -> Result<HttpResponse, ApiError> {
    let post = id.into_inner();
    let (after, limit) = query.parse()?;
    if state.store.post(post, false).await?.is_none() {
        return Err(no_post(post));
    }
    let mut comments = state
        .store
        .comments(post, viewer.id(), after, limit.probe())
        .await?;
    let next_cursor = next_cursor(&mut comments, limit, |c| c.id);
    Ok(HttpResponse::Ok().json(CommentPage {
        items: comments.into_iter().map(CommentView::from).collect(),
        next_cursor,
    }))
}

/// Edits the caller's comment.
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Comment id")),
    request_body = CommentRequest,
    responses(
        (status = 200, body = CommentView),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not the comment's author", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[patch("/comments/{id}")]
pub async fn edit(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<CommentRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let text = CommentBody::parse(&body.body)?;
    match state.store.edit_comment(id, user.id, &text).await? {
        CommentChange::Done(Some(c)) => Ok(HttpResponse::Ok().json(CommentView::from(c))),
        CommentChange::Done(None) | CommentChange::NotFound => Err(no_comment(id)),
        CommentChange::NotAllowed => Err(ApiError::Forbidden("only the author edits a comment")),
    }
}

/// Deletes a comment (its author, the post's author, or an admin).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Comment id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not the comment's or the post's author, nor an admin", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/comments/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match state
        .store
        .delete_comment(id, user.id, user.role == Role::Admin)
        .await?
    {
        CommentChange::Done(_) => {
            state.forget_counter(Target::Comment(CommentId::new(id)));
            Ok(HttpResponse::NoContent().finish())
        }
        CommentChange::NotFound => Err(no_comment(id)),
        CommentChange::NotAllowed => Err(ApiError::Forbidden(
            "only the comment's author, the post's author or an admin deletes a comment",
        )),
    }
}
