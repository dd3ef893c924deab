//! Placing an order, stock first. Every line is reserved under the order's
//! id before anything is written: a refused purchase (most of a drop) is
//! answered at once and its record written behind, and only an order that
//! holds its stock waits for its row to commit before its 201.
//!
//! The order id, and so the reservation id, is derived from the buyer and
//! the Idempotency-Key. A retry after a timeout, a crash or a database
//! outage finds the reservation it already made instead of taking more.

use actix_web::http::StatusCode;

use crate::actors::stock::InventoryError;
use crate::actors::stock::StockPort;
use crate::domain::ids::{ReservationId, SkuId, UserId};
use crate::domain::order::{OrderStatus, RejectReason, Step};
use crate::domain::quantity::Quantity;
use crate::http::problem::Problem;
use crate::persistence::{NewOrder, OrderRecord, Outcome};

use super::views::OrderView;
use super::saga::Placement;

/// Orders' ids: UUIDv5 of buyer and key under this namespace.
const ORDER_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5a3c_9d1e_07b4_4f62_a8e1_3c0f_d2b7_6e95);

/// The id of the order `buyer` places under `key`: the same for every retry.
pub fn order_id(buyer: UserId, key: &str) -> String {
    uuid::Uuid::new_v5(&ORDER_NAMESPACE, format!("{}\n{key}", buyer.0).as_bytes()).to_string()
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

/// Sets the outcome of an order whose stock is held: awaiting payment (or
/// paying at once), answered 201 with the order as written. Also answers
/// that order as its saga starts from it, so it is built once.
pub fn accept(order: &mut NewOrder) -> Result<(Placement, OrderRecord), serde_json::Error> {
    let step = if order.pay_on_place {
        Step::Authorize
    } else {
        Step::AwaitPayment
    };
    order.outcome = Outcome {
        status: OrderStatus::AwaitingPayment,
        step,
        reason: None,
        kind: "reserved",
        detail: None,
        response: (201, String::new()),
    };
    let mut record = OrderRecord::placed(order.clone());
    let body = serde_json::to_string(&OrderView::from(&record))?;
    order.outcome.response.1.clone_from(&body);
    record.response = Some((201, body.clone()));
    Ok(((201, body), record))
}

/// Sets the outcome of a refused order: REJECTED, answered 409.
pub fn refuse(
    order: &mut NewOrder,
    reason: RejectReason,
    detail: String,
) -> Result<Placement, serde_json::Error> {
    let problem = Problem::new(StatusCode::CONFLICT, reason.code(), reason.detail().into());
    let answer = (problem.status, serde_json::to_string(&problem)?);
    order.outcome = Outcome {
        status: OrderStatus::Rejected,
        step: Step::Done,
        reason: Some(reason.code().into()),
        kind: "rejected",
        detail: Some(detail),
        response: answer.clone(),
    };
    Ok(answer)
}
