//! How orders and their sagas look from the outside: the buyer's (and
//! seller's) view of an order, and the operator's view of a live saga.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::address::Address;
use crate::domain::ids::{OrderId, ProductId, SkuId, UserId};
use crate::domain::money::{Amount, Currency, Price};
use crate::domain::order::{OrderStatus, Step};
use crate::domain::quantity::Quantity;
use crate::domain::reason::Reason;
use crate::domain::time::Timestamp;
use crate::persistence::{OrderEventRecord, OrderRecord};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderItemView {
    pub sku_id: SkuId,
    pub product_id: ProductId,
    pub seller_id: UserId,
    pub quantity: Quantity,
    /// Minor units, at the price of the moment the order was placed.
    pub unit_price: Price,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    pub order_id: OrderId,
    pub status: OrderStatus,
    /// Why the order was rejected or cancelled, e.g. `OUT_OF_STOCK`.
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
    pub payment_due_at: Timestamp,
    pub items: Vec<OrderItemView>,
    /// Minor units.
    pub total: Amount,
    pub currency: Currency,
    pub shipping_address: String,
    /// The structured address the order was placed with (its own copy),
    /// when it was given one.
    pub shipping: Option<Address>,
    pub tracking: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<&OrderRecord> for OrderView {
    fn from(o: &OrderRecord) -> Self {
        Self {
            order_id: o.id,
            status: o.status,
            reason: o.reason,
            payment_due_at: o.payment_due_at,
            items: o
                .lines
                .iter()
                .map(|l| OrderItemView {
                    sku_id: l.sku,
                    product_id: l.product_id,
                    seller_id: l.seller_id,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                })
                .collect(),
            total: o.total,
            currency: o.currency,
            shipping_address: o.shipping_address.clone(),
            shipping: o.shipping.clone(),
            tracking: o.tracking.clone(),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderEventView {
    pub seq: i64,
    pub at: Timestamp,
    /// What happened, e.g. `reserved`, `payment_declined`, `stock_released`.
    pub kind: String,
    /// The order's status and saga step right after it.
    pub status: String,
    pub step: String,
    pub detail: Option<String>,
}

impl From<OrderEventRecord> for OrderEventView {
    fn from(e: OrderEventRecord) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            kind: e.kind,
            status: e.status,
            step: e.step,
            detail: e.detail,
        }
    }
}

/// An order's saga as the operator sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SagaView {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub step: Step,
    /// Whether a saga actor is running for it right now.
    pub live: bool,
    /// Retries of the current step.
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Times the saga was restarted by its supervisor.
    pub restarts: u32,
    pub payment_due_at: Timestamp,
    pub updated_at: Timestamp,
}

impl SagaView {
    /// The stored state of an order with no saga running.
    pub fn at_rest(o: &OrderRecord) -> Self {
        Self {
            order_id: o.id,
            status: o.status,
            step: o.step,
            live: false,
            attempts: o.attempts,
            last_error: None,
            restarts: 0,
            payment_due_at: o.payment_due_at,
            updated_at: o.updated_at,
        }
    }
}

/// An order whose saga could not be resumed: it is retried every
/// `orders.resume_retry_ms` until its saga starts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StuckOrderView {
    /// The id as stored (it may be the unreadable part).
    pub order_id: String,
    /// Why its saga could not start, e.g. `stored data is invalid: order status X`.
    pub reason: String,
    /// When it was first found stuck.
    pub since: Timestamp,
    pub last_attempt_at: Timestamp,
    /// Tries so far, the first one at start-up included.
    pub attempts: u32,
}

/// The operator's list: running sagas, and orders whose saga could not start.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SagaList {
    pub sagas: Vec<SagaView>,
    pub stuck: Vec<StuckOrderView>,
}
