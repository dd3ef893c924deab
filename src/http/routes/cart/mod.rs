//! The buyer's cart: lines kept in the store (so they survive restarts),
//! shown with live prices and availability, and checked out into one order
//! through the same placing path as `POST /orders` (see [`checkout`]).
//! Mounted as the `/cart` scope, which spends from the caller's per-user
//! request budget.

pub mod checkout;
pub mod live;

use actix_web::{HttpResponse, delete, get, put, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::ids::SkuId;
use crate::domain::quantity::Quantity;
use crate::http::auth::Customer;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::CartSet;
use live::CartView;

/// Most lines a cart holds: what one order may have.
pub const MAX_LINES: usize = 50;
/// Most units of one SKU in a cart: what one order line may have.
pub const MAX_QUANTITY: i64 = 1_000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    /// 1 to 1,000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

/// The cart as it stands, priced and checked now.
pub(crate) async fn view(state: &AppState, customer: &Customer) -> Result<CartView, ApiError> {
    let lines: Vec<(SkuId, Quantity)> = state
        .store
        .cart(customer.id())
        .await?
        .into_iter()
        .map(|l| (l.sku, l.quantity))
        .collect();
    Ok(CartView::new(&live::inspect(state, &lines).await?))
}

/// The caller's cart, oldest line first, with each line's live price and
/// availability and whether it can be bought as it is.
#[utoipa::path(
    tag = "cart",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CartView),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`", body = Problem),
    )
)]
#[get("")]
pub async fn show(
    state: web::Data<AppState>,
    customer: Customer,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(view(&state, &customer).await?))
}

/// Puts a SKU in the cart with this quantity, or changes the quantity of
/// its line; answers the whole cart. The SKU must be sold (on a live
/// product); whether it is in stock is shown, not required.
#[utoipa::path(
    tag = "cart",
    security(("bearer" = [])),
    params(("sku_id" = i64, Path, description = "SKU id")),
    request_body = SetQuantity,
    responses(
        (status = 200, description = "The cart after the change", body = CartView),
        (status = 400, description = "`VALIDATION_FAILED`: quantity outside 1..=1,000", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown SKU, or its product is gone", body = Problem),
        (status = 409, description = "`LIMIT_REACHED`: the cart holds 50 lines already", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`", body = Problem),
    )
)]
#[put("/items/{sku_id}")]
pub async fn set_item(
    state: web::Data<AppState>,
    customer: Customer,
    sku_id: web::Path<i64>,
    body: web::Json<SetQuantity>,
) -> Result<HttpResponse, ApiError> {
    let sku = SkuId::new(sku_id.into_inner());
    if body.quantity > MAX_QUANTITY {
        return Err(ApiError::Validation(format!(
            "quantity: at most {MAX_QUANTITY} per line"
        )));
    }
    let quantity = Quantity::new(body.quantity)?;
    let sold = state
        .store
        .sku_offers(&[sku])
        .await?
        .iter()
        .any(|o| !o.seller_withdrawn);
    if !sold {
        return Err(ApiError::NotFound(format!("SKU {sku} is not sold")));
    }
    match state
        .store
        .cart_set(customer.id(), sku, quantity, MAX_LINES)
        .await?
    {
        CartSet::Added | CartSet::Changed => {}
        CartSet::Full => {
            return Err(ApiError::LimitReached(format!(
                "the cart holds {MAX_LINES} lines already"
            )));
        }
    }
    Ok(HttpResponse::Ok().json(view(&state, &customer).await?))
}

/// Takes a SKU out of the cart; 204 whether or not it was there.
#[utoipa::path(
    tag = "cart",
    security(("bearer" = [])),
    params(("sku_id" = i64, Path, description = "SKU id")),
    responses(
        (status = 204, description = "Not in the cart (any more)"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/items/{sku_id}")]
pub async fn remove_item(
    state: web::Data<AppState>,
    customer: Customer,
    sku_id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .cart_remove(customer.id(), SkuId::new(sku_id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Empties the cart.
#[utoipa::path(
    tag = "cart",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The cart is empty"),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("")]
pub async fn clear(
    state: web::Data<AppState>,
    customer: Customer,
) -> Result<HttpResponse, ApiError> {
    state.store.cart_clear(customer.id()).await?;
    Ok(HttpResponse::NoContent().finish())
}
