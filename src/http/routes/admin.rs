//! Operator views of the live actor system.

use actix_web::{HttpResponse, get, web};

use crate::actors::counters::views::CountersOverview;
use crate::actors::orders::views::{SagaList, SagaView};
use crate::actors::stock::views::{ActorsOverview, SkuActorView};
use crate::domain::ids::SkuId;
use crate::http::auth::Admin;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};

/// Counts over all SKU actors and the persister.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ActorsOverview),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`", body = Problem),
    )
)]
#[get("/admin/actors")]
pub async fn actors(_admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.inventory.overview())
}

/// Counts over the community's counter actors (likes, followers) and
/// their writer.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CountersOverview),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`", body = Problem),
    )
)]
#[get("/admin/actors/counters")]
pub async fn counter_actors(_admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.counters.overview())
}

/// One SKU actor: stock, mailbox depth, unflushed decisions, restarts, flushes.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "SKU id")),
    responses(
        (status = 200, body = SkuActorView),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`", body = Problem),
    )
)]
#[get("/admin/actors/skus/{id}")]
pub async fn sku_actor(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let sku = SkuId::new(id.into_inner());
    let Some(cluster) = &state.cluster else {
        return Ok(HttpResponse::Ok().json(state.inventory.sku_view(sku).await?));
    };
    let view = if cluster.held().serves(sku) {
        let mut view = state.inventory.sku_view(sku).await?;
        view.owner_node = Some(cluster.me().to_string());
        view
    } else {
        let owner = cluster
            .directory()
            .owner(cluster.held().count().of_sku(sku))
            .ok_or(ApiError::Inventory(
                crate::actors::InventoryError::Unavailable,
            ))?;
        SkuActorView::elsewhere(state.stock.snapshot(sku).await?, owner)
    };
    Ok(HttpResponse::Ok().json(view))
}

/// Every running order saga (status, current step, retries, restarts),
/// and every live order whose saga could not be resumed, with the reason.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SagaList),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`", body = Problem),
    )
)]
#[get("/admin/sagas")]
pub async fn sagas(_admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.orders.sagas().await)
}

/// One order's saga: live state if it runs, its recorded state if not.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = SagaView),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
    )
)]
#[get("/admin/sagas/{order_id}")]
pub async fn saga(
    _admin: Admin,
    state: web::Data<AppState>,
    order_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(
        state
            .orders
            .saga_view(super::orders::order_path(&order_id)?)
            .await?,
    ))
}
