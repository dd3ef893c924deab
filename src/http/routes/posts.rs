//! Community posts: any signed-in member writes; the author edits; the
//! author or an admin deletes (softly); anyone reads a visible post and an
//! author's posts, newest first.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cursor_query::{CursorQuery, next_cursor};
use crate::domain::ids::{PostId, UserId};
use crate::domain::post::PostBody;
use crate::domain::role::Role;
use crate::domain::time::Timestamp;
use crate::http::auth::AuthUser;
use crate::http::problem::Problem;
use crate::http::rate_limit::PublicRead;
use crate::http::viewer::Viewer;
use crate::http::{ApiError, AppState};
use crate::persistence::{PostChange, PostRecord};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostRequest {
    /// 1 to 5,000 characters after trimming.
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct Author {
    pub id: UserId,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct PostView {
    pub id: i64,
    pub author: Author,
    pub body: String,
    pub like_count: i64,
    pub comment_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Hidden by an admin after a report (only admins see such a post).
    pub hidden: bool,
}

impl From<PostRecord> for PostView {
    fn from(p: PostRecord) -> Self {
        Self {
            id: p.id,
            author: Author {
                id: p.author_id,
                name: p.author_name,
            },
            body: p.body,
            like_count: p.like_count,
            comment_count: p.comment_count,
            created_at: p.created_at,
            updated_at: p.updated_at,
            hidden: p.hidden,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PostPage {
    pub items: Vec<PostView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

pub(crate) fn no_post(id: i64) -> ApiError {
    ApiError::NotFound(format!("post {id} does not exist"))
}

/// Writes a post.
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    request_body = PostRequest,
    responses(
        (status = 201, body = PostView),
        (status = 400, description = "`VALIDATION_FAILED`: empty or too long body", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[post("/posts")]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<PostRequest>,
) -> Result<HttpResponse, ApiError> {
    let text = PostBody::parse(&body.body)?;
    let post = state.store.create_post(user.id, &text).await?;
    Ok(HttpResponse::Created().json(PostView::from(post)))
}

/// One post. Hidden posts are shown to admins only; deleted ones to nobody.
#[utoipa::path(
    tag = "community",
    params(("id" = i64, Path, description = "Post id")),
    responses(
        (status = 200, body = PostView),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`: a bad token (omit it to read anonymously)", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown, deleted or hidden post", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/posts/{id}")]
pub async fn detail(
    _budget: PublicRead,
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let post = state
        .store
        .post(id, viewer.is_admin())
        .await?
        .ok_or_else(|| no_post(id))?;
    Ok(HttpResponse::Ok().json(PostView::from(post)))
}

/// Edits the caller's post.
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Post id")),
    request_body = PostRequest,
    responses(
        (status = 200, body = PostView),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not the author", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[patch("/posts/{id}")]
pub async fn edit(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<PostRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let text = PostBody::parse(&body.body)?;
    match state.store.edit_post(id, user.id, &text).await? {
        PostChange::Done(Some(post)) => Ok(HttpResponse::Ok().json(PostView::from(post))),
        PostChange::Done(None) | PostChange::NotFound => Err(no_post(id)),
        PostChange::NotAllowed => Err(ApiError::Forbidden("only the author edits a post")),
    }
}

/// Deletes a post (the author or an admin).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Post id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: neither the author nor an admin", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/posts/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match state
        .store
        .delete_post(id, user.id, user.role == Role::Admin)
        .await?
    {
        PostChange::Done(_) => {
            // Its like actors (the post's, its comments') stop now, not
            // when idle: a like after the delete activates afresh, finds
            // no post and is 404.
            state.forget_post(PostId::new(id));
            Ok(HttpResponse::NoContent().finish())
        }
        PostChange::NotFound => Err(no_post(id)),
        PostChange::NotAllowed => Err(ApiError::Forbidden(
            "only the author or an admin deletes a post",
        )),
    }
}

/// A member's posts, newest first (none of an author the caller blocked).
#[utoipa::path(
    tag = "community",
    params(("id" = i64, Path, description = "Author's user id"), CursorQuery),
    responses(
        (status = 200, body = PostPage),
        (status = 400, description = "`VALIDATION_FAILED`: bad cursor or limit", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`: a bad token", body = Problem),
        (status = 404, description = "`NOT_FOUND`: no such member", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/users/{id}/posts")]
pub async fn by_author(
    _budget: PublicRead,
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<i64>,
    query: web::Query<CursorQuery>,
) -> Result<HttpResponse, ApiError> {
    let author = UserId::new(id.into_inner());
    let (before, limit) = query.parse()?;
    if !state.store.user_is_active(author).await? {
        return Err(ApiError::NotFound(format!(
            "member {author} does not exist"
        )));
    }
    let mut posts = state
        .store
        .posts_by_author(author, viewer.id(), before, limit.probe())
        .await?;
    let next_cursor = next_cursor(&mut posts, limit, |p| p.id);
    Ok(HttpResponse::Ok().json(PostPage {
        items: posts.into_iter().map(PostView::from).collect(),
        next_cursor,
    }))
}
