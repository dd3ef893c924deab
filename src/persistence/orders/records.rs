//! The order as the store holds it: a new order with the outcome of its
//! placement, the record read back, its lines, the writes the order writer
//! group-commits, and the events of its log.

use crate::domain::address::Address;
use crate::domain::events::DomainEvent;
use crate::domain::ids::{OrderId, ProductId, SkuId, UserId};
use crate::domain::money::{Amount, Currency, Price};
use crate::domain::order::{OrderStatus, Step};
use crate::domain::quantity::Quantity;
use crate::domain::reason::{FirstAnswer, Reason};
use crate::domain::time::Timestamp;

/// One line of an order, with the price and seller it was bought at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub sku: SkuId,
    pub product_id: ProductId,
    pub seller_id: UserId,
    pub quantity: Quantity,
    pub unit_price: Price,
}

/// A SKU on a live product, as placing an order prices it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuOffer {
    pub sku: SkuId,
    pub product_id: ProductId,
    pub seller_id: UserId,
    pub price: Price,
    pub currency: Currency,
    /// The seller has withdrawn: the SKU is no longer for sale.
    pub seller_withdrawn: bool,
}

#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: OrderId,
    pub buyer: UserId,
    pub idempotency_key: String,
    pub request_hash: String,
    pub total: Amount,
    pub currency: Currency,
    pub shipping_address: String,
    /// The structured address, copied: the address book may change later.
    pub shipping: Option<Address>,
    /// The saved payment method's provider token, when paid with one.
    pub payment_token: Option<String>,
    pub pay_on_place: bool,
    pub payment_due_at: Timestamp,
    pub lines: Vec<OrderLine>,
    pub created_at: Timestamp,
    /// What placing decided, written with the order in one go.
    pub outcome: Outcome,
}

/// The decision taken before an order is written: its stock reserved (or
/// refused), and the first answer given to the buyer.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: OrderStatus,
    pub step: Step,
    pub reason: Option<Reason>,
    /// Kind of the event after `placed`, e.g. `reserved` or `rejected`.
    pub kind: &'static str,
    pub detail: Option<String>,
    pub answer: FirstAnswer,
}

#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub id: OrderId,
    pub buyer: UserId,
    pub request_hash: String,
    pub status: OrderStatus,
    pub step: Step,
    pub reason: Option<Reason>,
    pub total: Amount,
    pub currency: Currency,
    pub shipping_address: String,
    /// The structured address the order was placed with, if any.
    pub shipping: Option<Address>,
    /// The saved payment method's provider token, when paid with one.
    pub payment_token: Option<String>,
    pub pay_on_place: bool,
    pub payment_due_at: Timestamp,
    pub tracking: Option<String>,
    pub attempts: u32,
    /// The first answer to the placing request, once it has one.
    pub first_answer: Option<FirstAnswer>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub lines: Vec<OrderLine>,
    /// Number of the order's latest event.
    pub last_seq: i64,
}

/// A write the order writer group-commits.
#[derive(Debug, Clone)]
pub enum OrderWrite {
    Insert(NewOrder),
    Transition { order_id: OrderId, step: Transition },
}

impl OrderRecord {
    /// The order exactly as [`Store::write_orders`](crate::persistence::Store::write_orders) writes `order`.
    pub fn placed(order: NewOrder) -> Self {
        let at = order.created_at;
        Self {
            id: order.id,
            buyer: order.buyer,
            request_hash: order.request_hash,
            status: order.outcome.status,
            step: order.outcome.step,
            reason: order.outcome.reason,
            total: order.total,
            currency: order.currency,
            shipping_address: order.shipping_address,
            shipping: order.shipping,
            payment_token: order.payment_token,
            pay_on_place: order.pay_on_place,
            payment_due_at: order.payment_due_at,
            tracking: None,
            attempts: 0,
            first_answer: Some(order.outcome.answer),
            created_at: at,
            updated_at: at,
            lines: order.lines,
            last_seq: 2,
        }
    }

    /// The order as it stood when placed: what an accepted first answer
    /// shows, to the buyer then and to every retry since.
    pub fn as_placed(&self) -> Self {
        Self {
            status: OrderStatus::AwaitingPayment,
            step: if self.pay_on_place {
                Step::Authorize
            } else {
                Step::AwaitPayment
            },
            reason: None,
            tracking: None,
            attempts: 0,
            updated_at: self.created_at,
            last_seq: 2,
            ..self.clone()
        }
    }
}

/// One saga step taken: the new row values and the event that explains it.
#[derive(Debug, Clone)]
pub struct Transition {
    /// Number of the event this step appends (the previous one's + 1).
    pub seq: i64,
    pub status: OrderStatus,
    pub step: Step,
    pub reason: Option<Reason>,
    pub tracking: Option<String>,
    pub attempts: u32,
    pub kind: &'static str,
    pub detail: Option<String>,
    /// The first answer, when this step gives it.
    pub answer: Option<FirstAnswer>,
    /// What the step publishes, appended to the outbox with it.
    pub event: Option<DomainEvent>,
}

#[derive(Debug, Clone)]
pub struct OrderEventRecord {
    pub seq: i64,
    pub at: Timestamp,
    pub kind: String,
    pub status: String,
    pub step: String,
    pub detail: Option<String>,
}
