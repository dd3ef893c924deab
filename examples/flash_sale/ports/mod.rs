//! The classic stock designs of the Spring Cloud seeds, as alternative
//! implementations of stampede's inventory port. Only this load tool wires
//! them in, so a drop can be measured with the stock decision swapped and
//! the rest of the HTTP stack (auth, orders, sagas, group commit) unchanged.

pub mod redis_lua;
pub mod row_lock;

use stampede::actors::InventoryError;
use stampede::actors::SkuSnapshot;
use stampede::domain::ids::SkuId;
use stampede::domain::ledger::Rejection;
use stampede::domain::rules::SaleRules;
use stampede::domain::time::Timestamp;

/// A SKU's levels and rules as a port read them, before deciding.
pub struct Row {
    pub on_hand: i64,
    pub reserved: i64,
    pub sold: i64,
    pub rules: SaleRules,
}

impl Row {
    /// The same rules the SKU actor applies: sale window, then stock, then
    /// the per-buyer limit (`held` = units the buyer already holds).
    pub fn decide(&self, quantity: i64, held: i64, now: Timestamp) -> Result<(), InventoryError> {
        if !self.rules.is_open(now) {
            return Err(Rejection::NotOnSale {
                opens_at: self.rules.opens_at,
                closes_at: self.rules.closes_at,
            }
            .into());
        }
        let available = self.on_hand - self.reserved - self.sold;
        if quantity > available {
            return Err(Rejection::OutOfStock { available }.into());
        }
        if let Some(limit) = self.rules.per_user_limit
            && held + quantity > i64::from(limit)
        {
            return Err(Rejection::LimitExceeded {
                limit,
                held: u32::try_from(held).unwrap_or(u32::MAX),
            }
            .into());
        }
        Ok(())
    }

    pub fn snapshot(&self, sku: SkuId, live_reservations: usize) -> SkuSnapshot {
        SkuSnapshot {
            sku_id: sku,
            on_hand: self.on_hand,
            reserved: self.reserved,
            sold: self.sold,
            available: self.on_hand - self.reserved - self.sold,
            on_sale: self.rules.is_open(Timestamp::now()),
            opens_at: self.rules.opens_at,
            closes_at: self.rules.closes_at,
            per_user_limit: self.rules.per_user_limit,
            live_reservations,
            remembered: live_reservations,
        }
    }
}

/// Wraps a database or Redis failure the way the SKU actors report theirs.
pub fn unavailable(e: impl std::fmt::Display) -> InventoryError {
    tracing::warn!(error = %e, "stock port failed");
    InventoryError::Unavailable
}
