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
use crate::domain::time::Timestamp;
use crate::persistence::{OrderRecord, Outcome};

/// The first answer to a placement, as a domain value; `http/` renders it.
#[derive(Debug, Clone)]
pub enum Placement {
    /// Created, its stock held: the order as placed.
    Accepted(Box<OrderRecord>),
    /// Refused for this reason; nothing is held.
    Refused(RejectReason),
}

impl Placement {
    /// The first answer `order` got, if it has a final one. A 503 is not
    /// an answer (rows of earlier releases may say `UNAVAILABLE`).
    pub fn of(order: &OrderRecord) -> Option<Self> {
        match order.first_answer? {
            FirstAnswer::Accepted => Some(Placement::Accepted(Box::new(order.as_placed()))),
            FirstAnswer::Refused(reason) => Some(Placement::Refused(reason)),
            FirstAnswer::Unavailable => None,
        }
    }
}

/// What reserving the lines came to: how it ended, and what is held.
pub struct Attempt {
    pub end: End,
    /// Lines this request took (held now, by nobody else).
    pub taken: Vec<(SkuId, Quantity)>,
    /// Lines an earlier request with this key holds (replayed, not taken).
    pub replayed: Vec<(SkuId, Quantity)>,
    /// When the first of the held lines lapses.
    pub expires_at: Option<Timestamp>,
}

/// Where reserving the lines stopped. Nothing is given back here: what
/// may be given back depends on whether an order already carries the key.
pub enum End {
    /// Every line's units are held under the order's id.
    Held,
    /// A line was refused.
    Refused(RejectReason, String),
    /// A reservation under this id exists but was given back: an earlier
    /// request with this key was refused or cancelled, or expired unpaid.
    GivenBack,
    /// The same key was used with another quantity of a SKU.
    KeyReused,
    /// No decision in time.
    Unavailable(InventoryError),
}

/// Reserves the lines in SKU order, stopping at the first that is not held.
/// With `again`, lines given back are judged afresh (see
/// [`StockPort::reserve`]).
pub async fn reserve_all(
    stock: &dyn StockPort,
    items: &[(SkuId, Quantity)],
    rid: &ReservationId,
    buyer: UserId,
    again: bool,
) -> Attempt {
    let mut attempt = Attempt {
        end: End::Held,
        taken: Vec::new(),
        replayed: Vec::new(),
        expires_at: None,
    };
    for (sku, qty) in items {
        match stock.reserve(*sku, rid.clone(), buyer, *qty, again).await {
            Ok(hold) => {
                let held = if hold.fresh {
                    &mut attempt.taken
                } else {
                    &mut attempt.replayed
                };
                held.push((*sku, *qty));
                attempt.expires_at = Some(match attempt.expires_at {
                    Some(at) => at.min(hold.expires_at),
                    None => hold.expires_at,
                });
            }
            Err(e) => {
                attempt.end = match e {
                    InventoryError::Rejected(r) => match RejectReason::from_rejection(&r) {
                        Some(reason) => End::Refused(reason, format!("SKU {sku}: {r}")),
                        None => End::KeyReused,
                    },
                    InventoryError::Ledger(_) => End::GivenBack,
                    e => End::Unavailable(e),
                };
                return attempt;
            }
        }
    }
    attempt
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
