//! Follows: follow and unfollow an account (idempotent, never oneself),
//! its followers and followings page by page, and its public counts. Each
//! account's followers are owned by one counter actor, as a post's likes.

use actix_web::{HttpResponse, delete, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::actors::CounterError;
use crate::domain::ValidationError;
use crate::domain::counter::{Target, Toggle};
use crate::domain::ids::UserId;
use crate::domain::page::PageRequest;
use crate::domain::time::Timestamp;
use crate::http::auth::AuthUser;
use crate::http::problem::Problem;
use crate::http::rate_limit::PublicRead;
use crate::http::{ApiError, AppState};
use crate::persistence::{FollowEntry, FollowSide, SocialCounts};

/// The caller's follow and the account's follower count, as committed.
#[derive(Serialize, ToSchema)]
pub struct FollowState {
    /// Whether the caller follows the account now.
    pub following: bool,
    pub follower_count: i64,
}

/// An account's public social figures.
#[derive(Serialize, ToSchema)]
pub struct SocialView {
    pub user_id: UserId,
    pub name: String,
    pub follower_count: i64,
    pub following_count: i64,
}

impl From<SocialCounts> for SocialView {
    fn from(s: SocialCounts) -> Self {
        Self {
            user_id: s.user_id,
            name: s.name,
            follower_count: s.follower_count,
            following_count: s.following_count,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FollowView {
    pub user_id: UserId,
    pub name: String,
    /// When the follow was made.
    pub since: Timestamp,
}

impl From<FollowEntry> for FollowView {
    fn from(e: FollowEntry) -> Self {
        Self {
            user_id: e.user_id,
            name: e.name,
            since: e.since,
        }
    }
}

/// One page of a followers or following list, by descending account id.
#[derive(Serialize, ToSchema)]
pub struct FollowPage {
    pub items: Vec<FollowView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FollowQuery {
    /// The `next_cursor` of the previous page; none for the first.
    pub cursor: Option<String>,
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A follow cursor: the last account id of the previous page.
fn parse_cursor(raw: Option<&str>) -> Result<Option<UserId>, ValidationError> {
    raw.map(|c| {
        c.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(UserId::new)
            .ok_or_else(|| ValidationError::new("cursor", "is not a cursor this list gave"))
    })
    .transpose()
}

async fn set_follow(
    state: &AppState,
    caller: AuthUser,
    followee: i64,
    on: bool,
) -> Result<HttpResponse, ApiError> {
    let target = Target::Account(UserId::new(followee));
    let toggle = Toggle::parse(target, caller.id, on).map_err(CounterError::from)?;
    let tally = state.toggle(target, toggle).await?;
    Ok(HttpResponse::Ok().json(FollowState {
        following: tally.on,
        follower_count: tally.count,
    }))
}

/// Follows an account (again: no change).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Account to follow")),
    responses(
        (status = 200, body = FollowState),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or withdrawn account", body = Problem),
        (status = 422, description = "`SELF_FOLLOW`: an account cannot follow itself", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`: retry (a follow is idempotent)", body = Problem),
    )
)]
#[put("/users/{id}/follow")]
pub async fn follow(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    set_follow(&state, caller, id.into_inner(), true).await
}

/// Unfollows an account (not followed: no change).
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Account to unfollow")),
    responses(
        (status = 200, body = FollowState),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or withdrawn account", body = Problem),
        (status = 422, description = "`SELF_FOLLOW`: an account cannot follow itself", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`: retry (an unfollow is idempotent)", body = Problem),
    )
)]
#[delete("/users/{id}/follow")]
pub async fn unfollow(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    set_follow(&state, caller, id.into_inner(), false).await
}

/// An account's name, follower count and following count.
#[utoipa::path(
    tag = "community",
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, body = SocialView),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or withdrawn account", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the client IP's public-read budget is spent", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/users/{id}/social")]
pub async fn social(
    _budget: PublicRead,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = UserId::new(id.into_inner());
    let counts = state
        .store
        .social_counts(user)
        .await?
        .ok_or_else(|| no_account(user))?;
    Ok(HttpResponse::Ok().json(SocialView::from(counts)))
}

fn no_account(user: UserId) -> ApiError {
    ApiError::NotFound(format!("account {user} does not exist"))
}

async fn page(
    state: &AppState,
    id: i64,
    side: FollowSide,
    query: &FollowQuery,
) -> Result<HttpResponse, ApiError> {
    let user = UserId::new(id);
    let before = parse_cursor(query.cursor.as_deref())?;
    // Same bounds as every other list.
    let size = PageRequest::new(None, query.limit)
        .map_err(|_| ValidationError::new("limit", "must be 1 to 100"))?
        .limit();
    if state.store.social_counts(user).await?.is_none() {
        return Err(no_account(user));
    }
    let items = state.store.follow_page(user, side, before, size).await?;
    let next_cursor = (items.len() as i64 == size)
        .then(|| items.last().map(|e| e.user_id.get().to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(FollowPage {
        items: items.into_iter().map(FollowView::from).collect(),
        next_cursor,
    }))
}

/// Who follows an account, by descending account id, a page at a time.
#[utoipa::path(
    tag = "community",
    params(("id" = i64, Path, description = "Account id"), FollowQuery),
    responses(
        (status = 200, body = FollowPage),
        (status = 400, description = "`VALIDATION_FAILED`: bad cursor or limit", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or withdrawn account", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the client IP's public-read budget is spent", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/users/{id}/followers")]
pub async fn followers(
    _budget: PublicRead,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<FollowQuery>,
) -> Result<HttpResponse, ApiError> {
    page(&state, id.into_inner(), FollowSide::Followers, &query).await
}

/// Whom an account follows, by descending account id, a page at a time.
#[utoipa::path(
    tag = "community",
    params(("id" = i64, Path, description = "Account id"), FollowQuery),
    responses(
        (status = 200, body = FollowPage),
        (status = 400, description = "`VALIDATION_FAILED`: bad cursor or limit", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or withdrawn account", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the client IP's public-read budget is spent", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/users/{id}/following")]
pub async fn following(
    _budget: PublicRead,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<FollowQuery>,
) -> Result<HttpResponse, ApiError> {
    page(&state, id.into_inner(), FollowSide::Following, &query).await
}
