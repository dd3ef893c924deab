//! Orders, their lines and their event log. Every saga transition changes
//! the order row and appends its event in one transaction, so the log and
//! the state can never disagree, and a restarted saga resumes from the row.
//! This file reads; [`records`] holds the shapes, [`writes`] the group
//! commit, [`seller`] the sellers' narrower view.

mod events;
mod records;
mod seller;
mod writes;

pub use records::{
    NewOrder, OrderEventRecord, OrderLine, OrderRecord, OrderWrite, Outcome, SkuOffer, Transition,
};
pub use seller::{SellerLine, SellerOrder};

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::ids::{OrderId, ProductId, SkuId, UserId};
use crate::domain::money::{Amount, Currency, Price};
use crate::domain::order::{OrderStatus, Step};
use crate::domain::quantity::Quantity;
use crate::domain::reason::{FirstAnswer, Reason};
use crate::domain::time::Timestamp;

const ORDER_COLUMNS: &str = "id, buyer_id, request_hash, status, step, reason, total, currency, \
     shipping_address, shipping_json, payment_token, pay_on_place, payment_due_at, tracking, attempts, first_answer, \
     created_at, updated_at, \
     (SELECT MAX(seq) FROM order_events e WHERE e.order_id = orders.id) AS last_seq";

impl Store {
    /// What each SKU sells for, for the SKUs that are on live products,
    /// and whether their seller has withdrawn.
    pub async fn sku_offers(&self, skus: &[SkuId]) -> Result<Vec<SkuOffer>, StoreError> {
        let mut offers = Vec::with_capacity(skus.len());
        for sku in skus {
            if let Some(offer) = self.offers.get(*sku) {
                offers.push(offer);
                continue;
            }
            let seen = self.offers.generation();
            let row = sqlx::query(
                "SELECT s.id, s.product_id, p.seller_id, s.price, s.currency, u.deleted_at \
                 FROM skus s JOIN products p ON p.id = s.product_id \
                 JOIN users u ON u.id = p.seller_id \
                 WHERE s.id = ? AND p.deleted_at IS NULL",
            )
            .bind(sku.get())
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = row {
                let offer = SkuOffer {
                    sku: SkuId::new(row.try_get(0)?),
                    product_id: ProductId::new(row.try_get(1)?),
                    seller_id: UserId::new(row.try_get(2)?),
                    price: Price::new(row.try_get(3)?).map_err(corrupt)?,
                    currency: Currency::parse(&row.try_get::<String, _>(4)?).map_err(corrupt)?,
                    seller_withdrawn: row.try_get::<Option<i64>, _>(5)?.is_some(),
                };
                self.offers.put(seen, offer.clone());
                offers.push(offer);
            }
        }
        Ok(offers)
    }

    pub async fn order(&self, id: OrderId) -> Result<Option<OrderRecord>, StoreError> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.order_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    pub async fn order_by_key(
        &self,
        buyer: UserId,
        key: &str,
    ) -> Result<Option<OrderRecord>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE buyer_id = ? AND idempotency_key = ?"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(buyer.get())
            .bind(key.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.order_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    /// Ids of every order whose saga has work left (resumed at start-up),
    /// as stored: one unreadable id must not hide the others.
    pub async fn live_order_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM orders WHERE step <> ? ORDER BY created_at")
                .bind(Step::Done.as_str())
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn order_events(&self, id: OrderId) -> Result<Vec<OrderEventRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, status, step, detail FROM order_events \
             WHERE order_id = ? ORDER BY seq",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OrderEventRecord {
                    seq: row.try_get(0)?,
                    at: Timestamp::from_millis(row.try_get(1)?),
                    kind: row.try_get(2)?,
                    status: row.try_get(3)?,
                    step: row.try_get(4)?,
                    detail: row.try_get(5)?,
                })
            })
            .collect()
    }

    /// A page of a buyer's orders, newest first, and the total count.
    pub async fn buyer_orders(
        &self,
        buyer: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<OrderRecord>, i64), StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE buyer_id = ? \
             ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(buyer.get())
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE buyer_id = ?")
            .bind(buyer.get())
            .fetch_one(&self.pool)
            .await?;
        Ok((self.orders_from_rows(&rows).await?, total))
    }

    async fn orders_from_rows(
        &self,
        rows: &[sqlx::any::AnyRow],
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let mut orders = Vec::with_capacity(rows.len());
        for row in rows {
            orders.push(self.order_from_row(row).await?);
        }
        Ok(orders)
    }

    async fn order_from_row(&self, row: &sqlx::any::AnyRow) -> Result<OrderRecord, StoreError> {
        let raw_id: String = row.try_get("id")?;
        let id = OrderId::parse(&raw_id).map_err(corrupt)?;
        let status: String = row.try_get("status")?;
        let step: String = row.try_get("step")?;
        let first_answer = match row.try_get::<Option<String>, _>("first_answer")? {
            Some(code) => Some(
                FirstAnswer::parse(&code)
                    .ok_or_else(|| StoreError::Corrupt(format!("first answer {code}")))?,
            ),
            None => None,
        };
        let reason = reason_of(row)?;
        let lines = sqlx::query(
            "SELECT sku_id, product_id, seller_id, quantity, unit_price FROM order_items \
             WHERE order_id = ? ORDER BY sku_id",
        )
        .bind(raw_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(OrderLine {
                sku: SkuId::new(r.try_get(0)?),
                product_id: ProductId::new(r.try_get(1)?),
                seller_id: UserId::new(r.try_get(2)?),
                quantity: Quantity::new(r.try_get(3)?).map_err(corrupt)?,
                unit_price: Price::new(r.try_get(4)?).map_err(corrupt)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(OrderRecord {
            buyer: UserId::new(row.try_get("buyer_id")?),
            request_hash: row.try_get("request_hash")?,
            status: OrderStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("order status {status}")))?,
            step: Step::parse(&step)
                .ok_or_else(|| StoreError::Corrupt(format!("order step {step}")))?,
            reason,
            total: Amount::new(row.try_get("total")?)
                .ok_or_else(|| StoreError::Corrupt(format!("total of order {id}")))?,
            currency: Currency::parse(&row.try_get::<String, _>("currency")?).map_err(corrupt)?,
            shipping_address: row.try_get("shipping_address")?,
            shipping: row
                .try_get::<Option<String>, _>("shipping_json")?
                .map(|json| {
                    serde_json::from_str(&json)
                        .map_err(|e| StoreError::Corrupt(format!("shipping of order {id}: {e}")))
                })
                .transpose()?,
            payment_token: row.try_get("payment_token")?,
            pay_on_place: row.try_get::<i64, _>("pay_on_place")? != 0,
            payment_due_at: Timestamp::from_millis(row.try_get("payment_due_at")?),
            tracking: row.try_get("tracking")?,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            first_answer,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
            lines,
            last_seq: row.try_get::<Option<i64>, _>("last_seq")?.unwrap_or(0),
            id,
        })
    }
}

/// The `reason` column of an order row.
fn reason_of(row: &sqlx::any::AnyRow) -> Result<Option<Reason>, StoreError> {
    row.try_get::<Option<String>, _>("reason")?
        .map(|code| {
            Reason::parse(&code).ok_or_else(|| StoreError::Corrupt(format!("order reason {code}")))
        })
        .transpose()
}

fn corrupt(e: crate::domain::ValidationError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
