//! Reporting posts to the admins (once per member per post) and the
//! admins' queue: hide the post (it disappears for everyone but admins)
//! or dismiss the report.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cursor_query::{CursorQuery, next_cursor};
use super::posts::no_post;
use crate::domain::ids::{PostId, UserId};
use crate::domain::moderation::{ReportAction, ReportReason};
use crate::domain::time::Timestamp;
use crate::http::auth::{Admin, AuthUser};
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::{ReportAdd, ReportRecord, ReportResolve};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// 1 to 500 characters.
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReportFiled {
    pub id: i64,
    pub post_id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ReportView {
    pub id: i64,
    pub post_id: i64,
    pub post_author_id: UserId,
    pub post_body: String,
    pub reporter_id: UserId,
    pub reason: String,
    pub created_at: Timestamp,
}

impl From<ReportRecord> for ReportView {
    fn from(r: ReportRecord) -> Self {
        Self {
            id: r.id,
            post_id: r.post_id,
            post_author_id: r.post_author_id,
            post_body: r.post_body,
            reporter_id: r.reporter_id,
            reason: r.reason,
            created_at: r.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReportPage {
    pub items: Vec<ReportView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub action: ReportAction,
}

#[derive(Serialize, ToSchema)]
pub struct Resolved {
    pub id: i64,
    pub action: ReportAction,
}

/// Reports a post to the admins.
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Post id")),
    request_body = ReportRequest,
    responses(
        (status = 201, body = ReportFiled),
        (status = 400, description = "`VALIDATION_FAILED`: empty or too long reason", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown, deleted or hidden post", body = Problem),
        (status = 409, description = "`CONFLICT`: the caller reported this post already", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[post("/posts/{id}/reports")]
pub async fn report(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Json<ReportRequest>,
) -> Result<HttpResponse, ApiError> {
    let post = id.into_inner();
    let reason = ReportReason::parse(&body.reason)?;
    match state.store.report_post(post, user.id, &reason).await? {
        ReportAdd::Added(id) => Ok(HttpResponse::Created().json(ReportFiled { id, post_id: post })),
        ReportAdd::NoSuchPost => Err(no_post(post)),
        ReportAdd::AlreadyReported => Err(ApiError::Conflict(
            "you have reported this post already".into(),
        )),
    }
}

/// Open reports, oldest first.
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(CursorQuery),
    responses(
        (status = 200, body = ReportPage),
        (status = 400, description = "`VALIDATION_FAILED`: bad cursor or limit", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: admins only", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/admin/reports")]
pub async fn open(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<CursorQuery>,
) -> Result<HttpResponse, ApiError> {
    let (after, limit) = query.parse()?;
    let mut items = state.store.open_reports(after, limit.probe()).await?;
    let next_cursor = next_cursor(&mut items, limit, |r| r.id);
    Ok(HttpResponse::Ok().json(ReportPage {
        items: items.into_iter().map(ReportView::from).collect(),
        next_cursor,
    }))
}

/// Resolves an open report: `hide` the post (closing all its open reports)
/// or `dismiss` this report.
#[utoipa::path(
    tag = "community",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Report id")),
    request_body = ResolveRequest,
    responses(
        (status = 200, body = Resolved),
        (status = 400, description = "`VALIDATION_FAILED`: unknown action", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: admins only", body = Problem),
        (status = 404, description = "`NOT_FOUND`: no such report", body = Problem),
        (status = 409, description = "`CONFLICT`: resolved already", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[post("/admin/reports/{id}/resolve")]
pub async fn resolve(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<i64>,
    body: web::Json<ResolveRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match state.store.resolve_report(id, body.action).await? {
        ReportResolve::Resolved { post } => {
            if body.action == ReportAction::Hide {
                // A hidden post takes no more likes, nor do its comments:
                // their live actors stop, new ones find the post hidden.
                state.forget_post(PostId::new(post));
            }
            Ok(HttpResponse::Ok().json(Resolved {
                id,
                action: body.action,
            }))
        }
        ReportResolve::NotFound => Err(ApiError::NotFound(format!("report {id} does not exist"))),
        ReportResolve::AlreadyResolved => Err(ApiError::Conflict(format!(
            "report {id} is resolved already"
        ))),
    }
}
