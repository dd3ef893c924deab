//! SKUs: live stock answered by each SKU's actor, and restocking by the
//! seller who owns it.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::actors::SkuSnapshot;
use crate::domain::ids::SkuId;
use crate::domain::quantity::Quantity;
use crate::http::auth::Seller;
use crate::http::problem::Problem;
use crate::http::rate_limit::PublicRead;
use crate::http::{ApiError, AppState};

/// Availability of one SKU, straight from the actor that owns its stock.
#[utoipa::path(
    tag = "catalog",
    params(("id" = i64, Path, description = "SKU id")),
    responses(
        (status = 200, body = SkuSnapshot),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the client IP's public-read budget is spent", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`", body = Problem),
    )
)]
#[get("/skus/{id}/availability")]
pub async fn availability(
    _budget: PublicRead,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let snapshot = state.stock.snapshot(SkuId::new(id.into_inner())).await?;
    Ok(HttpResponse::Ok().json(snapshot))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockRequest {
    /// Units to add, 1 to 1,000,000,000.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: i64,
}

/// The SKU's counters right after the restock.
#[derive(Serialize, ToSchema)]
pub struct RestockResponse {
    pub sku_id: SkuId,
    pub on_hand: i64,
    pub reserved: i64,
    pub sold: i64,
    pub available: i64,
}

/// Adds units to a SKU of one of the caller's live products. The SKU's actor
/// applies it; catalog reads are not affected (they never cache stock).
/// Not idempotent: each call adds `quantity` again.
#[utoipa::path(
    tag = "catalog",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "SKU id")),
    request_body = RestockRequest,
    responses(
        (status = 200, description = "Counters after the restock", body = RestockResponse),
        (status = 400, description = "`VALIDATION_FAILED` (quantity outside 1..=1,000,000,000, stock would overflow)", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not a seller, or not this SKU's seller", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown SKU or deleted product", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`", body = Problem),
    )
)]
#[post("/skus/{id}/restock")]
pub async fn restock(
    seller: Seller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<RestockRequest>,
) -> Result<HttpResponse, ApiError> {
    let sku = SkuId::new(id.into_inner());
    let quantity = Quantity::new(body.quantity)?;
    let (_, owner) = state
        .store
        .sku_product(sku)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("SKU {sku} does not exist")))?;
    if owner != seller.id() {
        return Err(ApiError::Forbidden(
            "only the seller of this product may restock it",
        ));
    }
    let levels = state.restock(sku, quantity).await?;
    Ok(HttpResponse::Ok().json(RestockResponse {
        sku_id: sku,
        on_hand: levels.on_hand,
        reserved: levels.reserved,
        sold: levels.sold,
        available: levels.available(),
    }))
}
