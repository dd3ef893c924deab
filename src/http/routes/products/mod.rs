//! Products: sellers list, edit and withdraw them; anyone browses them.
//! Reads go through the catalog cache; live availability never does (it
//! comes from the SKU actors on every request).
//!
//! This module holds the handlers; what they take and answer (request
//! bodies with their validation, views, the listing query) is in `body.rs`.

mod body;
pub mod images;

pub use body::{
    CreateProductRequest, ListQuery, NewSkuRequest, PatchProductRequest, ProductList, ProductView,
    SaleRequest, SkuPricePatch, SkuView,
};

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use futures::future::try_join_all;
use std::sync::Arc;

use crate::domain::catalog::{Product, ProductFilter};
use crate::domain::category::{Category, CategoryId};
use crate::domain::ids::ProductId;
use crate::domain::page::PageRequest;
use crate::domain::role::Role;
use crate::http::auth::{AuthUser, Seller};
use crate::http::problem::Problem;
use crate::http::rate_limit::PublicRead;
use crate::http::{ApiError, AppState};
use crate::persistence::PatchOutcome;

/// Lists a new product with its SKUs (stock and sale rules included) in one
/// transaction.
#[utoipa::path(
    tag = "catalog",
    security(("bearer" = [])),
    request_body = CreateProductRequest,
    responses(
        (status = 201, description = "Created, with each SKU's live availability", body = ProductView, headers(("Location" = String, description = "The product's URL"))),
        (status = 400, description = "`VALIDATION_FAILED` (missing or malformed field, limits, duplicate `sku_code`, mixed currencies, inverted sale window)", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not a seller", body = Problem),
        (status = 404, description = "`NOT_FOUND`: no such `category_id`", body = Problem),
        (status = 409, description = "`CONFLICT`: a `sku_code` is taken", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`", body = Problem),
    )
)]
#[post("/products")]
pub async fn create(
    seller: Seller,
    state: web::Data<AppState>,
    body: web::Json<CreateProductRequest>,
) -> Result<HttpResponse, ApiError> {
    let named = match body.category_id {
        Some(id) => Some(existing_category(&state, id).await?.name),
        None => None,
    };
    let (product, rules) = body.parse(named.as_deref())?;
    let created = state
        .store
        .create_product(seller.id(), &product, rules)
        .await?;
    state.catalog.invalidate_listings();
    let view = with_availability(&state, &created).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/products/{}", created.id)))
        .json(view))
}

/// Lists live products, newest first (id descending), with the price range
/// of each.
#[utoipa::path(
    tag = "catalog",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of products", body = ProductList),
        (status = 400, description = "`VALIDATION_FAILED` (bad or unknown query parameter, `page` < 1, `page_size` outside 1..=100)", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the client IP's public-read budget is spent", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/products")]
pub async fn list(
    _budget: PublicRead,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter = ProductFilter::new(
        query.q.as_deref(),
        query.category.as_deref(),
        query.seller_id,
    )?
    .in_category(query.category_id.map(CategoryId::new));
    let page = PageRequest::new(query.page, query.page_size)?;
    let key = (filter, page);
    let found = match state.catalog.page(&key) {
        Some(found) => found,
        None => {
            let seen = state.catalog.generation();
            let found = Arc::new(state.store.list_products(&key.0, page).await?);
            state.catalog.put_page(seen, key, Arc::clone(&found));
            found
        }
    };
    Ok(HttpResponse::Ok().json(ProductList {
        items: found.items.clone(),
        page: page.page,
        page_size: page.page_size,
        total: found.total,
    }))
}

/// One live product with each SKU's live availability.
#[utoipa::path(
    tag = "catalog",
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product with each SKU's live availability", body = ProductView),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 404, description = "`NOT_FOUND` (unknown or deleted)", body = Problem),
        (status = 429, description = "`RATE_LIMITED`: the client IP's public-read budget is spent", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`", body = Problem),
    )
)]
#[get("/products/{id}")]
pub async fn detail(
    _budget: PublicRead,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let product = load(&state, ProductId::new(id.into_inner())).await?;
    Ok(HttpResponse::Ok().json(with_availability(&state, &product).await?))
}

/// Edits a product: name, description, category, SKU prices, sale rules.
/// Only its seller or an admin (moderation) may. Catalog fields change in
/// one transaction; sale rules then go to each SKU's actor. If that second
/// step fails (503) the catalog changes stay, and repeating the same PATCH
/// is safe.
#[utoipa::path(
    tag = "catalog",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Product id")),
    request_body = PatchProductRequest,
    responses(
        (status = 200, description = "The product as it is now", body = ProductView),
        (status = 400, description = "`VALIDATION_FAILED` (malformed or `null` field, limits, repeated SKU id)", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not this product's seller nor an admin", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown or deleted product, a SKU not of this product, or no such `category_id`", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`", body = Problem),
    )
)]
#[patch("/products/{id}")]
pub async fn update(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<PatchProductRequest>,
) -> Result<HttpResponse, ApiError> {
    refuse_customers(&user)?;
    let id = ProductId::new(id.into_inner());
    let (patch, rules) = body.parse()?;
    let product = load(&state, id).await?;
    may_manage(&user, &product)?;
    if let Some(Some(category)) = patch.category_id {
        existing_category(&state, category.get()).await?;
    }
    if let Some((sku, _)) = patch.prices.iter().find(|(s, _)| product.sku(*s).is_none()) {
        return Err(ApiError::NotFound(format!(
            "SKU {sku} is not part of product {id}"
        )));
    }
    if !patch.is_empty() {
        let outcome = state.store.update_product(id, &patch).await;
        // Invalidate even on failure: a commit whose reply was lost is a commit.
        state.catalog.invalidate(id);
        match outcome? {
            PatchOutcome::Updated => {}
            PatchOutcome::ProductMissing => return Err(product_not_found(id)),
            PatchOutcome::SkuMissing(sku) => {
                return Err(ApiError::NotFound(format!(
                    "SKU {sku} is not part of product {id}"
                )));
            }
        }
    }
    if let Some(rules) = rules {
        try_join_all(product.skus.iter().map(|s| state.set_rules(s.id, rules))).await?;
    }
    let product = load(&state, id).await?;
    Ok(HttpResponse::Ok().json(with_availability(&state, &product).await?))
}

/// Withdraws a product (soft delete): it disappears from listings, detail
/// and wishlists; orders and stock rows that refer to it stay intact. Its
/// images are deleted, rows and objects. Only its seller or an admin
/// (moderation) may.
#[utoipa::path(
    tag = "catalog",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Product id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: not this product's seller nor an admin", body = Problem),
        (status = 404, description = "`NOT_FOUND` (unknown or already deleted)", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/products/{id}")]
pub async fn remove(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    refuse_customers(&user)?;
    let id = ProductId::new(id.into_inner());
    let product = load(&state, id).await?;
    may_manage(&user, &product)?;
    let deleted = state.store.delete_product(id).await;
    state.catalog.invalidate(id);
    if !deleted? {
        return Err(product_not_found(id));
    }
    // Its images go with it: rows, then objects. Should this fail, the rows
    // of a product nobody can see stay behind, and nothing else.
    match state.store.take_product_images(id).await {
        Ok(images) => {
            state
                .media
                .remove(images.iter().flat_map(|i| i.keys()))
                .await;
        }
        Err(e) => tracing::warn!(product = %id, error = %e, "images of a deleted product kept"),
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A live product, from the cache or the store (then cached).
pub(crate) async fn load(state: &AppState, id: ProductId) -> Result<Arc<Product>, ApiError> {
    if let Some(product) = state.catalog.product(id) {
        return Ok(product);
    }
    let seen = state.catalog.generation();
    let product = Arc::new(
        state
            .store
            .product(id)
            .await?
            .ok_or_else(|| product_not_found(id))?,
    );
    state.catalog.put_product(seen, Arc::clone(&product));
    Ok(product)
}

/// The category `id`, or `404` when there is none.
async fn existing_category(state: &AppState, id: i64) -> Result<Category, ApiError> {
    state
        .store
        .category(CategoryId::new(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("category {id} does not exist")))
}

fn product_not_found(id: ProductId) -> ApiError {
    ApiError::NotFound(format!("product {id} does not exist"))
}

/// Customers never manage products, whichever product they name.
fn refuse_customers(user: &AuthUser) -> Result<(), ApiError> {
    match user.role {
        Role::Customer => Err(ApiError::Forbidden("this route is for sellers")),
        Role::Seller | Role::Admin => Ok(()),
    }
}

/// The product's own seller, or an admin moderating.
fn may_manage(user: &AuthUser, product: &Product) -> Result<(), ApiError> {
    match user.role {
        Role::Admin => Ok(()),
        Role::Seller if user.id == product.seller_id => Ok(()),
        _ => Err(ApiError::Forbidden(
            "only the seller of this product may change it",
        )),
    }
}

/// The product with every SKU's availability, asked of the actors at once.
async fn with_availability(state: &AppState, product: &Product) -> Result<ProductView, ApiError> {
    let live = try_join_all(product.skus.iter().map(|s| state.stock.snapshot(s.id))).await?;
    Ok(ProductView {
        id: product.id,
        seller_id: product.seller_id,
        name: product.name.clone(),
        description: product.description.clone(),
        category: product.category.clone(),
        category_id: product.category_id,
        created_at: product.created_at,
        updated_at: product.updated_at,
        skus: product
            .skus
            .iter()
            .zip(live)
            .map(|(s, availability)| SkuView {
                id: s.id,
                sku_code: s.sku_code.clone(),
                option: s.option.clone(),
                price: s.price,
                currency: s.currency,
                availability,
            })
            .collect(),
        images: product.images.clone(),
        rating: product.rating,
    })
}
