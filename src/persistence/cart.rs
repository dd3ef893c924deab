//! Cart rows: what a buyer means to buy, one row per SKU, kept across
//! restarts. Prices and availability are never stored here: they are read
//! live when the cart is shown or checked out.

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::ids::{SkuId, UserId};
use crate::domain::quantity::Quantity;
use crate::domain::time::Timestamp;

/// One line of a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub sku: SkuId,
    pub quantity: Quantity,
    pub added_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What setting a line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartSet {
    Added,
    Changed,
    /// The cart already holds the most lines allowed; nothing changed.
    Full,
}

impl Store {
    /// `user`'s cart, oldest line first.
    pub async fn cart(&self, user: UserId) -> Result<Vec<CartLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT sku_id, quantity, added_at, updated_at FROM cart_items \
             WHERE user_id = ? ORDER BY added_at, sku_id",
        )
        .bind(user.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CartLine {
                    sku: SkuId::new(r.try_get(0)?),
                    quantity: Quantity::new(r.try_get(1)?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    added_at: Timestamp::from_millis(r.try_get(2)?),
                    updated_at: Timestamp::from_millis(r.try_get(3)?),
                })
            })
            .collect()
    }

    /// Sets the quantity of `sku` in `user`'s cart, adding the line if the
    /// cart holds fewer than `max_lines`.
    pub async fn cart_set(
        &self,
        user: UserId,
        sku: SkuId,
        quantity: Quantity,
        max_lines: usize,
    ) -> Result<CartSet, StoreError> {
        let now = Timestamp::now().millis();
        for _ in 0..2 {
            // Matched rows on both backends (sqlx asks MySQL for FOUND_ROWS).
            let changed = sqlx::query(
                "UPDATE cart_items SET quantity = ?, updated_at = ? \
                 WHERE user_id = ? AND sku_id = ?",
            )
            .bind(quantity.as_i64())
            .bind(now)
            .bind(user.get())
            .bind(sku.get())
            .execute(&self.pool)
            .await?;
            if changed.rows_affected() > 0 {
                return Ok(CartSet::Changed);
            }
            let lines: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM cart_items WHERE user_id = ?")
                    .bind(user.get())
                    .fetch_one(&self.pool)
                    .await?;
            if usize::try_from(lines).unwrap_or(usize::MAX) >= max_lines {
                return Ok(CartSet::Full);
            }
            let inserted = sqlx::query(
                "INSERT INTO cart_items (user_id, sku_id, quantity, added_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(user.get())
            .bind(sku.get())
            .bind(quantity.as_i64())
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await;
            match inserted.map_err(|e| StoreError::unique(e, "cart line")) {
                Ok(_) => return Ok(CartSet::Added),
                // Added meanwhile by a concurrent request: set it instead.
                Err(StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(
            "the cart line kept changing; retry".into(),
        ))
    }

    /// Removes `sku` from `user`'s cart; answers whether it was there.
    pub async fn cart_remove(&self, user: UserId, sku: SkuId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM cart_items WHERE user_id = ? AND sku_id = ?")
            .bind(user.get())
            .bind(sku.get())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Empties `user`'s cart.
    pub async fn cart_clear(&self, user: UserId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM cart_items WHERE user_id = ?")
            .bind(user.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes the lines a checkout read and ordered, each only if it is
    /// still exactly as read (quantity and last change): a line changed
    /// meanwhile stays.
    pub async fn cart_remove_checked_out(
        &self,
        user: UserId,
        lines: &[CartLine],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for line in lines {
            sqlx::query(
                "DELETE FROM cart_items WHERE user_id = ? AND sku_id = ? AND quantity = ? \
                 AND updated_at = ?",
            )
            .bind(user.get())
            .bind(line.sku.get())
            .bind(line.quantity.as_i64())
            .bind(line.updated_at.millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes the lines an order placed at `placed_at` bought, if a
    /// checkout was cut short before doing so: each line holding the
    /// ordered quantity and last changed strictly before the order. A line
    /// added or changed since (a refilled cart) stays, however often this
    /// runs for the same order.
    pub async fn cart_remove_bought_before(
        &self,
        user: UserId,
        lines: &[(SkuId, Quantity)],
        placed_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for (sku, quantity) in lines {
            sqlx::query(
                "DELETE FROM cart_items WHERE user_id = ? AND sku_id = ? AND quantity = ? \
                 AND updated_at < ?",
            )
            .bind(user.get())
            .bind(sku.get())
            .bind(quantity.as_i64())
            .bind(placed_at.millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
