//! The catalog: what a valid product and its SKUs look like, the records the
//! catalog reads answer with, and listing filters. Stock and sale rules are
//! not here: they belong to the SKU actors.

use serde::Serialize;
use std::collections::HashSet;
use utoipa::ToSchema;

use super::ValidationError;
use super::category::CategoryId;
use super::ids::{ProductId, SkuId, UserId};
use super::image::ProductImage;
use super::money::{Currency, Price};
use super::quantity::Stock;
use super::review::Rating;
use super::text::bounded;
use super::time::Timestamp;

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5000;
pub const CATEGORY_MAX: usize = 50;
pub const SKU_CODE_MAX: usize = 64;
pub const OPTION_MAX: usize = 100;
pub const SKUS_MAX: usize = 100;
/// Longest search text accepted in `q`: no product name is longer.
pub const SEARCH_MAX: usize = NAME_MAX;

pub fn product_name(raw: &str) -> Result<String, ValidationError> {
    bounded("name", raw, NAME_MAX)
}

pub fn category(raw: &str) -> Result<String, ValidationError> {
    bounded("category", raw, CATEGORY_MAX)
}

/// Free text that may span lines; blank means none.
pub fn description(raw: &str) -> Result<Option<String>, ValidationError> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().count() > DESCRIPTION_MAX {
        return Err(ValidationError::new(
            "description",
            format!("must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValidationError::new(
            "description",
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(Some(s.to_string()))
}

/// The case-insensitive form names are searched by. Stored next to
/// the name because SQLite's `LOWER`/`LIKE` fold ASCII only.
pub fn search_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// One SKU of a product about to be created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSku {
    pub code: String,
    pub option: String,
    pub price: Price,
    pub currency: Currency,
    pub stock: Stock,
}

impl NewSku {
    pub fn parse(
        code: &str,
        option: &str,
        price: i64,
        currency: Option<&str>,
        stock: i64,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            code: bounded("sku_code", code, SKU_CODE_MAX)?,
            option: bounded("option", option, OPTION_MAX)?,
            price: Price::new(price)?,
            currency: currency
                .map(Currency::parse)
                .transpose()?
                .unwrap_or_default(),
            stock: Stock::new(stock)?,
        })
    }
}

/// A product about to be created, with all of its SKUs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProduct {
    pub name: String,
    pub description: Option<String>,
    pub category: String,
    /// The category of the tree it belongs to, if any.
    pub category_id: Option<CategoryId>,
    pub skus: Vec<NewSku>,
}

impl NewProduct {
    /// Checks the set of SKUs: 1 to `SKUS_MAX`, codes unique within the
    /// product, one currency for the whole product (so listings can show a
    /// price range).
    pub fn new(
        name: &str,
        description_raw: Option<&str>,
        category_raw: &str,
        skus: Vec<NewSku>,
    ) -> Result<Self, ValidationError> {
        let name = product_name(name)?;
        let description = description_raw.map(description).transpose()?.flatten();
        let category = category(category_raw)?;
        if skus.is_empty() || skus.len() > SKUS_MAX {
            return Err(ValidationError::new(
                "skus",
                format!("must list 1 to {SKUS_MAX} SKUs"),
            ));
        }
        let mut codes = HashSet::with_capacity(skus.len());
        for sku in &skus {
            if !codes.insert(sku.code.as_str()) {
                return Err(ValidationError::new(
                    "skus",
                    format!("sku_code `{}` appears more than once", sku.code),
                ));
            }
        }
        if skus.iter().any(|s| s.currency != skus[0].currency) {
            return Err(ValidationError::new(
                "skus",
                "all SKUs of a product must use the same currency",
            ));
        }
        Ok(Self {
            name,
            description,
            category,
            category_id: None,
            skus,
        })
    }

    /// The same product, in the category tree's `category` (or none).
    pub fn in_category(self, category_id: Option<CategoryId>) -> Self {
        Self {
            category_id,
            ..self
        }
    }
}

/// A catalog SKU: what is sold and at what price. Its id is the id of the
/// stock its actor owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CatalogSku {
    pub id: SkuId,
    pub sku_code: String,
    pub option: String,
    /// Minor units of `currency`.
    pub price: Price,
    pub currency: Currency,
}

/// A live product as stored: no stock, no sale rules (those are live in the
/// SKU actors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: ProductId,
    pub seller_id: UserId,
    pub name: String,
    pub description: Option<String>,
    pub category: String,
    pub category_id: Option<CategoryId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub skus: Vec<CatalogSku>,
    /// Cover first.
    pub images: Vec<ProductImage>,
    pub rating: Rating,
}

impl Product {
    pub fn sku(&self, id: SkuId) -> Option<&CatalogSku> {
        self.skus.iter().find(|s| s.id == id)
    }
}

/// A product as listings show it: the price range instead of every SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProductSummary {
    pub id: ProductId,
    pub seller_id: UserId,
    pub name: String,
    pub category: String,
    /// Its category in the tree, if any.
    pub category_id: Option<CategoryId>,
    /// Lowest SKU price, minor units of `currency`.
    pub price_min: Price,
    /// Highest SKU price, minor units of `currency`.
    pub price_max: Price,
    pub currency: Currency,
    pub sku_count: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The first of its images, if it has any.
    pub cover_image: Option<ProductImage>,
    /// Average and count of the product's reviews.
    pub rating: Rating,
}

/// Changes to a product; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductPatch {
    pub name: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub category: Option<String>,
    /// `Some(None)` takes the product out of the category tree.
    pub category_id: Option<Option<CategoryId>>,
    pub prices: Vec<(SkuId, Price)>,
}

impl ProductPatch {
    /// True when no catalog row changes (sale rules live elsewhere).
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.category.is_none()
            && self.category_id.is_none()
            && self.prices.is_empty()
    }
}

/// Which products a listing shows. Blank text filters mean no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProductFilter {
    /// Folded with [`search_key`]; matched as a substring of the name.
    pub search: Option<String>,
    /// Matched exactly.
    pub category: Option<String>,
    /// This category of the tree and every one below it.
    pub category_id: Option<CategoryId>,
    pub seller: Option<UserId>,
}

impl ProductFilter {
    pub fn new(
        q: Option<&str>,
        category_raw: Option<&str>,
        seller: Option<i64>,
    ) -> Result<Self, ValidationError> {
        let search = match q.map(str::trim).filter(|s| !s.is_empty()) {
            Some(q) if q.chars().count() > SEARCH_MAX => {
                return Err(ValidationError::new(
                    "q",
                    format!("must be at most {SEARCH_MAX} characters"),
                ));
            }
            other => other.map(search_key),
        };
        let category = category_raw
            .filter(|c| !c.trim().is_empty())
            .map(category)
            .transpose()?;
        Ok(Self {
            search,
            category,
            category_id: None,
            seller: seller.map(UserId::new),
        })
    }

    /// The same filter, narrowed to a category of the tree and its
    /// descendants.
    pub fn in_category(self, category_id: Option<CategoryId>) -> Self {
        Self {
            category_id,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(code: &str) -> NewSku {
        NewSku::parse(code, "Black / 256GB", 1_250_000, None, 10).expect("sku")
    }

    #[test]
    fn sku_fields_are_checked() {
        let s = sku("PH-1");
        assert_eq!(s.currency, Currency::KRW);
        assert_eq!(s.price.minor_units(), 1_250_000);
        assert!(NewSku::parse("A", "x", -1, None, 1).is_err());
        assert!(NewSku::parse("A", "x", 1, None, -1).is_err());
        assert!(NewSku::parse("A", "x", 1, Some("krw"), 1).is_err());
        assert!(NewSku::parse(&"c".repeat(65), "x", 1, None, 1).is_err());
        assert!(NewSku::parse("A", &"o".repeat(101), 1, None, 1).is_err());
        assert!(NewSku::parse("", "x", 1, None, 1).is_err());
        assert!(NewSku::parse("A", "x", 0, Some("USD"), 0).is_ok());
    }

    #[test]
    fn products_need_unique_codes_and_one_currency() {
        assert!(NewProduct::new("Phone", None, "phones", vec![sku("A"), sku("B")]).is_ok());
        let dup = NewProduct::new("Phone", None, "phones", vec![sku("A"), sku("A")]);
        assert_eq!(dup.map_err(|e| e.field), Err("skus"));
        assert!(NewProduct::new("Phone", None, "phones", vec![]).is_err());
        let many = (0..=SKUS_MAX).map(|i| sku(&format!("S{i}"))).collect();
        assert!(NewProduct::new("Phone", None, "phones", many).is_err());
        let mut usd = sku("B");
        usd.currency = Currency::parse("USD").expect("usd");
        assert!(NewProduct::new("Phone", None, "phones", vec![sku("A"), usd]).is_err());
        assert!(NewProduct::new(&"n".repeat(201), None, "phones", vec![sku("A")]).is_err());
        assert!(NewProduct::new("Phone", None, &"c".repeat(51), vec![sku("A")]).is_err());
    }

    #[test]
    fn descriptions_keep_lines_and_blank_means_none() {
        assert_eq!(description(" a\nb\t "), Ok(Some("a\nb".into())));
        assert_eq!(description("   "), Ok(None));
        assert!(description("a\u{0}b").is_err());
        assert!(description(&"d".repeat(DESCRIPTION_MAX + 1)).is_err());
    }

    #[test]
    fn filters_fold_search_text() {
        let f = ProductFilter::new(Some("  iPhone "), Some(" "), Some(7)).expect("filter");
        assert_eq!(f.search.as_deref(), Some("iphone"));
        assert_eq!(f.category, None);
        assert_eq!(f.seller, Some(UserId::new(7)));
        assert!(ProductFilter::new(Some(&"q".repeat(201)), None, None).is_err());
    }
}
