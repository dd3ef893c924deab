//! The newsfeed: everyone's posts or those of the accounts the caller
//! follows, newest or most liked first, with a cursor that neither repeats
//! nor skips a post while new ones arrive (the rule per order is in
//! `domain::feed`). Blocked authors and hidden or deleted posts never show.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::posts::{PostPage, PostView};
use crate::domain::cursor::PageLimit;
use crate::domain::feed::{FeedPosition, FeedScope, FeedSort};
use crate::http::problem::Problem;
use crate::http::rate_limit::PublicRead;
use crate::http::viewer::Viewer;
use crate::http::{ApiError, AppState};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// `all` (default) or `following` (needs sign-in).
    pub scope: Option<FeedScope>,
    /// `date` (default, newest first) or `likes` (most liked first).
    pub sort: Option<FeedSort>,
    /// The `next_cursor` of the previous page, read with the same `sort`.
    pub cursor: Option<String>,
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// The newsfeed.
#[utoipa::path(
    tag = "community",
    params(FeedQuery),
    responses(
        (status = 200, body = PostPage),
        (status = 400, description = "`VALIDATION_FAILED`: bad scope, sort, cursor or limit", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`: `following` without sign-in, or a bad token", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/feed")]
pub async fn feed(
    _budget: PublicRead,
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = query.scope.unwrap_or_default();
    let sort = query.sort.unwrap_or_default();
    let at = FeedPosition::parse(sort, query.cursor.as_deref())?;
    let limit = PageLimit::parse(query.limit)?;
    if scope == FeedScope::Following && viewer.id().is_none() {
        return Err(ApiError::Unauthorized(
            "sign in to read the posts of the accounts you follow",
        ));
    }
    let page = state
        .store
        .feed(viewer.id(), scope, &at, limit.get())
        .await?;
    let ids: Vec<i64> = page.posts.iter().map(|p| p.id).collect();
    let next_cursor = at.next(&ids, page.more, page.bound);
    Ok(HttpResponse::Ok().json(PostPage {
        items: page.posts.into_iter().map(PostView::from).collect(),
        next_cursor,
    }))
}
