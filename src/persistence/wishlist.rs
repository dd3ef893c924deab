//! Wishlist rows: which live products a customer keeps an eye on.

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::catalog::ProductSummary;
use crate::domain::ids::{ProductId, UserId};
use crate::domain::page::PageRequest;
use crate::domain::time::Timestamp;

/// One wishlist entry with the product as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WishlistEntry {
    pub added_at: Timestamp,
    pub product: ProductSummary,
}

/// What adding a product to a wishlist did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WishlistAdd {
    Added(Timestamp),
    /// Already there since this instant; nothing changed.
    AlreadyThere(Timestamp),
    /// No live product has this id.
    NoSuchProduct,
}

impl Store {
    /// Adds a live product to `user`'s wishlist; adding twice is harmless.
    pub async fn wishlist_add(
        &self,
        user: UserId,
        product: ProductId,
    ) -> Result<WishlistAdd, StoreError> {
        let now = Timestamp::now();
        // The SELECT makes "live product" and the insert one statement: a
        // product deleted (or its seller withdrawn) meanwhile is never added.
        let inserted = sqlx::query(
            "INSERT INTO wishlist_items (user_id, product_id, added_at) \
             SELECT ?, p.id, ? FROM products p JOIN users u ON u.id = p.seller_id \
             WHERE p.id = ? AND p.deleted_at IS NULL AND u.deleted_at IS NULL",
        )
        .bind(user.get())
        .bind(now.millis())
        .bind(product.get())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(done) if done.rows_affected() > 0 => Ok(WishlistAdd::Added(now)),
            Ok(_) => Ok(WishlistAdd::NoSuchProduct),
            Err(e) => match StoreError::unique(e, "wishlist item") {
                StoreError::Duplicate(_) => {
                    let since: i64 = sqlx::query_scalar(
                        "SELECT added_at FROM wishlist_items WHERE user_id = ? AND product_id = ?",
                    )
                    .bind(user.get())
                    .bind(product.get())
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(WishlistAdd::AlreadyThere(Timestamp::from_millis(since)))
                }
                other => Err(other),
            },
        }
    }

    /// Removes a product from `user`'s wishlist; answers whether it was there.
    pub async fn wishlist_remove(
        &self,
        user: UserId,
        product: ProductId,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM wishlist_items WHERE user_id = ? AND product_id = ?")
            .bind(user.get())
            .bind(product.get())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// `user`'s wishlist, most recently added first. Deleted products and
    /// those of withdrawn sellers are left out (their rows stay, in case
    /// the product is restored).
    pub async fn wishlist(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<(Vec<WishlistEntry>, i64), StoreError> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM wishlist_items w JOIN products p ON p.id = w.product_id \
             JOIN users u ON u.id = p.seller_id \
             WHERE w.user_id = ? AND p.deleted_at IS NULL AND u.deleted_at IS NULL",
        )
        .bind(user.get())
        .fetch_one(&self.pool)
        .await?;
        if total <= page.offset() {
            return Ok((Vec::new(), total));
        }
        let rows = sqlx::query(
            "SELECT w.added_at, p.id, p.seller_id, p.name, p.category, p.category_id, p.created_at, \
             p.updated_at \
             FROM wishlist_items w JOIN products p ON p.id = w.product_id \
             JOIN users u ON u.id = p.seller_id \
             WHERE w.user_id = ? AND p.deleted_at IS NULL AND u.deleted_at IS NULL \
             ORDER BY w.added_at DESC, p.id DESC LIMIT ? OFFSET ?",
        )
        .bind(user.get())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        let products = self.summaries(&rows).await?;
        let entries = rows
            .iter()
            .zip(products)
            .map(|(r, product)| {
                Ok(WishlistEntry {
                    added_at: Timestamp::from_millis(r.try_get("added_at")?),
                    product,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((entries, total))
    }
}
