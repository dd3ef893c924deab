//! Placing an order, stock first. Every line is reserved under the order's
//! id before anything is written: a refused purchase (most of a drop) is
//! answered at once and its record written behind, and only an order that
//! holds its stock waits for its row to commit before its 201.
//!
//! The order id, and so the reservation id, is derived from the buyer and
//! the Idempotency-Key
//! ([`OrderId::derive`](crate::domain::ids::OrderId::derive)). A retry
//! after a timeout, a crash or a database outage finds the reservation it
//! already made instead of taking more.

use crate::actors::stock::{InventoryError, StockPort};
use crate::domain::ids::{ReservationId, SkuId, UserId};
use crate::domain::order::{OrderStatus, Step};
use crate::domain::quantity::Quantity;
use crate::domain::reason::{FirstAnswer, Reason, RejectReason};
use crate::persistence::{OrderRecord, Outcome};

/// The first answer to a placement, as a domain value; `http/` renders it.
#[derive(Debug, Clone)]
pub enum Placement {
    /// Created, its stock held: the order as placed.
    Accepted(Box<OrderRecord>),
    /// Refused for this reason; nothing is held.
    Refused(RejectReason),
    /// Stock could not be decided in time; nothing is held.
    Unavailable,
}

impl Placement {
    /// The first answer `order` got, if it has one yet.
    pub fn of(order: &OrderRecord) -> Option<Self> {
        Some(match order.first_answer? {
            FirstAnswer::Accepted => Placement::Accepted(Box::new(order.as_placed())),
            FirstAnswer::Refused(reason) => Placement::Refused(reason),
            FirstAnswer::Unavailable => Placement::Unavailable,
        })
    }
}

/// What reserving every line came to.
pub enum Reserved {
    /// Every line's units are held under the order's id.
    Held,
    /// A line was refused; the lines held before it were given back.
    Refused(RejectReason, String),
    /// A reservation under this id exists but was given back: an earlier
    /// request with this key was refused or cancelled, or expired unpaid.
    GivenBack,
    /// The same key was used with another quantity of a SKU.
    KeyReused,
    /// No decision in time; what is held stays held for a retry (or expires).
    Unavailable(InventoryError),
}

/// Reserves the lines in SKU order; one refusal gives back the others.
pub async fn reserve_all(
    stock: &dyn StockPort,
    items: &[(SkuId, Quantity)],
    rid: &ReservationId,
    buyer: UserId,
) -> Reserved {
    for (i, (sku, qty)) in items.iter().enumerate() {
        let refusal = match stock.reserve(*sku, rid.clone(), buyer, *qty).await {
            Ok(()) => continue,
            Err(InventoryError::Rejected(r)) => match RejectReason::from_rejection(&r) {
                Some(reason) => (reason, format!("SKU {sku}: {r}")),
                None => return Reserved::KeyReused,
            },
            Err(InventoryError::Ledger(_)) => {
                give_back(stock, &items[..i], rid).await;
                return Reserved::GivenBack;
            }
            Err(e) => return Reserved::Unavailable(e),
        };
        give_back(stock, &items[..i], rid).await;
        return Reserved::Refused(refusal.0, refusal.1);
    }
    Reserved::Held
}

/// Releases what `rid` holds on `skus`. Best effort: what stays held
/// expires with the reservation TTL.
pub async fn give_back(stock: &dyn StockPort, items: &[(SkuId, Quantity)], rid: &ReservationId) {
    for (sku, _) in items {
        if let Err(e) = stock.release(*sku, rid.clone()).await {
            tracing::warn!(%sku, error = %e, "could not give back a reservation");
        }
    }
}

/// The outcome of an order whose stock is held: awaiting payment (or
/// paying at once), accepted.
pub fn accepted(pay_on_place: bool) -> Outcome {
    Outcome {
        status: OrderStatus::AwaitingPayment,
        step: if pay_on_place {
            Step::Authorize
        } else {
            Step::AwaitPayment
        },
        reason: None,
        kind: "reserved",
        detail: None,
        answer: FirstAnswer::Accepted,
    }
}

/// The outcome of a refused order: REJECTED.
pub fn refused(reason: RejectReason, detail: String) -> Outcome {
    Outcome {
        status: OrderStatus::Rejected,
        step: Step::Done,
        reason: Some(Reason::Rejected(reason)),
        kind: "rejected",
        detail: Some(detail),
        answer: FirstAnswer::Refused(reason),
    }
}
