//! Live stock of a SKU, answered by its actor.

use actix_web::{HttpResponse, get, web};

use crate::actors::sku::SkuSnapshot;
use crate::domain::ids::SkuId;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};

/// Availability of one SKU, straight from the actor that owns its stock.
#[utoipa::path(
    tag = "catalog",
    params(("id" = i64, Path, description = "SKU id")),
    responses(
        (status = 200, body = SkuSnapshot),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`", body = Problem),
    )
)]
#[get("/skus/{id}/availability")]
pub async fn availability(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let snapshot = state.inventory.snapshot(SkuId(id.into_inner())).await?;
    Ok(HttpResponse::Ok().json(snapshot))
}
