//! The control room's one message: everything the page shows, as the
//! pulse builds it about twice a second from in-memory counters. Its schema
//! is in the OpenAPI document (`GET /api/v1/admin/live` sends it as the
//! `data` of each `snapshot` event).

use serde::Serialize;
use utoipa::ToSchema;

use super::window::RequestSecond;
use crate::actors::incidents::Incident;
use crate::domain::ids::SkuId;
use crate::domain::time::Timestamp;
use crate::events::BrokerState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiveSnapshot {
    /// When the server built it; the page counts down against this clock.
    pub at: Timestamp,
    /// Increases by one per snapshot built since the server started.
    pub seq: u64,
    /// The busiest active SKUs (by purchases in the last interval, then
    /// since activation), at most 20.
    pub skus: Vec<HotSku>,
    pub engine: EngineLive,
    pub orders: OrdersLive,
    /// The newest incidents first, at most 20.
    pub incidents: Vec<Incident>,
    /// Requests per second and latency percentiles, oldest first.
    pub requests: Vec<RequestSecond>,
}

/// One SKU as its actor has it in memory right now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HotSku {
    pub sku_id: SkuId,
    pub on_hand: i64,
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
    pub on_sale: bool,
    pub opens_at: Option<Timestamp>,
    pub closes_at: Option<Timestamp>,
    /// Milliseconds until the sale opens; absent once open (or unscheduled).
    pub opens_in_ms: Option<i64>,
    /// Requests waiting in its actor's mailbox.
    pub mailbox_depth: i64,
    /// Purchase requests since its actor was activated, by outcome.
    pub purchases: PurchaseTally,
    /// Purchase requests per second over the last interval, by outcome.
    pub per_second: PurchaseRates,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct PurchaseTally {
    pub reserved: u64,
    pub out_of_stock: u64,
    pub limit: u64,
    pub not_on_sale: u64,
    pub overloaded: u64,
    /// Replayed answers, unknown SKUs, reused ids.
    pub other: u64,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct PurchaseRates {
    pub reserved: f64,
    pub out_of_stock: f64,
    pub limit: f64,
    pub not_on_sale: f64,
    pub overloaded: f64,
    pub other: f64,
}

/// The inventory engine and the order writer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EngineLive {
    pub active_sku_actors: usize,
    /// Requests waiting in SKU mailboxes, summed.
    pub sku_mailbox_depth: i64,
    /// Stock changes waiting for the persister's next batch.
    pub persister_queue: i64,
    pub persister_queue_max: usize,
    /// Changes in the persister's last committed batch.
    pub last_batch_size: u64,
    /// How long that batch took to commit, in milliseconds.
    pub last_flush_ms: f64,
    pub batches_committed: u64,
    /// True while the persister's last flush failed.
    pub persister_failing: bool,
    /// Order rows and saga steps waiting for the order writer.
    pub order_writer_queue: usize,
    pub restarts: Restarts,
    /// The event outbox relay; `null` while this build has no outbox.
    pub outbox: Option<OutboxLive>,
}

/// Actor restarts after a panic, since start.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Restarts {
    /// Summed over active SKU actors.
    pub sku_actors: u64,
    pub persister: u64,
    pub sagas: u64,
}

/// How far the outbox relay is behind.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxLive {
    /// Events written and not yet published.
    pub unpublished: u64,
    /// Age of the oldest unpublished event, in milliseconds.
    pub lag_ms: Option<u64>,
    /// Whether the relay reaches its broker right now.
    pub connected: bool,
    /// Where the relay stands with the broker (`unconfigured`: no broker
    /// set, events are read at the admin feed).
    pub broker: BrokerState,
}

/// Orders as their sagas have them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrdersLive {
    /// Live sagas per order status (every status, zeros included).
    pub live: Vec<StatusCount>,
    pub live_total: i64,
    /// Sagas undoing payment, parcel and stock right now.
    pub compensating: i64,
    /// Sagas that ended since start, per final status.
    pub ended: Vec<StatusCount>,
    pub payments: PaymentTally,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusCount {
    /// An order status, e.g. `AWAITING_PAYMENT`.
    pub status: &'static str,
    pub count: i64,
}

/// Payment authorisations since start, by answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentTally {
    pub authorised: u64,
    pub declined: u64,
    pub timed_out: u64,
    /// The provider could not be reached (retried).
    pub unreachable: u64,
}
