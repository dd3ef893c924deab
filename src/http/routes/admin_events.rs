//! Operator views of the outbox: the relay's state, and the events
//! themselves as a feed (the way to read them when no broker is set).

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::ValidationError;
use crate::domain::events::CloudEvent;
use crate::events::OutboxView;
use crate::http::auth::Admin;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};

/// The outbox relay: broker state, backlog, lag, last error.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = OutboxView),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`", body = Problem),
    )
)]
#[get("/admin/outbox")]
pub async fn outbox(_admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.events.view())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Events after this outbox position; default 0 (from the oldest kept).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// 1 to 500; default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// One outbox event with its position and publication.
#[derive(Serialize, ToSchema)]
pub struct FeedEntry {
    /// Position in the outbox; pass the last one as `after` to read on.
    pub seq: i64,
    /// When the broker acknowledged it; null while it waits.
    pub published_at: Option<String>,
    /// The CloudEvents 1.0 envelope, as published.
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct Feed {
    pub events: Vec<FeedEntry>,
    /// `after` for the next page (the last `seq` here, or the one given).
    pub next_after: i64,
}

/// The outbox as a feed, oldest first, published or not.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(FeedQuery),
    responses(
        (status = 200, body = Feed),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`", body = Problem),
    )
)]
#[get("/admin/events")]
pub async fn feed(
    _admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ValidationError::new("after", "must be 0 or more").into());
    }
    let limit = query.limit.unwrap_or(100);
    let limit = u32::try_from(limit)
        .ok()
        .filter(|n| (1..=500).contains(n))
        .ok_or_else(|| ValidationError::new("limit", "must be from 1 to 500"))?;
    let rows = state.store.events_after(after, limit).await?;
    let source = state.events.source();
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        let envelope: CloudEvent<'_> = row.event.envelope(source);
        events.push(FeedEntry {
            seq: row.seq,
            published_at: row.published_at.map(|t| t.to_rfc3339()),
            event: serde_json::to_value(envelope).map_err(|e| ApiError::Internal(e.to_string()))?,
        });
    }
    let next_after = rows.last().map_or(after, |r| r.seq);
    Ok(HttpResponse::Ok().json(Feed { events, next_after }))
}
