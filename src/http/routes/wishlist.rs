//! A customer's wishlist. Adding and removing are idempotent: adding answers
//! 201 the first time and 200 (same body) when the product is already there;
//! removing answers 204 whether or not it was there.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::catalog::ProductSummary;
use crate::domain::ids::ProductId;
use crate::domain::page::PageRequest;
use crate::domain::time::Timestamp;
use crate::http::auth::Customer;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::WishlistAdd;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WishlistQuery {
    /// From 1; default 1.
    #[param(minimum = 1, maximum = 4294967295_i64)]
    pub page: Option<i64>,
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct WishlistItem {
    pub product_id: ProductId,
    pub added_at: Timestamp,
    pub product: ProductSummary,
}

#[derive(Serialize, ToSchema)]
pub struct WishlistPage {
    pub items: Vec<WishlistItem>,
    pub page: u32,
    pub page_size: u32,
    pub total: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddToWishlist {
    pub product_id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct WishlistAdded {
    pub product_id: ProductId,
    /// When the product was first added.
    pub added_at: Timestamp,
}

/// The caller's wishlist, most recently added first. Deleted products are
/// left out.
#[utoipa::path(
    tag = "wishlist",
    security(("bearer" = [])),
    params(WishlistQuery),
    responses(
        (status = 200, description = "One page of the wishlist", body = WishlistPage),
        (status = 400, description = "`VALIDATION_FAILED` (bad or unknown query parameter)", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not a customer", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/wishlist")]
pub async fn list(
    customer: Customer,
    state: web::Data<AppState>,
    query: web::Query<WishlistQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(query.page, query.page_size)?;
    let (entries, total) = state.store.wishlist(customer.id(), page).await?;
    Ok(HttpResponse::Ok().json(WishlistPage {
        items: entries
            .into_iter()
            .map(|e| WishlistItem {
                product_id: e.product.id,
                added_at: e.added_at,
                product: e.product,
            })
            .collect(),
        page: page.page,
        page_size: page.page_size,
        total,
    }))
}

/// Adds a live product to the caller's wishlist: 201 when added, 200 when it
/// was already there.
#[utoipa::path(
    tag = "wishlist",
    security(("bearer" = [])),
    request_body = AddToWishlist,
    responses(
        (status = 201, description = "Added", body = WishlistAdded),
        (status = 200, description = "Already on the wishlist; nothing changed", body = WishlistAdded),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not a customer", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or deleted product", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[post("/wishlist")]
pub async fn add(
    customer: Customer,
    state: web::Data<AppState>,
    body: web::Json<AddToWishlist>,
) -> Result<HttpResponse, ApiError> {
    let product_id = ProductId::new(body.product_id);
    let (mut res, added_at) = match state.store.wishlist_add(customer.id(), product_id).await? {
        WishlistAdd::Added(at) => (HttpResponse::Created(), at),
        WishlistAdd::AlreadyThere(at) => (HttpResponse::Ok(), at),
        WishlistAdd::NoSuchProduct => {
            return Err(ApiError::NotFound(format!(
                "product {product_id} does not exist"
            )));
        }
    };
    Ok(res.json(WishlistAdded {
        product_id,
        added_at,
    }))
}

/// Removes a product from the caller's wishlist; 204 whether or not it was
/// there.
#[utoipa::path(
    tag = "wishlist",
    security(("bearer" = [])),
    params(("product_id" = i64, Path, description = "Product id")),
    responses(
        (status = 204, description = "Not on the wishlist (any more)"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not a customer", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/wishlist/{product_id}")]
pub async fn remove(
    customer: Customer,
    state: web::Data<AppState>,
    product_id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .wishlist_remove(customer.id(), ProductId::new(product_id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
