//! Catalog rows: products and their SKUs. A product is created with its
//! SKUs' stock rows in one transaction; afterwards the catalog never writes
//! stock or sale rules (the SKU actors own those).
//!
//! A product is in the catalog while it is not deleted and its seller has
//! not withdrawn: every read here checks both, so a withdrawal hides all of
//! the seller's products at once (even one created meanwhile with a
//! still-valid access token) and nothing has to be rewritten.

use sqlx::any::AnyRow;
use sqlx::{Any, QueryBuilder, Row};
use std::collections::HashMap;

use super::inventory::insert_sku_stock;
use super::{Store, StoreError};
use crate::domain::catalog::{
    CatalogSku, NewProduct, Product, ProductFilter, ProductPatch, ProductSummary, search_key,
};
use crate::domain::category::CategoryId;
use crate::domain::ids::{ProductId, SkuId, UserId};
use crate::domain::money::{Currency, Price};
use crate::domain::page::PageRequest;
use crate::domain::review::Rating;
use crate::domain::rules::SaleRules;
use crate::domain::time::Timestamp;

/// `LIKE` escape character: `!` means the same to SQLite and MySQL, unlike
/// the backslash, which MySQL string literals already treat as an escape.
const LIKE_ESCAPE: char = '!';

/// One page of a listing and how many products match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPage {
    pub items: Vec<ProductSummary>,
    pub total: i64,
}

/// The prices of one product's SKUs, for listings.
struct PriceRange {
    min: Price,
    max: Price,
    currency: Currency,
    skus: u32,
    rating: Rating,
}

/// What became of a patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOutcome {
    Updated,
    /// The product is gone (deleted meanwhile); nothing was written.
    ProductMissing,
    /// The SKU is not one of the product's; nothing was written.
    SkuMissing(SkuId),
}

impl Store {
    /// Creates a product, its SKUs and their stock rows (with the sale rules)
    /// in one transaction: a failure leaves nothing behind.
    pub async fn create_product(
        &self,
        seller: UserId,
        product: &NewProduct,
        rules: SaleRules,
    ) -> Result<Product, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.pool.begin().await?;
        let insert = sqlx::query(
            "INSERT INTO products \
             (seller_id, name, name_folded, description, category, category_id, created_at, \
             updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(seller.get())
        .bind(product.name.clone())
        .bind(search_key(&product.name))
        .bind(product.description.clone())
        .bind(product.category.clone())
        .bind(product.category_id.map(CategoryId::get))
        .bind(now.millis())
        .bind(now.millis());
        let id = ProductId::new(self.insert_on(&mut tx, insert).await?);
        let mut skus = Vec::with_capacity(product.skus.len());
        for sku in &product.skus {
            let sku_id = SkuId::new(
                self.insert_on(&mut tx, insert_sku_stock(sku.stock.as_i64(), rules))
                    .await?,
            );
            sqlx::query(
                "INSERT INTO skus (id, product_id, sku_code, option_name, price, currency) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(sku_id.get())
            .bind(id.get())
            .bind(sku.code.clone())
            .bind(sku.option.clone())
            .bind(sku.price.minor_units())
            .bind(sku.currency.as_str().to_owned())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::unique(e, "sku_code"))?;
            skus.push(CatalogSku {
                id: sku_id,
                sku_code: sku.code.clone(),
                option: sku.option.clone(),
                price: sku.price,
                currency: sku.currency,
            });
        }
        tx.commit().await?;
        for sku in &skus {
            self.missing_skus.forget(sku.id);
        }
        Ok(Product {
            id,
            seller_id: seller,
            name: product.name.clone(),
            description: product.description.clone(),
            category: product.category.clone(),
            category_id: product.category_id,
            created_at: now,
            updated_at: now,
            skus,
            images: Vec::new(),
            rating: Rating::default(),
        })
    }

    /// A live (not deleted) product with its SKUs in creation order.
    pub async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, seller_id, name, description, category, category_id, created_at, \
             updated_at, rating_sum, rating_count FROM products p WHERE id = ? AND deleted_at IS NULL AND \
             EXISTS (SELECT 1 FROM users u WHERE u.id = p.seller_id AND u.deleted_at IS NULL)",
        )
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT id, sku_code, option_name, price, currency FROM skus \
             WHERE product_id = ? ORDER BY id",
        )
        .bind(id.get())
        .fetch_all(&self.pool)
        .await?;
        let skus = rows
            .iter()
            .map(|r| {
                Ok(CatalogSku {
                    id: SkuId::new(r.try_get("id")?),
                    sku_code: r.try_get("sku_code")?,
                    option: r.try_get("option_name")?,
                    price: price(r.try_get("price")?)?,
                    currency: currency(&r.try_get::<String, _>("currency")?)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let images = self.product_images(id).await?;
        Ok(Some(Product {
            id: ProductId::new(row.try_get("id")?),
            seller_id: UserId::new(row.try_get("seller_id")?),
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            category: row.try_get("category")?,
            category_id: category_id(&row)?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
            skus,
            images,
            rating: Rating::from_totals(row.try_get("rating_sum")?, row.try_get("rating_count")?),
        }))
    }

    /// The live product a SKU belongs to, with its (live) seller.
    pub async fn sku_product(&self, sku: SkuId) -> Result<Option<(ProductId, UserId)>, StoreError> {
        let row = sqlx::query(
            "SELECT p.id, p.seller_id FROM skus s JOIN products p ON p.id = s.product_id \
             JOIN users u ON u.id = p.seller_id \
             WHERE s.id = ? AND p.deleted_at IS NULL AND u.deleted_at IS NULL",
        )
        .bind(sku.get())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((ProductId::new(r.try_get(0)?), UserId::new(r.try_get(1)?))))
            .transpose()
    }

    /// Live products matching `filter`, newest first (id descending: ids only
    /// grow, so the order is stable across pages).
    pub async fn list_products(
        &self,
        filter: &ProductFilter,
        page: PageRequest,
    ) -> Result<ProductPage, StoreError> {
        // A category filter reads the category's path range first (by
        // primary key); products are then found through the indexes.
        let range = match filter.category_id {
            None => None,
            Some(id) => match self.category_range(id).await? {
                Some(range) => Some(range),
                None => {
                    return Ok(ProductPage {
                        items: Vec::new(),
                        total: 0,
                    });
                }
            },
        };
        let mut count = QueryBuilder::<Any>::new("SELECT COUNT(*) FROM products");
        push_filter(&mut count, filter, range.as_ref());
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        if total <= page.offset() {
            return Ok(ProductPage {
                items: Vec::new(),
                total,
            });
        }
        let mut select = QueryBuilder::<Any>::new(
            "SELECT id, seller_id, name, category, category_id, created_at, updated_at \
             FROM products",
        );
        push_filter(&mut select, filter, range.as_ref());
        select
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(page.limit())
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows = select.build().fetch_all(&self.pool).await?;
        let items = self.summaries(&rows).await?;
        Ok(ProductPage { items, total })
    }

    /// Listing summaries of `rows`, which hold the product columns `id,
    /// seller_id, name, category, category_id, created_at, updated_at`, in
    /// their order.
    pub(super) async fn summaries(
        &self,
        rows: &[AnyRow],
    ) -> Result<Vec<ProductSummary>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Any>::new(
            "SELECT s.product_id, MIN(s.price), MAX(s.price), MIN(s.currency), COUNT(*), \
             MAX(p.rating_sum), MAX(p.rating_count) \
             FROM skus s JOIN products p ON p.id = s.product_id WHERE s.product_id IN (",
        );
        let product_ids = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ids = q.separated(", ");
        for id in &product_ids {
            ids.push_bind(*id);
        }
        q.push(") GROUP BY s.product_id");
        let mut covers = self.covers(&product_ids).await?;
        let mut ranges = HashMap::with_capacity(rows.len());
        for r in q.build().fetch_all(&self.pool).await? {
            let count: i64 = r.try_get(4)?;
            let range = PriceRange {
                min: price(r.try_get(1)?)?,
                max: price(r.try_get(2)?)?,
                currency: currency(&r.try_get::<String, _>(3)?)?,
                skus: u32::try_from(count)
                    .map_err(|_| StoreError::Corrupt(format!("SKU count {count}")))?,
                rating: Rating::from_totals(r.try_get(5)?, r.try_get(6)?),
            };
            ranges.insert(r.try_get::<i64, _>(0)?, range);
        }
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let range = ranges
                    .get(&id)
                    .ok_or_else(|| StoreError::Corrupt(format!("product {id} has no SKU")))?;
                Ok(ProductSummary {
                    id: ProductId::new(id),
                    seller_id: UserId::new(r.try_get("seller_id")?),
                    name: r.try_get("name")?,
                    category: r.try_get("category")?,
                    category_id: category_id(r)?,
                    price_min: range.min,
                    price_max: range.max,
                    currency: range.currency,
                    sku_count: range.skus,
                    created_at: Timestamp::from_millis(r.try_get("created_at")?),
                    updated_at: Timestamp::from_millis(r.try_get("updated_at")?),
                    cover_image: covers.remove(&id),
                    rating: range.rating,
                })
            })
            .collect()
    }

    /// Applies a patch to a live product in one transaction.
    pub async fn update_product(
        &self,
        id: ProductId,
        patch: &ProductPatch,
    ) -> Result<PatchOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut q = QueryBuilder::<Any>::new("UPDATE products SET updated_at = ");
        q.push_bind(Timestamp::now().millis());
        if let Some(name) = &patch.name {
            q.push(", name = ")
                .push_bind(name.clone())
                .push(", name_folded = ")
                .push_bind(search_key(name));
        }
        if let Some(description) = &patch.description {
            q.push(", description = ").push_bind(description.clone());
        }
        if let Some(category) = &patch.category {
            q.push(", category = ").push_bind(category.clone());
        }
        if let Some(category_id) = patch.category_id {
            q.push(", category_id = ")
                .push_bind(category_id.map(CategoryId::get));
        }
        q.push(" WHERE id = ")
            .push_bind(id.get())
            .push(" AND deleted_at IS NULL");
        // Matched rows, not changed rows, on both backends (sqlx asks MySQL
        // for FOUND_ROWS), so an identical patch still counts.
        if q.build().execute(&mut *tx).await?.rows_affected() == 0 {
            return Ok(PatchOutcome::ProductMissing);
        }
        for (sku, price) in &patch.prices {
            let updated = sqlx::query("UPDATE skus SET price = ? WHERE id = ? AND product_id = ?")
                .bind(price.minor_units())
                .bind(sku.get())
                .bind(id.get())
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Ok(PatchOutcome::SkuMissing(*sku));
            }
        }
        tx.commit().await?;
        self.offers.invalidate();
        Ok(PatchOutcome::Updated)
    }

    /// Hides a product from the catalog; answers false if it was not live.
    pub async fn delete_product(&self, id: ProductId) -> Result<bool, StoreError> {
        let now = Timestamp::now().millis();
        let done = sqlx::query(
            "UPDATE products SET deleted_at = ?, updated_at = ? \
             WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(now)
        .bind(id.get())
        .execute(&self.pool)
        .await?;
        self.offers.invalidate();
        Ok(done.rows_affected() > 0)
    }
}

/// `range` is the path range of `filter.category_id`, read beforehand.
fn push_filter(
    q: &mut QueryBuilder<Any>,
    filter: &ProductFilter,
    range: Option<&(String, String)>,
) {
    q.push(
        " WHERE deleted_at IS NULL AND EXISTS (SELECT 1 FROM users u \
         WHERE u.id = products.seller_id AND u.deleted_at IS NULL)",
    );
    if let Some(search) = &filter.search {
        q.push(" AND name_folded LIKE ")
            .push_bind(contains_pattern(search))
            .push(" ESCAPE '!'");
    }
    if let Some(category) = &filter.category {
        q.push(" AND category = ").push_bind(category.clone());
    }
    if let Some((low, high)) = range {
        q.push(" AND category_id IN (SELECT c.id FROM categories c WHERE c.path >= ")
            .push_bind(low.clone())
            .push(" AND c.path < ")
            .push_bind(high.clone())
            .push(")");
    }
    if let Some(seller) = filter.seller {
        q.push(" AND seller_id = ").push_bind(seller.get());
    }
}

/// `%text%` with the text's own `%`, `_` and escape characters taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn category_id(row: &AnyRow) -> Result<Option<CategoryId>, StoreError> {
    Ok(row
        .try_get::<Option<i64>, _>("category_id")?
        .map(CategoryId::new))
}

fn price(minor_units: i64) -> Result<Price, StoreError> {
    Price::new(minor_units).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn currency(raw: &str) -> Result<Currency, StoreError> {
    Currency::parse(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_taken_literally() {
        assert_eq!(contains_pattern("50%_off!"), "%50!%!_off!!%");
        assert_eq!(contains_pattern("폰"), "%폰%");
    }
}
