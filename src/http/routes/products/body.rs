//! What the product routes take and answer: request bodies and their
//! validation into domain values, the views sent back, and the listing
//! query. The handlers are in the parent module.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::HashSet;
use utoipa::{IntoParams, ToSchema};

use crate::actors::SkuSnapshot;
use crate::domain::ValidationError;
use crate::domain::catalog::{self, NewProduct, NewSku, ProductPatch, ProductSummary};
use crate::domain::category::CategoryId;
use crate::domain::ids::{ProductId, SkuId, UserId};
use crate::domain::image::ProductImage;
use crate::domain::money::{Currency, Price};
use crate::domain::quantity::Quantity;
use crate::domain::review::Rating;
use crate::domain::rules::SaleRules;
use crate::domain::time::Timestamp;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    /// 1 to 200 characters.
    pub name: String,
    /// Up to 5000 characters; blank means none.
    #[serde(default)]
    pub description: Option<String>,
    /// 1 to 50 characters, matched exactly by the `category` filter. May be
    /// left out when `category_id` is given: the category's name is used.
    #[serde(default)]
    pub category: Option<String>,
    /// A category of the tree (`GET /categories`).
    #[serde(default)]
    pub category_id: Option<i64>,
    /// 1 to 100 SKUs with distinct `sku_code`s and one currency.
    #[schema(min_items = 1, max_items = 100)]
    pub skus: Vec<NewSkuRequest>,
    /// Sale window and per-buyer limit, applied to every SKU.
    #[serde(default)]
    pub sale: Option<SaleRequest>,
}

impl CreateProductRequest {
    /// The product to create and the sale rules of its SKUs; `named` is
    /// the name of the `category_id` category, for a missing `category`.
    pub(super) fn parse(
        &self,
        named: Option<&str>,
    ) -> Result<(NewProduct, SaleRules), ValidationError> {
        let category = self.category.as_deref().or(named).ok_or_else(|| {
            ValidationError::new("category", "is required unless category_id is given")
        })?;
        let skus = self
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
        let product = NewProduct::new(&self.name, self.description.as_deref(), category, skus)?
            .in_category(self.category_id.map(CategoryId::new));
        let rules = self
            .sale
            .as_ref()
            .map(SaleRequest::rules)
            .transpose()?
            .unwrap_or_default();
        Ok((product, rules))
    }
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
    /// A category of the tree; `null` takes the product out of the tree.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable)]
    pub category_id: Option<Option<i64>>,
    /// New prices of some of the product's SKUs, at most 100.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub skus: Vec<SkuPricePatch>,
    /// Replaces the sale rules of every SKU; `null` removes them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<SaleRequest>, nullable)]
    pub sale: Option<Option<SaleRequest>>,
}

impl PatchProductRequest {
    /// The catalog changes, then the new sale rules if any (`null` means
    /// none: the default rules).
    pub(super) fn parse(&self) -> Result<(ProductPatch, Option<SaleRules>), ValidationError> {
        let patch = parse_patch(self)?;
        let rules = match &self.sale {
            None => None,
            Some(None) => Some(SaleRules::default()),
            Some(Some(sale)) => Some(sale.rules()?),
        };
        Ok((patch, rules))
    }
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
    pub category_id: Option<CategoryId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub skus: Vec<SkuView>,
    /// Cover first, each in three sizes with their URLs.
    pub images: Vec<ProductImage>,
    /// Average and count of the product's reviews.
    pub rating: Rating,
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
    /// Exact category text.
    pub category: Option<String>,
    /// A category of the tree: products in it or any category below it.
    pub category_id: Option<i64>,
    pub seller_id: Option<i64>,
    /// From 1; default 1.
    #[param(minimum = 1, maximum = 4294967295_i64)]
    pub page: Option<i64>,
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
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
            Ok((SkuId::new(s.id), price))
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
        category_id: req.category_id.map(|c| c.map(CategoryId::new)),
        prices,
    })
}
