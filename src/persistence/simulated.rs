//! The ledgers of the simulated payment provider and carrier. A real
//! provider remembers what it did per idempotency key across our restarts;
//! so must the simulation, or a saga resumed after SIGKILL would meet a
//! provider with amnesia. One row per order and provider, moved between
//! states only by conditional updates.

use super::{Store, StoreError};
use crate::domain::time::Timestamp;

/// Which simulated provider a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimLedger {
    Payments,
    Shipments,
}

impl SimLedger {
    fn insert(self) -> &'static str {
        match self {
            SimLedger::Payments => {
                "INSERT INTO simulated_payments (order_id, amount, state, updated_at) VALUES (?, ?, ?, ?)"
            }
            SimLedger::Shipments => {
                "INSERT INTO simulated_shipments (order_id, amount, state, updated_at) VALUES (?, ?, ?, ?)"
            }
        }
    }

    fn transition(self) -> &'static str {
        match self {
            SimLedger::Payments => {
                "UPDATE simulated_payments SET state = ?, updated_at = ? WHERE order_id = ? AND state = ?"
            }
            SimLedger::Shipments => {
                "UPDATE simulated_shipments SET state = ?, updated_at = ? WHERE order_id = ? AND state = ?"
            }
        }
    }
}

/// A simulated provider's record of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRecord {
    pub state: String,
    pub updated_at: Timestamp,
}

impl Store {
    pub async fn sim_record(
        &self,
        ledger: SimLedger,
        order: &str,
    ) -> Result<Option<SimRecord>, StoreError> {
        let sql = match ledger {
            SimLedger::Payments => {
                "SELECT state, updated_at FROM simulated_payments WHERE order_id = ?"
            }
            SimLedger::Shipments => {
                "SELECT state, updated_at FROM simulated_shipments WHERE order_id = ?"
            }
        };
        let row: Option<(String, i64)> = sqlx::query_as(sql)
            .bind(order.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(state, at)| SimRecord {
            state,
            updated_at: Timestamp::from_millis(at),
        }))
    }

    /// Records `state` for `order` unless a record exists; answers the state
    /// the order has afterwards (the existing one wins).
    pub async fn sim_insert(
        &self,
        ledger: SimLedger,
        order: &str,
        amount: i64,
        state: &str,
    ) -> Result<String, StoreError> {
        let inserted = sqlx::query(ledger.insert())
            .bind(order.to_owned())
            .bind(amount)
            .bind(state.to_owned())
            .bind(Timestamp::now().millis())
            .execute(&self.pool)
            .await;
        match inserted.map_err(|e| StoreError::unique(e, "order")) {
            Ok(_) => Ok(state.to_string()),
            Err(StoreError::Duplicate(_)) => self
                .sim_record(ledger, order)
                .await?
                .map(|r| r.state)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("simulated record of {order} vanished"))
                }),
            Err(e) => Err(e),
        }
    }

    /// Notes which saved method's token paid `order` (the simulated
    /// payment provider's books, as a real provider keeps them).
    pub async fn sim_note_payment_token(&self, order: &str, token: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE simulated_payments SET method_token = ? \
             WHERE order_id = ? AND method_token IS NULL",
        )
        .bind(token.to_owned())
        .bind(order.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The token that paid `order`, if a saved method did.
    pub async fn sim_payment_token(&self, order: &str) -> Result<Option<String>, StoreError> {
        let token: Option<Option<String>> =
            sqlx::query_scalar("SELECT method_token FROM simulated_payments WHERE order_id = ?")
                .bind(order.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        Ok(token.flatten())
    }

    /// Moves `order` from `from` to `to`; answers whether it was in `from`.
    pub async fn sim_transition(
        &self,
        ledger: SimLedger,
        order: &str,
        from: &str,
        to: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(ledger.transition())
            .bind(to.to_owned())
            .bind(Timestamp::now().millis())
            .bind(order.to_owned())
            .bind(from.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
