//! Deleting rows nobody needs any more, so that tables stop growing with
//! every drop: given-back reservations, rejected orders, and expired
//! sessions with their refresh tokens. Startup runs [`Store::prune`] on a
//! timer with the configured retention.

use super::{Store, StoreError};
use crate::domain::order::OrderStatus;
use crate::domain::time::Timestamp;

/// Rows one pruning pass deleted, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub reservations: u64,
    pub rejected_orders: u64,
    pub sessions: u64,
    pub refresh_tokens: u64,
}

/// Rejected orders past the cutoff; their children are deleted first.
const REJECTED_BEFORE: &str = "SELECT id FROM orders WHERE status = ? AND updated_at < ?";

/// Sessions expired before the cutoff.
const EXPIRED_BEFORE: &str = "SELECT id FROM sessions WHERE expires_at < ?";

impl Store {
    /// Deletes what was finished before `cutoff`: reservations given back
    /// (released, expired, returned), rejected orders with their lines and
    /// events, sessions that expired with their refresh tokens. Reservations
    /// that hold units and orders that live or sold are never touched.
    pub async fn prune(&self, cutoff: Timestamp) -> Result<Pruned, StoreError> {
        let at = cutoff.millis();
        let mut pruned = Pruned {
            reservations: sqlx::query(
                "DELETE FROM reservations \
                 WHERE status NOT IN ('reserved', 'committed') AND updated_at < ?",
            )
            .bind(at)
            .execute(&self.pool)
            .await?
            .rows_affected(),
            ..Pruned::default()
        };

        let rejected = OrderStatus::Rejected.as_str();
        let mut tx = self.pool.begin().await?;
        for table in ["order_items", "order_events"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE order_id IN ({REJECTED_BEFORE})"
            )))
            .bind(rejected)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        pruned.rejected_orders =
            sqlx::query("DELETE FROM orders WHERE status = ? AND updated_at < ?")
                .bind(rejected)
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;

        let mut tx = self.pool.begin().await?;
        pruned.refresh_tokens = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM refresh_tokens WHERE session_id IN ({EXPIRED_BEFORE})"
        )))
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        pruned.sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(pruned)
    }
}
