//! Orders as a seller may see them: only orders that were paid (what a
//! seller must ship, or learn was cancelled after payment), only the
//! seller's own lines, and of the buyer only what shipping needs: the
//! recipient's name and the address. Never the buyer's account (id, email),
//! other sellers' lines, or the order's total.

use sqlx::Row;

use super::{corrupt, reason_of};
use crate::domain::ids::{OrderId, ProductId, SkuId, UserId};
use crate::domain::money::{Amount, Currency, Price};
use crate::domain::order::OrderStatus;
use crate::domain::quantity::Quantity;
use crate::domain::reason::Reason;
use crate::domain::time::Timestamp;
use crate::persistence::{Store, StoreError};

/// One order as its seller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerOrder {
    pub id: OrderId,
    pub status: OrderStatus,
    pub reason: Option<Reason>,
    /// The seller's lines only.
    pub lines: Vec<SellerLine>,
    /// What the seller's lines come to.
    pub subtotal: Amount,
    pub currency: Currency,
    pub recipient_name: String,
    pub shipping_address: String,
    pub tracking: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerLine {
    pub sku: SkuId,
    pub product_id: ProductId,
    pub quantity: Quantity,
    pub unit_price: Price,
}

/// Orders holding one of the seller's lines that reached PAID at some
/// point (every status after it passes through PAID, and its event is in
/// the log): pending, unpaid, rejected and cancelled-unpaid orders are not
/// the seller's business.
const SELLER_ORDERS_WHERE: &str = "o.id IN (SELECT order_id FROM order_items WHERE seller_id = ?) \
     AND EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.id AND e.status = ?)";

impl Store {
    /// A page of `seller`'s paid orders, newest first, and how many there
    /// are in all.
    pub async fn seller_orders(
        &self,
        seller: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<SellerOrder>, i64), StoreError> {
        let sql = format!(
            "SELECT o.id, o.status, o.reason, o.currency, o.shipping_address, o.tracking, \
             o.created_at, o.updated_at, u.name \
             FROM orders o JOIN users u ON u.id = o.buyer_id \
             WHERE {SELLER_ORDERS_WHERE} \
             ORDER BY o.created_at DESC, o.id DESC LIMIT ? OFFSET ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seller.get())
            .bind(OrderStatus::Paid.as_str())
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let count = format!("SELECT COUNT(*) FROM orders o WHERE {SELLER_ORDERS_WHERE}");
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
            .bind(seller.get())
            .bind(OrderStatus::Paid.as_str())
            .fetch_one(&self.pool)
            .await?;
        let mut orders = Vec::with_capacity(rows.len());
        for row in &rows {
            orders.push(self.seller_order(seller, row).await?);
        }
        Ok((orders, total))
    }

    async fn seller_order(
        &self,
        seller: UserId,
        row: &sqlx::any::AnyRow,
    ) -> Result<SellerOrder, StoreError> {
        let raw_id: String = row.try_get("id")?;
        let id = OrderId::parse(&raw_id).map_err(corrupt)?;
        let status: String = row.try_get("status")?;
        let reason = reason_of(row)?;
        let lines = sqlx::query(
            "SELECT sku_id, product_id, quantity, unit_price FROM order_items \
             WHERE order_id = ? AND seller_id = ? ORDER BY sku_id",
        )
        .bind(raw_id)
        .bind(seller.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(SellerLine {
                sku: SkuId::new(r.try_get(0)?),
                product_id: ProductId::new(r.try_get(1)?),
                quantity: Quantity::new(r.try_get(2)?).map_err(corrupt)?,
                unit_price: Price::new(r.try_get(3)?).map_err(corrupt)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let subtotal = lines
            .iter()
            .try_fold(Amount::ZERO, |sum, l| {
                l.unit_price.times(l.quantity)?.checked_add(sum)
            })
            .ok_or_else(|| StoreError::Corrupt(format!("subtotal of order {id}")))?;
        Ok(SellerOrder {
            id,
            status: OrderStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("order status {status}")))?,
            reason,
            lines,
            subtotal,
            currency: Currency::parse(&row.try_get::<String, _>("currency")?).map_err(corrupt)?,
            recipient_name: row.try_get("name")?,
            shipping_address: row.try_get("shipping_address")?,
            tracking: row.try_get("tracking")?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        })
    }
}
