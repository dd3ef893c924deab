//! Stock rows: creating a SKU, loading one for its actor, and writing a
//! collapsed batch of decisions in one transaction.

use sqlx::{Any, QueryBuilder, Row};

use super::{Backend, Store, StoreError, WriteSet};
use crate::domain::ids::{ReservationId, SkuId, UserId};
use crate::domain::ledger::{Levels, Reservation, ReservationStatus, SkuHeader};
use crate::domain::rules::SaleRules;
use crate::domain::time::Timestamp;

/// Rows per multi-row upsert: 7 binds a row stays far below every
/// backend's limit on bound parameters.
const RESERVATION_CHUNK: usize = 1_000;
/// SKU counters set per statement: 13 binds each, well under SQLite's
/// limit, and one round trip for a hundred hot SKUs.
const HEADER_CHUNK: usize = 100;

/// Everything an SKU actor needs to rebuild its ledger.
#[derive(Debug)]
pub struct StoredSku {
    pub header: SkuHeader,
    pub reservations: Vec<Reservation>,
}

impl Store {
    /// Inserts a new SKU with `on_hand` units and returns its id.
    pub async fn create_sku(&self, on_hand: i64, rules: SaleRules) -> Result<SkuId, StoreError> {
        let sku = SkuId::new(
            self.insert_returning_id(insert_sku_stock(on_hand, rules))
                .await?,
        );
        self.missing_skus.forget(sku);
        Ok(sku)
    }

    /// Loads a SKU's header, its reservations that hold units, and the
    /// newest `finished_kept` of those given back since `finished_since`
    /// (kept for idempotent replies). A SKU found missing is remembered as
    /// such (see [`Store::is_missing_sku`]).
    pub async fn load_sku(
        &self,
        sku: SkuId,
        finished_since: Timestamp,
        finished_kept: usize,
    ) -> Result<Option<StoredSku>, StoreError> {
        let seen = self.missing_skus.generation();
        let Some(row) = sqlx::query(
            "SELECT on_hand, reserved, sold, opens_at, closes_at, per_user_limit \
             FROM sku_stock WHERE sku_id = ?",
        )
        .bind(sku.get())
        .fetch_optional(&self.pool)
        .await?
        else {
            self.missing_skus.put(seen, sku);
            return Ok(None);
        };
        let limit: Option<i64> = row.try_get("per_user_limit")?;
        let header = SkuHeader {
            sku,
            levels: Levels {
                on_hand: row.try_get("on_hand")?,
                reserved: row.try_get("reserved")?,
                sold: row.try_get("sold")?,
            },
            rules: SaleRules {
                opens_at: row
                    .try_get::<Option<i64>, _>("opens_at")?
                    .map(Timestamp::from_millis),
                closes_at: row
                    .try_get::<Option<i64>, _>("closes_at")?
                    .map(Timestamp::from_millis),
                per_user_limit: limit
                    .map(u32::try_from)
                    .transpose()
                    .map_err(|_| StoreError::Corrupt(format!("per_user_limit of SKU {sku}")))?,
            },
        };
        const COLUMNS: &str = "SELECT reservation_id, user_id, quantity, status, expires_at, updated_at \
             FROM reservations WHERE sku_id = ?";
        let holding = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} AND status IN ('reserved', 'committed')"
        )))
        .bind(sku.get())
        .fetch_all(&self.pool)
        .await?;
        let finished = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} AND status NOT IN ('reserved', 'committed') AND updated_at >= ? \
             ORDER BY updated_at DESC LIMIT ?"
        )))
        .bind(sku.get())
        .bind(finished_since.millis())
        .bind(i64::try_from(finished_kept).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let reservations = holding
            .iter()
            .chain(&finished)
            .map(reservation_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(StoredSku {
            header,
            reservations,
        }))
    }

    /// Writes one batch in one transaction: every reservation upserted, every
    /// touched SKU's counters set to their latest values. Each SKU has one
    /// writer (its actor, in the one process that owns the store: the batch
    /// is refused once another process took it over), so absolute values
    /// are safe, and the table's CHECK constraint refuses any state that
    /// would oversell.
    pub async fn write_batch(&self, set: &WriteSet) -> Result<(), StoreError> {
        if set.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        self.check_writer(&mut tx, set.headers.iter().map(|h| h.sku))
            .await?;
        // Headers first: the reservations' foreign key takes a shared lock
        // on their SKU's row, and a shared lock taken before the exclusive
        // one of the header update deadlocks with any other batch of the
        // SKU doing the same.
        let now = Timestamp::now().millis();
        for chunk in set.headers.chunks(HEADER_CHUNK) {
            update_headers(chunk, now).build().execute(&mut *tx).await?;
        }
        for chunk in set.reservations.chunks(RESERVATION_CHUNK) {
            let mut q = QueryBuilder::<Any>::new(
                "INSERT INTO reservations \
                 (sku_id, reservation_id, user_id, quantity, status, expires_at, updated_at) ",
            );
            q.push_values(chunk, |mut row, (sku, r)| {
                row.push_bind(sku.get())
                    .push_bind(r.id.as_str().to_owned())
                    .push_bind(r.user.get())
                    .push_bind(i64::from(r.quantity))
                    .push_bind(r.status.as_str())
                    .push_bind(r.expires_at.millis())
                    .push_bind(r.updated_at.millis());
            });
            q.push(match self.backend {
                Backend::Sqlite => {
                    " ON CONFLICT (sku_id, reservation_id) DO UPDATE \
                     SET user_id = excluded.user_id, quantity = excluded.quantity, \
                     status = excluded.status, expires_at = excluded.expires_at, \
                     updated_at = excluded.updated_at"
                }
                // A reservation judged again after it was given back comes
                // with a new quantity and expiry.
                Backend::MySql => {
                    " ON DUPLICATE KEY UPDATE \
                     user_id = VALUES(user_id), quantity = VALUES(quantity), \
                     status = VALUES(status), expires_at = VALUES(expires_at), \
                     updated_at = VALUES(updated_at)"
                }
            });
            q.build().execute(&mut *tx).await?;
        }
        super::outbox::append(&mut tx, &set.events).await?;
        tx.commit().await?;
        if !set.events.is_empty() {
            self.events_appended();
        }
        Ok(())
    }
}

impl Store {
    /// SKUs whose sale window opened or closed in `(after, until]`, with
    /// their rules; the sale clock announces them.
    pub async fn sale_windows_crossed(
        &self,
        after: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<(SkuId, SaleRules)>, StoreError> {
        let rows = sqlx::query(
            "SELECT sku_id, opens_at, closes_at FROM sku_stock \
             WHERE (opens_at > ? AND opens_at <= ?) OR (closes_at > ? AND closes_at <= ?)",
        )
        .bind(after.millis())
        .bind(until.millis())
        .bind(after.millis())
        .bind(until.millis())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let at = |col: &str| -> Result<Option<Timestamp>, StoreError> {
                    Ok(row
                        .try_get::<Option<i64>, _>(col)?
                        .map(Timestamp::from_millis))
                };
                let rules = SaleRules {
                    opens_at: at("opens_at")?,
                    closes_at: at("closes_at")?,
                    per_user_limit: None,
                };
                Ok((SkuId::new(row.try_get("sku_id")?), rules))
            })
            .collect()
    }
}

impl Store {
    /// Reservations still holding units that no order carries, last
    /// written before `before` (ms): the purchase that took them was cut
    /// short (a crash) before its order was written. Orders' reservations
    /// carry the order's id.
    pub async fn orphaned_reservations(
        &self,
        before: i64,
    ) -> Result<Vec<(SkuId, ReservationId)>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.sku_id, r.reservation_id FROM reservations r \
             LEFT JOIN orders o ON o.id = r.reservation_id \
             WHERE r.status = 'reserved' AND o.id IS NULL AND r.updated_at < ?",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("reservation_id")?;
                Ok((
                    SkuId::new(row.try_get("sku_id")?),
                    ReservationId::parse(id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                ))
            })
            .collect()
    }
}

/// The INSERT of a new SKU's stock row, shared with catalog product creation
/// (which runs it inside its own transaction).
pub(super) fn insert_sku_stock(
    on_hand: i64,
    rules: SaleRules,
) -> sqlx::query::Query<'static, Any, sqlx::any::AnyArguments> {
    sqlx::query(
        "INSERT INTO sku_stock (on_hand, reserved, sold, opens_at, closes_at, per_user_limit, updated_at) \
         VALUES (?, 0, 0, ?, ?, ?, ?)",
    )
    .bind(on_hand)
    .bind(rules.opens_at.map(Timestamp::millis))
    .bind(rules.closes_at.map(Timestamp::millis))
    .bind(rules.per_user_limit.map(i64::from))
    .bind(Timestamp::now().millis())
}

fn reservation_from_row(row: &sqlx::any::AnyRow) -> Result<Reservation, StoreError> {
    let raw_id: String = row.try_get("reservation_id")?;
    let raw_status: String = row.try_get("status")?;
    let quantity: i64 = row.try_get("quantity")?;
    Ok(Reservation {
        id: ReservationId::parse(raw_id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        user: UserId::new(row.try_get("user_id")?),
        quantity: u32::try_from(quantity)
            .map_err(|_| StoreError::Corrupt(format!("reservation quantity {quantity}")))?,
        status: ReservationStatus::parse(&raw_status)
            .ok_or_else(|| StoreError::Corrupt(format!("reservation status {raw_status}")))?,
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

/// One `UPDATE` setting every listed SKU's counters and rules to their
/// latest values, each column a `CASE` on the SKU id. A statement per SKU
/// cost a round trip each: a drop of 1,000 hot SKUs spent its batches on
/// them.
fn update_headers(headers: &[SkuHeader], now: i64) -> QueryBuilder<Any> {
    type Column = fn(&SkuHeader) -> Option<i64>;
    let columns: [(&str, Column); 6] = [
        ("on_hand", |h| Some(h.levels.on_hand)),
        ("reserved", |h| Some(h.levels.reserved)),
        ("sold", |h| Some(h.levels.sold)),
        ("opens_at", |h| h.rules.opens_at.map(Timestamp::millis)),
        ("closes_at", |h| h.rules.closes_at.map(Timestamp::millis)),
        ("per_user_limit", |h| h.rules.per_user_limit.map(i64::from)),
    ];
    let mut q = QueryBuilder::<Any>::new("UPDATE sku_stock SET ");
    for (name, value) in columns {
        q.push(name).push(" = CASE sku_id");
        for h in headers {
            q.push(" WHEN ")
                .push_bind(h.sku.get())
                .push(" THEN ")
                .push_bind(value(h));
        }
        q.push(" END, ");
    }
    q.push("updated_at = ").push_bind(now);
    q.push(" WHERE sku_id IN (");
    let mut ids = q.separated(", ");
    for h in headers {
        ids.push_bind(h.sku.get());
    }
    q.push(")");
    q
}
