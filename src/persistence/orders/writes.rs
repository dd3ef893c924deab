//! Writing orders: one transaction per group commit, with multi-row
//! inserts for new orders, and each saga step updating the row and
//! appending its event together.

use std::collections::HashSet;

use super::records::{NewOrder, OrderLine, OrderWrite, Transition};
use crate::domain::ids::OrderId;
use crate::domain::order::{OrderStatus, Step};
use crate::domain::reason::{FirstAnswer, Reason};
use crate::domain::time::Timestamp;
use crate::persistence::{Store, StoreError};

impl Store {
    /// Applies order writes in one transaction (group commit): a new order
    /// is written with its lines, its `placed` event and the event of its
    /// outcome; a saga step updates the row and appends its event together.
    ///
    /// A new order whose idempotency key is taken (by a stored order or an
    /// earlier write of this batch) is skipped, not an error: a drop where
    /// buyers retry must not fail whole batches. Answers the indexes (into
    /// `writes`) of the skipped ones.
    pub async fn write_orders(&self, writes: &[&OrderWrite]) -> Result<Vec<usize>, StoreError> {
        let now = Timestamp::now().millis();
        let inserts: Vec<(usize, &NewOrder)> = writes
            .iter()
            .enumerate()
            .filter_map(|(i, w)| match w {
                OrderWrite::Insert(order) => Some((i, order)),
                OrderWrite::Transition { .. } => None,
            })
            .collect();
        // The key decides the id, so a taken key is a taken id. Only the
        // order writer inserts orders, so none appears between this read
        // and the insert (if one did, the insert would fail the batch, which
        // is then written one by one). Read before the transaction: on
        // SQLite a read that turns into a write fails when another writer
        // committed in between.
        let ids: Vec<String> = inserts.iter().map(|(_, o)| o.id.to_string()).collect();
        let mut taken = self.stored_order_ids(&ids).await?;
        let mut skipped = Vec::new();
        let mut fresh: Vec<&NewOrder> = Vec::with_capacity(inserts.len());
        for ((i, order), id) in inserts.into_iter().zip(ids) {
            if taken.insert(id) {
                fresh.push(order);
            } else {
                skipped.push(i);
            }
        }
        let mut tx = self.begin_write().await?;
        // Refused once another process owns the store, and a step once
        // another node's saga drives its order.
        self.check_owner(&mut tx).await?;
        let stepped = writes.iter().filter_map(|w| match w {
            OrderWrite::Transition { order_id, .. } => Some(*order_id),
            OrderWrite::Insert(_) => None,
        });
        self.check_saga_writer(&mut tx, stepped).await?;
        // A drop inserts thousands of orders a second: a few multi-row
        // statements per batch instead of a round trip per row.
        for chunk in fresh.chunks(INSERT_CHUNK) {
            insert_orders(&mut tx, chunk).await?;
        }
        // Events in the order of the writes: a new order's `created` before
        // any step of it.
        let mut events = Vec::new();
        for order in &fresh {
            events.extend(order.created_event());
        }
        for write in writes {
            if let OrderWrite::Transition { order_id, step } = write {
                apply_transition(&mut tx, *order_id, step, now).await?;
                events.extend(step.event.clone());
            }
        }
        crate::persistence::outbox::append(&mut tx, &events).await?;
        tx.commit().await?;
        if !events.is_empty() {
            self.events_appended();
        }
        Ok(skipped)
    }

    /// Which of `ids` are already orders.
    async fn stored_order_ids(&self, ids: &[String]) -> Result<HashSet<String>, StoreError> {
        let mut stored = HashSet::new();
        for chunk in ids.chunks(INSERT_CHUNK) {
            let sql = format!(
                "SELECT id FROM orders WHERE id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.clone());
            }
            stored.extend(q.fetch_all(&self.pool).await?);
        }
        Ok(stored)
    }
}

impl Store {
    /// Deletes an order that ended without a final answer (an order of an
    /// earlier release that gave up reserving and stored a 503), so that its
    /// key can be judged again. Answers whether it was deleted; an order
    /// with an answer is never touched.
    pub async fn forget_unanswered_order(&self, id: OrderId) -> Result<bool, StoreError> {
        const UNANSWERED: &str = "SELECT id FROM orders WHERE id = ? AND step = ? \
             AND (first_answer IS NULL OR first_answer = ?)";
        let id = id.to_string();
        let mut tx = self.pool.begin().await?;
        // Every statement writes (no read first): on SQLite a read that
        // turns into a write fails when another writer committed in between.
        // Children first: they reference the order.
        for table in ["order_items", "order_events"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE order_id IN ({UNANSWERED})"
            )))
            .bind(id.clone())
            .bind(Step::Done.as_str())
            .bind(FirstAnswer::Unavailable.code())
            .execute(&mut *tx)
            .await?;
        }
        let deleted = sqlx::query(
            "DELETE FROM orders WHERE id = ? AND step = ? \
             AND (first_answer IS NULL OR first_answer = ?)",
        )
        .bind(id)
        .bind(Step::Done.as_str())
        .bind(FirstAnswer::Unavailable.code())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(deleted)
    }
}

/// Orders per multi-row INSERT: 18 values a row stays far below the
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
         total, currency, shipping_address, shipping_json, payment_token, pay_on_place, \
         payment_due_at, attempts, first_answer, created_at, updated_at) VALUES {}",
        placeholders(18, orders.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for o in orders {
        let at = o.created_at.millis();
        q = q
            .bind(o.id.to_string())
            .bind(o.buyer.get())
            .bind(o.idempotency_key.clone())
            .bind(o.request_hash.clone())
            .bind(o.outcome.status.as_str())
            .bind(o.outcome.step.as_str())
            .bind(o.outcome.reason.map(Reason::code))
            .bind(o.total.minor_units())
            .bind(o.currency.as_str().to_owned())
            .bind(o.shipping_address.clone())
            .bind(
                o.shipping
                    .as_ref()
                    .and_then(|a| serde_json::to_string(a).ok()),
            )
            .bind(o.payment_token.clone())
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
                .bind(line.sku.get())
                .bind(line.product_id.get())
                .bind(line.seller_id.get())
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
