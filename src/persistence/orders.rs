//! Orders, their lines and their event log. Every saga transition changes
//! the order row and appends its event in one transaction, so the log and
//! the state can never disagree, and a restarted saga resumes from the row.

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::ids::{OrderId, ProductId, SkuId, UserId};
use crate::domain::money::{Amount, Currency, Price};
use crate::domain::order::{OrderStatus, Step};
use crate::domain::quantity::Quantity;
use crate::domain::reason::{FirstAnswer, Reason};
use crate::domain::time::Timestamp;

/// One line of an order, with the price and seller it was bought at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub sku: SkuId,
    pub product_id: ProductId,
    pub seller_id: UserId,
    pub quantity: Quantity,
    pub unit_price: Price,
}

/// A SKU as it can be ordered right now: on a live product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuOffer {
    pub sku: SkuId,
    pub product_id: ProductId,
    pub seller_id: UserId,
    pub price: Price,
    pub currency: Currency,
}

#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: OrderId,
    pub buyer: UserId,
    pub idempotency_key: String,
    pub request_hash: String,
    pub total: Amount,
    pub currency: Currency,
    pub shipping_address: String,
    pub pay_on_place: bool,
    pub payment_due_at: Timestamp,
    pub lines: Vec<OrderLine>,
    pub created_at: Timestamp,
    /// What placing decided, written with the order in one go.
    pub outcome: Outcome,
}

/// The decision taken before an order is written: its stock reserved (or
/// refused), and the first answer given to the buyer.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: OrderStatus,
    pub step: Step,
    pub reason: Option<Reason>,
    /// Kind of the event after `placed`, e.g. `reserved` or `rejected`.
    pub kind: &'static str,
    pub detail: Option<String>,
    pub answer: FirstAnswer,
}

#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub id: OrderId,
    pub buyer: UserId,
    pub request_hash: String,
    pub status: OrderStatus,
    pub step: Step,
    pub reason: Option<Reason>,
    pub total: Amount,
    pub currency: Currency,
    pub shipping_address: String,
    pub pay_on_place: bool,
    pub payment_due_at: Timestamp,
    pub tracking: Option<String>,
    pub attempts: u32,
    /// The first answer to the placing request, once it has one.
    pub first_answer: Option<FirstAnswer>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub lines: Vec<OrderLine>,
    /// Number of the order's latest event.
    pub last_seq: i64,
}

/// A write the order writer group-commits.
#[derive(Debug, Clone)]
pub enum OrderWrite {
    Insert(NewOrder),
    Transition { order_id: OrderId, step: Transition },
}

impl OrderRecord {
    /// The order exactly as [`Store::write_orders`] writes `order`.
    pub fn placed(order: NewOrder) -> Self {
        let at = order.created_at;
        Self {
            id: order.id,
            buyer: order.buyer,
            request_hash: order.request_hash,
            status: order.outcome.status,
            step: order.outcome.step,
            reason: order.outcome.reason,
            total: order.total,
            currency: order.currency,
            shipping_address: order.shipping_address,
            pay_on_place: order.pay_on_place,
            payment_due_at: order.payment_due_at,
            tracking: None,
            attempts: 0,
            first_answer: Some(order.outcome.answer),
            created_at: at,
            updated_at: at,
            lines: order.lines,
            last_seq: 2,
        }
    }

    /// The order as it stood when placed: what an accepted first answer
    /// shows, to the buyer then and to every retry since.
    pub fn as_placed(&self) -> Self {
        Self {
            status: OrderStatus::AwaitingPayment,
            step: if self.pay_on_place {
                Step::Authorize
            } else {
                Step::AwaitPayment
            },
            reason: None,
            tracking: None,
            attempts: 0,
            updated_at: self.created_at,
            last_seq: 2,
            ..self.clone()
        }
    }
}

/// One saga step taken: the new row values and the event that explains it.
#[derive(Debug, Clone)]
pub struct Transition {
    /// Number of the event this step appends (the previous one's + 1).
    pub seq: i64,
    pub status: OrderStatus,
    pub step: Step,
    pub reason: Option<Reason>,
    pub tracking: Option<String>,
    pub attempts: u32,
    pub kind: &'static str,
    pub detail: Option<String>,
    /// The first answer, when this step gives it.
    pub answer: Option<FirstAnswer>,
}

#[derive(Debug, Clone)]
pub struct OrderEventRecord {
    pub seq: i64,
    pub at: Timestamp,
    pub kind: String,
    pub status: String,
    pub step: String,
    pub detail: Option<String>,
}

const ORDER_COLUMNS: &str = "id, buyer_id, request_hash, status, step, reason, total, currency, \
     shipping_address, pay_on_place, payment_due_at, tracking, attempts, first_answer, \
     created_at, updated_at, \
     (SELECT MAX(seq) FROM order_events e WHERE e.order_id = orders.id) AS last_seq";

impl Store {
    /// What each SKU sells for, for the SKUs that are on live products.
    pub async fn sku_offers(&self, skus: &[SkuId]) -> Result<Vec<SkuOffer>, StoreError> {
        let mut offers = Vec::with_capacity(skus.len());
        for sku in skus {
            if let Some(offer) = self.offers.get(*sku) {
                offers.push(offer);
                continue;
            }
            let seen = self.offers.generation();
            let row = sqlx::query(
                "SELECT s.id, s.product_id, p.seller_id, s.price, s.currency \
                 FROM skus s JOIN products p ON p.id = s.product_id \
                 WHERE s.id = ? AND p.deleted_at IS NULL",
            )
            .bind(sku.0)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = row {
                let offer = SkuOffer {
                    sku: SkuId(row.try_get(0)?),
                    product_id: ProductId(row.try_get(1)?),
                    seller_id: UserId(row.try_get(2)?),
                    price: Price::new(row.try_get(3)?).map_err(corrupt)?,
                    currency: Currency::parse(&row.try_get::<String, _>(4)?).map_err(corrupt)?,
                };
                self.offers.put(seen, offer.clone());
                offers.push(offer);
            }
        }
        Ok(offers)
    }

    /// Applies order writes in one transaction (group commit): a new order
    /// is written with its lines, its `placed` event and the event of its
    /// outcome, and a taken idempotency key fails the whole call as
    /// `Duplicate`; a saga step updates the row and appends its event
    /// together.
    pub async fn write_orders(&self, writes: &[&OrderWrite]) -> Result<(), StoreError> {
        let now = Timestamp::now().millis();
        let mut tx = self.pool.begin().await?;
        let inserts: Vec<&NewOrder> = writes
            .iter()
            .filter_map(|w| match w {
                OrderWrite::Insert(order) => Some(order),
                OrderWrite::Transition { .. } => None,
            })
            .collect();
        // A drop inserts thousands of orders a second: a few multi-row
        // statements per batch instead of a round trip per row.
        for chunk in inserts.chunks(INSERT_CHUNK) {
            insert_orders(&mut tx, chunk).await?;
        }
        for write in writes {
            if let OrderWrite::Transition { order_id, step } = write {
                apply_transition(&mut tx, *order_id, step, now).await?;
            }
        }
        tx.commit().await?;
        Ok(())
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
            .bind(buyer.0)
            .bind(key.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.order_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    /// Ids of every order whose saga has work left (resumed at start-up).
    pub async fn live_order_ids(&self) -> Result<Vec<OrderId>, StoreError> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM orders WHERE step <> ? ORDER BY created_at")
                .bind(Step::Done.as_str())
                .fetch_all(&self.pool)
                .await?;
        ids.iter()
            .map(|id| OrderId::parse(id).map_err(corrupt))
            .collect()
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
            .bind(buyer.0)
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE buyer_id = ?")
            .bind(buyer.0)
            .fetch_one(&self.pool)
            .await?;
        Ok((self.orders_from_rows(&rows).await?, total))
    }

    /// A page of the orders holding at least one of `seller`'s SKUs.
    pub async fn seller_orders(
        &self,
        seller: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<OrderRecord>, i64), StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE id IN \
             (SELECT order_id FROM order_items WHERE seller_id = ?) \
             ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seller.0)
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT order_id) FROM order_items WHERE seller_id = ?",
        )
        .bind(seller.0)
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
        let reason = match row.try_get::<Option<String>, _>("reason")? {
            Some(code) => Some(
                Reason::parse(&code)
                    .ok_or_else(|| StoreError::Corrupt(format!("order reason {code}")))?,
            ),
            None => None,
        };
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
                sku: SkuId(r.try_get(0)?),
                product_id: ProductId(r.try_get(1)?),
                seller_id: UserId(r.try_get(2)?),
                quantity: Quantity::new(r.try_get(3)?).map_err(corrupt)?,
                unit_price: Price::new(r.try_get(4)?).map_err(corrupt)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(OrderRecord {
            buyer: UserId(row.try_get("buyer_id")?),
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

fn corrupt(e: crate::domain::ValidationError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Orders per multi-row INSERT: 16 values a row stays far below the
/// 32,766 bound values SQLite allows (and MySQL's 65,535).
const INSERT_CHUNK: usize = 500;

/// `(?, ?, …)` rows of `width` placeholders, `n` times.
fn placeholders(width: usize, n: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; n].join(", ")
}

/// Inserts orders with their lines and their first two events (`placed`,
/// then the outcome), three statements for the lot.
async fn insert_orders(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    orders: &[&NewOrder],
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO orders (id, buyer_id, idempotency_key, request_hash, status, step, reason, \
         total, currency, shipping_address, pay_on_place, payment_due_at, attempts, \
         first_answer, created_at, updated_at) VALUES {}",
        placeholders(16, orders.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for o in orders {
        let at = o.created_at.millis();
        q = q
            .bind(o.id.to_string())
            .bind(o.buyer.0)
            .bind(o.idempotency_key.clone())
            .bind(o.request_hash.clone())
            .bind(o.outcome.status.as_str())
            .bind(o.outcome.step.as_str())
            .bind(o.outcome.reason.map(Reason::code))
            .bind(o.total.minor_units())
            .bind(o.currency.as_str().to_owned())
            .bind(o.shipping_address.clone())
            .bind(i64::from(o.pay_on_place))
            .bind(o.payment_due_at.millis())
            .bind(0_i64)
            .bind(o.outcome.answer.code())
            .bind(at)
            .bind(at);
    }
    q.execute(&mut **tx)
        .await
        .map_err(|e| StoreError::unique(e, "idempotency key"))?;

    let lines: Vec<(&NewOrder, &OrderLine)> = orders
        .iter()
        .flat_map(|o| o.lines.iter().map(move |l| (*o, l)))
        .collect();
    // An order has up to 50 lines: they get chunks of their own.
    for chunk in lines.chunks(INSERT_CHUNK * 2) {
        let sql = format!(
            "INSERT INTO order_items (order_id, sku_id, product_id, seller_id, quantity, \
             unit_price) VALUES {}",
            placeholders(6, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (o, line) in chunk {
            q = q
                .bind(o.id.to_string())
                .bind(line.sku.0)
                .bind(line.product_id.0)
                .bind(line.seller_id.0)
                .bind(line.quantity.as_i64())
                .bind(line.unit_price.minor_units());
        }
        q.execute(&mut **tx).await?;
    }

    let sql = format!(
        "INSERT INTO order_events (order_id, seq, at, kind, status, step, detail) VALUES {}",
        placeholders(7, orders.len() * 2)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for o in orders {
        let at = o.created_at.millis();
        let id = o.id.to_string();
        q = q
            .bind(id.clone())
            .bind(1_i64)
            .bind(at)
            .bind("placed")
            .bind(OrderStatus::Pending.as_str())
            .bind(Step::Reserve.as_str())
            .bind(None::<String>)
            .bind(id)
            .bind(2_i64)
            .bind(at)
            .bind(o.outcome.kind)
            .bind(o.outcome.status.as_str())
            .bind(o.outcome.step.as_str())
            .bind(o.outcome.detail.clone());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

async fn apply_transition(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: OrderId,
    t: &Transition,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE orders SET status = ?, step = ?, reason = ?, tracking = ?, attempts = ?, \
         first_answer = COALESCE(first_answer, ?), updated_at = ? WHERE id = ?",
    )
    .bind(t.status.as_str())
    .bind(t.step.as_str())
    .bind(t.reason.map(Reason::code))
    .bind(t.tracking.clone())
    .bind(i64::from(t.attempts))
    .bind(t.answer.map(FirstAnswer::code))
    .bind(now)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    append_event(
        tx,
        id,
        t.seq,
        now,
        t.kind,
        t.status,
        t.step,
        t.detail.clone(),
    )
    .await
}

/// Appends event `seq` of an order. The saga numbers its events itself
/// (it is the order's only writer), so no locking read of the log is
/// needed, and the primary key refuses a second writer of the same `seq`.
#[allow(clippy::too_many_arguments)]
async fn append_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: OrderId,
    seq: i64,
    at: i64,
    kind: &str,
    status: OrderStatus,
    step: Step,
    detail: Option<String>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_events (order_id, seq, at, kind, status, step, detail) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(seq)
    .bind(at)
    .bind(kind.to_owned())
    .bind(status.as_str())
    .bind(step.as_str())
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
