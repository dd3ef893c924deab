//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::rate_limit::PublicRead;
use crate::http::{ApiError, AppState};

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "ops", responses((status = 200, body = Health)))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers, write-behind batches are committing, and no other
/// process has taken the store over; in cluster mode, NATS is reachable too
/// (whether or not this node owns shards).
#[utoipa::path(tag = "ops", responses(
    (status = 200, body = Health),
    (status = 429, description = "`RATE_LIMITED`: the client IP's public-read budget is spent", body = crate::http::problem::Problem),
    (status = 503, description = "`UNAVAILABLE`", body = crate::http::problem::Problem),
))]
#[get("/health/ready")]
pub async fn ready(
    _budget: PublicRead,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.store.ping().await?;
    if let Some(fenced) = state.store.fenced() {
        return Err(ApiError::Store(fenced));
    }
    if let Some(cluster) = &state.cluster
        && !cluster.reaches_nats()
    {
        return Err(ApiError::Unavailable("NATS is unreachable"));
    }
    if !state.inventory.is_writing() {
        return Err(ApiError::Inventory(
            crate::actors::InventoryError::Unavailable,
        ));
    }
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
}
