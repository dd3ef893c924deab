//! The seeds' database design: every purchase is one MariaDB transaction
//! that locks the SKU's stock row with `SELECT … FOR UPDATE`, checks, writes
//! the new levels and the reservation, and commits. Correct, and serialised
//! on the hot row: each buyer waits for the one before to commit.

use async_trait::async_trait;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::{MySql, Row as _, Transaction};

use super::{Row, unavailable};
use stampede::actors::SkuSnapshot;
use stampede::actors::stock::Hold;
use stampede::actors::{InventoryError, StockPort};
use stampede::domain::ids::{ReservationId, SkuId, UserId};
use stampede::domain::ledger::{LedgerError, Rejection, ReservationStatus};
use stampede::domain::quantity::Quantity;
use stampede::domain::rules::SaleRules;
use stampede::domain::time::Timestamp;

pub struct RowLockStock {
    pool: MySqlPool,
}

impl RowLockStock {
    /// A pool of `connections`, as a seed's connection pool would hold.
    pub fn connect(url: &str, connections: u32) -> Result<Self, sqlx::Error> {
        let pool = MySqlPoolOptions::new()
            .max_connections(connections)
            .connect_lazy(url)?;
        Ok(Self { pool })
    }
}

/// Locks the SKU's stock row for the rest of the transaction.
async fn lock_row(tx: &mut Transaction<'_, MySql>, sku: SkuId) -> Result<Row, InventoryError> {
    let row = sqlx::query(
        "SELECT on_hand, reserved, sold, opens_at, closes_at, per_user_limit \
         FROM sku_stock WHERE sku_id = ? FOR UPDATE",
    )
    .bind(sku.get())
    .fetch_optional(&mut **tx)
    .await
    .map_err(unavailable)?
    .ok_or(InventoryError::UnknownSku(sku))?;
    read_row(&row).map_err(unavailable)
}

fn read_row(row: &sqlx::mysql::MySqlRow) -> Result<Row, sqlx::Error> {
    let limit: Option<i64> = row.try_get("per_user_limit")?;
    Ok(Row {
        on_hand: row.try_get("on_hand")?,
        reserved: row.try_get("reserved")?,
        sold: row.try_get("sold")?,
        rules: SaleRules {
            opens_at: row
                .try_get::<Option<i64>, _>("opens_at")?
                .map(Timestamp::from_millis),
            closes_at: row
                .try_get::<Option<i64>, _>("closes_at")?
                .map(Timestamp::from_millis),
            per_user_limit: limit.and_then(|l| u32::try_from(l).ok()),
        },
    })
}

/// The reservation `id` on `sku`, read under the row lock: `(user, quantity, status)`.
async fn reservation(
    tx: &mut Transaction<'_, MySql>,
    sku: SkuId,
    id: &ReservationId,
) -> Result<Option<(i64, i64, String, i64)>, InventoryError> {
    let row = sqlx::query(
        "SELECT user_id, quantity, status, expires_at FROM reservations \
         WHERE sku_id = ? AND reservation_id = ?",
    )
    .bind(sku.get())
    .bind(id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(unavailable)?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .transpose()
        .map_err(|e: sqlx::Error| unavailable(e))
}

/// Moves a held reservation to `to`, shifting its units out of `reserved`.
async fn finish(
    pool: &MySqlPool,
    sku: SkuId,
    id: ReservationId,
    to: ReservationStatus,
) -> Result<(), InventoryError> {
    let mut tx = pool.begin().await.map_err(unavailable)?;
    lock_row(&mut tx, sku).await?;
    let (_, quantity, status, _) = reservation(&mut tx, sku, &id)
        .await?
        .ok_or_else(|| LedgerError::UnknownReservation(id.clone()))?;
    let given_back = matches!(status.as_str(), "released" | "expired" | "returned");
    if status == to.as_str() || (to == ReservationStatus::Released && given_back) {
        return Ok(());
    }
    let sold = if to == ReservationStatus::Committed {
        quantity
    } else {
        0
    };
    match (status.as_str(), to) {
        ("reserved", _) => {}
        // A refund after the sale: the units go back on sale.
        ("committed", ReservationStatus::Released) => {
            sqlx::query("UPDATE sku_stock SET sold = sold - ? WHERE sku_id = ?")
                .bind(quantity)
                .bind(sku.get())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            return mark(tx, sku, &id, ReservationStatus::Returned).await;
        }
        _ => {
            return Err(LedgerError::NotCommittable {
                id,
                status: ReservationStatus::parse(&status).unwrap_or(ReservationStatus::Released),
            }
            .into());
        }
    }
    sqlx::query(
        "UPDATE sku_stock SET reserved = reserved - ?, sold = sold + ?, updated_at = ? \
         WHERE sku_id = ?",
    )
    .bind(quantity)
    .bind(sold)
    .bind(Timestamp::now().millis())
    .bind(sku.get())
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    mark(tx, sku, &id, to).await
}

async fn mark(
    mut tx: Transaction<'_, MySql>,
    sku: SkuId,
    id: &ReservationId,
    to: ReservationStatus,
) -> Result<(), InventoryError> {
    sqlx::query(
        "UPDATE reservations SET status = ?, updated_at = ? \
         WHERE sku_id = ? AND reservation_id = ?",
    )
    .bind(to.as_str())
    .bind(Timestamp::now().millis())
    .bind(sku.get())
    .bind(id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)
}

#[async_trait]
impl StockPort for RowLockStock {
    async fn reserve(
        &self,
        sku: SkuId,
        id: ReservationId,
        user: UserId,
        quantity: Quantity,
        again: bool,
    ) -> Result<Hold, InventoryError> {
        let now = Timestamp::now();
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let row = lock_row(&mut tx, sku).await?;
        if let Some((owner, held, status, expires_at)) = reservation(&mut tx, sku, &id).await? {
            let live = matches!(status.as_str(), "reserved" | "committed");
            if live || !again {
                // A retry of the same purchase answers what the first one got.
                return match (owner == user.get() && held == quantity.as_i64(), live) {
                    (false, _) => Err(Rejection::IdReused.into()),
                    (true, true) => Ok(Hold {
                        fresh: false,
                        expires_at: Timestamp::from_millis(expires_at),
                    }),
                    (true, false) => Err(LedgerError::NotCommittable {
                        id,
                        status: ReservationStatus::parse(&status)
                            .unwrap_or(ReservationStatus::Released),
                    }
                    .into()),
                };
            }
            // Judged afresh: the given-back row makes way for the new one.
            sqlx::query("DELETE FROM reservations WHERE sku_id = ? AND reservation_id = ?")
                .bind(sku.get())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        let held: i64 = match row.rules.per_user_limit {
            None => 0,
            Some(_) => sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(quantity), 0) AS SIGNED) FROM reservations \
                 WHERE sku_id = ? AND user_id = ? AND status IN ('reserved', 'committed')",
            )
            .bind(sku.get())
            .bind(user.get())
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?,
        };
        row.decide(quantity.as_i64(), held, now)?;
        sqlx::query(
            "UPDATE sku_stock SET reserved = reserved + ?, updated_at = ? WHERE sku_id = ?",
        )
        .bind(quantity.as_i64())
        .bind(now.millis())
        .bind(sku.get())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let expires_at = now.plus(std::time::Duration::from_secs(3600));
        sqlx::query(
            "INSERT INTO reservations \
             (sku_id, reservation_id, user_id, quantity, status, expires_at, updated_at) \
             VALUES (?, ?, ?, ?, 'reserved', ?, ?)",
        )
        .bind(sku.get())
        .bind(id.as_str())
        .bind(user.get())
        .bind(quantity.as_i64())
        .bind(expires_at.millis())
        .bind(now.millis())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Hold {
            fresh: true,
            expires_at,
        })
    }

    async fn commit(&self, sku: SkuId, id: ReservationId) -> Result<(), InventoryError> {
        finish(&self.pool, sku, id, ReservationStatus::Committed).await
    }

    async fn release(&self, sku: SkuId, id: ReservationId) -> Result<(), InventoryError> {
        finish(&self.pool, sku, id, ReservationStatus::Released).await
    }

    async fn snapshot(&self, sku: SkuId) -> Result<SkuSnapshot, InventoryError> {
        let row = sqlx::query(
            "SELECT on_hand, reserved, sold, opens_at, closes_at, per_user_limit \
             FROM sku_stock WHERE sku_id = ?",
        )
        .bind(sku.get())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .ok_or(InventoryError::UnknownSku(sku))?;
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM reservations WHERE sku_id = ? AND status = 'reserved'",
        )
        .bind(sku.get())
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let row = read_row(&row).map_err(unavailable)?;
        Ok(row.snapshot(sku, usize::try_from(live).unwrap_or(0)))
    }
}
