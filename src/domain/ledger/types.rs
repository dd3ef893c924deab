//! The ledger's vocabulary: the counters and reservations it keeps, what a
//! buyer asks of it, and what it answers (outcomes with the change to write
//! behind, refusals, errors).

use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

use crate::domain::ids::{ReservationId, SkuId, UserId};
use crate::domain::quantity::Quantity;
use crate::domain::rules::SaleRules;
use crate::domain::time::Timestamp;

/// The three counters of a SKU. `available = on_hand - reserved - sold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Levels {
    pub on_hand: i64,
    pub reserved: i64,
    pub sold: i64,
}

impl Levels {
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved - self.sold
    }

    pub fn is_consistent(&self) -> bool {
        self.reserved >= 0 && self.sold >= 0 && self.reserved + self.sold <= self.on_hand
    }
}

/// Where a reservation stands. Only `Reserved` and `Committed` hold units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReservationStatus {
    /// Holding units until it is committed, released or expires.
    Reserved,
    /// Paid for: the units are sold.
    Committed,
    /// Given back before it was committed.
    Released,
    /// Not committed before `expires_at`; its units went back on sale.
    Expired,
    /// Committed, then given back (refund): the units went back on sale.
    Returned,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Committed => "committed",
            Self::Released => "released",
            Self::Expired => "expired",
            Self::Returned => "returned",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "reserved" => Self::Reserved,
            "committed" => Self::Committed,
            "released" => Self::Released,
            "expired" => Self::Expired,
            "returned" => Self::Returned,
            _ => return None,
        })
    }

    pub(super) fn holds_units(self) -> bool {
        matches!(self, Self::Reserved | Self::Committed)
    }
}

/// One buyer's hold on units of this SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reservation {
    pub id: ReservationId,
    pub user: UserId,
    pub quantity: u32,
    pub status: ReservationStatus,
    pub expires_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Everything persisted about a SKU's stock, written whole with each change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkuHeader {
    pub sku: SkuId,
    pub levels: Levels,
    pub rules: SaleRules,
}

/// One state change to write behind: the SKU's header after the change,
/// the reservation it touched, if any, and the milestones it crossed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub header: SkuHeader,
    pub reservation: Option<Reservation>,
    pub milestones: Vec<Milestone>,
}

/// A stock change people outside the shop care about, published as an
/// event with the change that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    Restocked { added: i64 },
    SoldOut,
    BackInStock,
}

impl Milestone {
    /// What moving from `before` to `after` crossed, in that order.
    pub fn crossed(before: Levels, after: Levels) -> Vec<Milestone> {
        let mut crossed = Vec::new();
        if after.on_hand > before.on_hand {
            crossed.push(Milestone::Restocked {
                added: after.on_hand - before.on_hand,
            });
        }
        match (before.available() > 0, after.available() > 0) {
            (true, false) => crossed.push(Milestone::SoldOut),
            (false, true) => crossed.push(Milestone::BackInStock),
            _ => {}
        }
        crossed
    }
}

/// What a buyer asks for. The TTL comes from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    pub id: ReservationId,
    pub user: UserId,
    pub quantity: Quantity,
    pub ttl: Duration,
    /// Judge the request afresh if its id's reservation was given back
    /// (released or expired) instead of answering that it was. Only a
    /// caller that knows nothing else holds the id may ask: placing, once
    /// it has seen that no order carries it.
    pub again: bool,
}

/// Why a reservation was refused. These are answers, not failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("out of stock: {available} available")]
    OutOfStock { available: i64 },
    #[error("not on sale at this time")]
    NotOnSale {
        opens_at: Option<Timestamp>,
        closes_at: Option<Timestamp>,
    },
    #[error("purchase limit of {limit} per buyer exceeded ({held} already held)")]
    LimitExceeded { limit: u32, held: u32 },
    #[error("reservation id was already used with a different buyer or quantity")]
    IdReused,
}

/// A request about an existing reservation that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("no reservation {0} on this SKU")]
    UnknownReservation(ReservationId),
    #[error("reservation {id} is {status:?} and cannot be committed")]
    NotCommittable {
        id: ReservationId,
        status: ReservationStatus,
    },
    #[error("restocking by {0} would exceed the stock limit")]
    StockOverflow(u32),
}

/// The result of an operation plus the change to persist; `change` is `None`
/// when the call was an idempotent replay that changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<T> {
    pub value: T,
    pub change: Option<Change>,
}

impl<T> Outcome<T> {
    pub(super) fn changed(value: T, change: Change) -> Self {
        Self {
            value,
            change: Some(change),
        }
    }

    pub(super) fn replay(value: T) -> Self {
        Self {
            value,
            change: None,
        }
    }
}

/// A ledger could not be rebuilt because the stored rows contradict each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored stock of SKU {sku} is inconsistent: {detail}")]
pub struct Inconsistent {
    pub sku: SkuId,
    pub detail: String,
}
