//! Products: sellers list, edit and withdraw them; anyone browses them.
//! Reads go through the catalog cache; live availability never does (it
//! comes from the SKU actors on every request).

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use futures::future::try_join_all;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use crate::actors::SkuSnapshot;
use crate::domain::ValidationError;
use crate::domain::catalog::{
    self, NewProduct, NewSku, Product, ProductFilter, ProductPatch, ProductSummary,
};
use crate::domain::ids::{ProductId, SkuId, UserId};
use crate::domain::money::{Currency, Price};
use crate::domain::page::PageRequest;
use crate::domain::quantity::Quantity;
use crate::domain::role::Role;
use crate::domain::rules::SaleRules;
use crate::domain::time::Timestamp;
use crate::http::auth::{AuthUser, Seller};
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::PatchOutcome;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    /// 1 to 200 characters.
    pub name: String,
    /// Up to 5000 characters; blank means none.
    #[serde(default)]
    pub description: Option<String>,
    /// 1 to 50 characters, matched exactly by the `category` filter.
    pub category: String,
    /// 1 to 100 SKUs with distinct `sku_code`s and one currency.
    #[schema(min_items = 1, max_items = 100)]
    pub skus: Vec<NewSkuRequest>,
    /// Sale window and per-buyer limit, applied to every SKU.
    #[serde(default)]
    pub sale: Option<SaleRequest>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSkuRequest {
    /// 1 to 64 characters, unique within the product.
    pub sku_code: String,
    /// The option label, e.g. "Black / 256GB": 1 to 100 characters.
    pub option: String,
    /// Minor units of `currency`, 0 to 10^12.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub price: i64,
    /// ISO 4217 code; `KRW` when absent.
    #[serde(default)]
    #[schema(example = "KRW", pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// Units on hand at creation, 0 to 1,000,000,000.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub stock: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleRequest {
    /// Purchases before this instant are refused with `NOT_ON_SALE`.
    #[serde(default)]
    pub opens_at: Option<Timestamp>,
    /// Purchases from this instant on are refused; after `opens_at`.
    #[serde(default)]
    pub closes_at: Option<Timestamp>,
    /// Units one buyer may hold at once, 1 to 1,000,000,000.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub per_user_limit: Option<i64>,
}

impl SaleRequest {
    fn rules(&self) -> Result<SaleRules, ValidationError> {
        let limit = self
            .per_user_limit
            .map(|n| Quantity::new(n).map(Quantity::get))
            .transpose()
            .map_err(|e| ValidationError::new("per_user_limit", e.reason))?;
        SaleRules::new(self.opens_at, self.closes_at, limit)
    }
}

/// Every field is optional; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchProductRequest {
    /// 1 to 200 characters; `null` is refused.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false)]
    pub name: Option<Option<String>>,
    /// `null` or blank clears the description.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Option<Option<String>>,
    /// 1 to 50 characters; `null` is refused.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false)]
    pub category: Option<Option<String>>,
    /// New prices of some of the product's SKUs, at most 100.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub skus: Vec<SkuPricePatch>,
    /// Replaces the sale rules of every SKU; `null` removes them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<SaleRequest>, nullable)]
    pub sale: Option<Option<SaleRequest>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkuPricePatch {
    /// A SKU of this product.
    pub id: i64,
    /// Minor units of the SKU's currency, 0 to 10^12.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub price: i64,
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A product with every SKU's live availability.
#[derive(Serialize, ToSchema)]
pub struct ProductView {
    pub id: ProductId,
    pub seller_id: UserId,
    pub name: String,
    pub description: Option<String>,
    pub category: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub skus: Vec<SkuView>,
}

#[derive(Serialize, ToSchema)]
pub struct SkuView {
    pub id: SkuId,
    pub sku_code: String,
    pub option: String,
    /// Minor units of `currency`.
    pub price: Price,
    pub currency: Currency,
    /// Live stock and sale rules, straight from the SKU's actor.
    pub availability: SkuSnapshot,
}

#[derive(Serialize, ToSchema)]
pub struct ProductList {
    pub items: Vec<ProductSummary>,
    pub page: u32,
    pub page_size: u32,
    /// Products matching the filters, over all pages.
    pub total: i64,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Case-insensitive substring of the name (at most 200 characters).
    pub q: Option<String>,
    /// Exact category.
    pub category: Option<String>,
    pub seller_id: Option<i64>,
    /// From 1; default 1.
    #[param(minimum = 1, maximum = 4294967295_i64)]
    pub page: Option<i64>,
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

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
    let req = body.into_inner();
    let skus = req
        .skus
        .iter()
        .enumerate()
        .map(|(i, s)| {
            NewSku::parse(
                &s.sku_code,
                &s.option,
                s.price,
                s.currency.as_deref(),
                s.stock,
            )
            .map_err(|e| ValidationError::new("skus", format!("item {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let product = NewProduct::new(&req.name, req.description.as_deref(), &req.category, skus)?;
    let rules = req
        .sale
        .as_ref()
        .map(SaleRequest::rules)
        .transpose()?
        .unwrap_or_default();
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
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/products")]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter = ProductFilter::new(
        query.q.as_deref(),
        query.category.as_deref(),
        query.seller_id,
    )?;
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
        (status = 503, description = "`OVERLOADED`, `UNAVAILABLE`", body = Problem),
    )
)]
#[get("/products/{id}")]
pub async fn detail(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let product = load(&state, ProductId(id.into_inner())).await?;
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
        (status = 404, description = "`NOT_FOUND`: unknown or deleted product, or a SKU not of this product", body = Problem),
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
    let id = ProductId(id.into_inner());
    let req = body.into_inner();
    let patch = parse_patch(&req)?;
    let rules = match &req.sale {
        None => None,
        Some(None) => Some(SaleRules::default()),
        Some(Some(sale)) => Some(sale.rules()?),
    };
    let product = load(&state, id).await?;
    may_manage(&user, &product)?;
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
        try_join_all(
            product
                .skus
                .iter()
                .map(|s| state.inventory.set_rules(s.id, rules)),
        )
        .await?;
    }
    let product = load(&state, id).await?;
    Ok(HttpResponse::Ok().json(with_availability(&state, &product).await?))
}

/// Withdraws a product (soft delete): it disappears from listings, detail
/// and wishlists; orders and stock rows that refer to it stay intact. Only
/// its seller or an admin (moderation) may.
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
    let id = ProductId(id.into_inner());
    let product = load(&state, id).await?;
    may_manage(&user, &product)?;
    let deleted = state.store.delete_product(id).await;
    state.catalog.invalidate(id);
    if !deleted? {
        return Err(product_not_found(id));
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

fn parse_patch(req: &PatchProductRequest) -> Result<ProductPatch, ValidationError> {
    fn required<'a>(
        field: &'static str,
        value: &'a Option<Option<String>>,
    ) -> Result<Option<&'a str>, ValidationError> {
        match value {
            None => Ok(None),
            Some(None) => Err(ValidationError::new(field, "must not be null")),
            Some(Some(s)) => Ok(Some(s)),
        }
    }
    if req.skus.len() > catalog::SKUS_MAX {
        return Err(ValidationError::new(
            "skus",
            format!("must list at most {} SKUs", catalog::SKUS_MAX),
        ));
    }
    let mut seen = HashSet::with_capacity(req.skus.len());
    let prices = req
        .skus
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if !seen.insert(s.id) {
                return Err(ValidationError::new(
                    "skus",
                    format!("item {i}: SKU {} appears more than once", s.id),
                ));
            }
            let price = Price::new(s.price)
                .map_err(|e| ValidationError::new("skus", format!("item {i}: {e}")))?;
            Ok((SkuId(s.id), price))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProductPatch {
        name: required("name", &req.name)?
            .map(catalog::product_name)
            .transpose()?,
        description: req
            .description
            .as_ref()
            .map(|d| d.as_deref().map(catalog::description).transpose())
            .transpose()?
            .map(Option::flatten),
        category: required("category", &req.category)?
            .map(catalog::category)
            .transpose()?,
        prices,
    })
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
    })
}
