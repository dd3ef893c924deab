//! Domain events: what other systems learn from the shop, as CloudEvents 1.0.
//!
//! An event is built where its change is decided, appended to the outbox in
//! the transaction that makes the change durable, and relayed to NATS
//! JetStream under `<prefix>.<area>.<name>`. Its `id` is the JetStream
//! `Nats-Msg-Id`, so a row published twice is deduplicated by the stream.
//! The types, their subjects and their data schemas (version 1) are listed
//! in `docs/events.md`; a change to a schema is a new version, never an edit.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::domain::ids::SkuId;
use crate::domain::ledger::{Milestone, SkuHeader};
use crate::domain::rules::SaleRules;
use crate::domain::time::Timestamp;

/// Where an event comes from; the middle part of its type and subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Orders,
    Stock,
    Accounts,
}

/// Every event type, with its public name. Order names follow the order's
/// life as a consumer sees it, not the saga's internal steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    OrderCreated,
    OrderPaymentRequested,
    OrderPaymentAuthorized,
    OrderPaid,
    OrderStockCommitted,
    OrderDeliveryRequested,
    OrderShipped,
    OrderDelivered,
    OrderCompensating,
    OrderCancelled,
    OrderRejected,
    StockRestocked,
    StockSoldOut,
    StockBackInStock,
    StockSaleOpened,
    StockSaleClosed,
    AccountSignedUp,
    AccountWithdrawn,
}

impl EventKind {
    pub const ALL: [EventKind; 18] = [
        EventKind::OrderCreated,
        EventKind::OrderPaymentRequested,
        EventKind::OrderPaymentAuthorized,
        EventKind::OrderPaid,
        EventKind::OrderStockCommitted,
        EventKind::OrderDeliveryRequested,
        EventKind::OrderShipped,
        EventKind::OrderDelivered,
        EventKind::OrderCompensating,
        EventKind::OrderCancelled,
        EventKind::OrderRejected,
        EventKind::StockRestocked,
        EventKind::StockSoldOut,
        EventKind::StockBackInStock,
        EventKind::StockSaleOpened,
        EventKind::StockSaleClosed,
        EventKind::AccountSignedUp,
        EventKind::AccountWithdrawn,
    ];

    pub fn area(self) -> Area {
        use EventKind as K;
        match self {
            K::OrderCreated
            | K::OrderPaymentRequested
            | K::OrderPaymentAuthorized
            | K::OrderPaid
            | K::OrderStockCommitted
            | K::OrderDeliveryRequested
            | K::OrderShipped
            | K::OrderDelivered
            | K::OrderCompensating
            | K::OrderCancelled
            | K::OrderRejected => Area::Orders,
            K::StockRestocked
            | K::StockSoldOut
            | K::StockBackInStock
            | K::StockSaleOpened
            | K::StockSaleClosed => Area::Stock,
            K::AccountSignedUp | K::AccountWithdrawn => Area::Accounts,
        }
    }

    /// The last part of the subject and type.
    pub fn name(self) -> &'static str {
        use EventKind as K;
        match self {
            K::OrderCreated => "created",
            K::OrderPaymentRequested => "payment_requested",
            K::OrderPaymentAuthorized => "payment_authorized",
            K::OrderPaid => "paid",
            K::OrderStockCommitted => "stock_committed",
            K::OrderDeliveryRequested => "delivery_requested",
            K::OrderShipped => "shipped",
            K::OrderDelivered => "delivered",
            K::OrderCompensating => "compensating",
            K::OrderCancelled => "cancelled",
            K::OrderRejected => "rejected",
            K::StockRestocked => "restocked",
            K::StockSoldOut => "sold_out",
            K::StockBackInStock => "back_in_stock",
            K::StockSaleOpened => "sale_opened",
            K::StockSaleClosed => "sale_closed",
            K::AccountSignedUp => "signed_up",
            K::AccountWithdrawn => "withdrawn",
        }
    }

    /// The CloudEvents `type`: `stampede.<area>.<name>`, whatever subject
    /// prefix the broker uses.
    pub fn type_name(self) -> String {
        format!("stampede.{}", self.suffix())
    }

    /// `<area>.<name>`, the part of the subject after the prefix.
    pub fn suffix(self) -> String {
        let area = match self.area() {
            Area::Orders => "orders",
            Area::Stock => "stock",
            Area::Accounts => "accounts",
        };
        format!("{area}.{}", self.name())
    }

    pub fn from_type_name(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.type_name() == raw)
    }

    /// The public event of a recorded saga step (its `order_events.kind`),
    /// or `None` for steps that are not news outside the shop. Compensation
    /// starts under the reason's own kind (`payment_declined`,
    /// `payment_expired`, `cancel_requested`, …): all of them are
    /// `compensating`, with the reason in the data.
    pub fn of_order_step(kind: &str) -> Option<Self> {
        use EventKind as K;
        Some(match kind {
            "payment_requested" => K::OrderPaymentRequested,
            "payment_authorized" => K::OrderPaymentAuthorized,
            "payment_captured" => K::OrderPaid,
            "stock_committed" => K::OrderStockCommitted,
            "shipment_created" => K::OrderDeliveryRequested,
            "shipped" => K::OrderShipped,
            "delivered" => K::OrderDelivered,
            "cancelled" => K::OrderCancelled,
            "rejected" => K::OrderRejected,
            // Placing writes `placed` and `reserved` with the row: that is
            // `created`, emitted once by the insert.
            "placed" | "reserved" => return None,
            _ => K::OrderCompensating,
        })
    }
}

/// Schema version of every type's `data`; bumped per type when one changes.
pub const DATA_VERSION: u32 = 1;

/// One event, as appended to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    pub id: Uuid,
    pub kind: EventKind,
    /// What it is about, as CloudEvents `subject`: `orders/<id>`,
    /// `skus/<id>`, `users/<id>`.
    pub subject: String,
    pub time: Timestamp,
    pub data: Value,
}

/// Names events whose id must be the same every time they are built, so
/// that appending them twice is a no-op (`OrderId`'s namespace pattern).
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_9a4d_4e57_8c1b_2f60_d4a9_e713);

impl DomainEvent {
    /// An event with a fresh id: for changes that happen once.
    pub fn new(kind: EventKind, subject: String, time: Timestamp, data: Value) -> Self {
        Self {
            id: Uuid::new_v4(),
            kind,
            subject,
            time,
            data,
        }
    }

    /// An event whose id derives from `key`: built again, it is the same
    /// event (an order's n-th step, a sale opening at a given time).
    pub fn keyed(
        kind: EventKind,
        subject: String,
        key: &str,
        time: Timestamp,
        data: Value,
    ) -> Self {
        let id = Uuid::new_v5(
            &EVENT_NAMESPACE,
            format!("{}\n{subject}\n{key}", kind.type_name()).as_bytes(),
        );
        Self {
            id,
            kind,
            subject,
            time,
            data,
        }
    }

    /// The CloudEvents 1.0 structured-mode JSON envelope.
    pub fn envelope<'a>(&'a self, source: &'a str) -> CloudEvent<'a> {
        CloudEvent {
            specversion: "1.0",
            id: self.id.to_string(),
            source,
            kind: self.kind.type_name(),
            subject: &self.subject,
            time: self.time.to_rfc3339(),
            datacontenttype: "application/json",
            dataschema: format!("urn:stampede:events:{}:v{DATA_VERSION}", self.kind.suffix()),
            data: &self.data,
        }
    }
}

/// A stock milestone of a SKU whose header is now `header`.
pub fn stock_milestone(m: Milestone, header: &SkuHeader, at: Timestamp) -> DomainEvent {
    let (kind, added) = match m {
        Milestone::Restocked { added } => (EventKind::StockRestocked, Some(added)),
        Milestone::SoldOut => (EventKind::StockSoldOut, None),
        Milestone::BackInStock => (EventKind::StockBackInStock, None),
    };
    let l = header.levels;
    let mut data = serde_json::json!({
        "sku_id": header.sku.get(),
        "on_hand": l.on_hand,
        "reserved": l.reserved,
        "sold": l.sold,
        "available": l.available(),
    });
    if let (Some(added), Some(map)) = (added, data.as_object_mut()) {
        map.insert("added".into(), added.into());
    }
    DomainEvent::new(kind, format!("skus/{}", header.sku.get()), at, data)
}

/// A SKU's sale window opening or closing at `at`. Keyed by the instant,
/// so the sale clock may announce it twice and it is still one event.
pub fn sale_window(kind: EventKind, sku: SkuId, rules: &SaleRules, at: Timestamp) -> DomainEvent {
    let data = serde_json::json!({
        "sku_id": sku.get(),
        "opens_at": rules.opens_at.map(Timestamp::to_rfc3339),
        "closes_at": rules.closes_at.map(Timestamp::to_rfc3339),
    });
    DomainEvent::keyed(
        kind,
        format!("skus/{}", sku.get()),
        &at.millis().to_string(),
        at,
        data,
    )
}

/// CloudEvents 1.0 attributes (structured mode, JSON format).
#[derive(Debug, Serialize)]
pub struct CloudEvent<'a> {
    pub specversion: &'static str,
    pub id: String,
    pub source: &'a str,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: &'a str,
    pub time: String,
    pub datacontenttype: &'static str,
    pub dataschema: String,
    pub data: &'a Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_type_and_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for k in EventKind::ALL {
            assert!(seen.insert(k.type_name()), "{k:?} repeats a type");
            assert_eq!(EventKind::from_type_name(&k.type_name()), Some(k));
        }
    }

    #[test]
    fn keyed_events_are_the_same_event_when_built_again() {
        let at = Timestamp::from_millis(1);
        let a = DomainEvent::keyed(
            EventKind::OrderPaid,
            "orders/x".into(),
            "4",
            at,
            Value::Null,
        );
        let b = DomainEvent::keyed(
            EventKind::OrderPaid,
            "orders/x".into(),
            "4",
            at,
            Value::Null,
        );
        let c = DomainEvent::keyed(
            EventKind::OrderPaid,
            "orders/x".into(),
            "5",
            at,
            Value::Null,
        );
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn saga_steps_map_to_public_names() {
        assert_eq!(
            EventKind::of_order_step("payment_captured"),
            Some(EventKind::OrderPaid)
        );
        assert_eq!(EventKind::of_order_step("placed"), None);
        assert_eq!(
            EventKind::of_order_step("payment_declined"),
            Some(EventKind::OrderCompensating)
        );
        assert_eq!(EventKind::OrderPaid.type_name(), "stampede.orders.paid");
    }

    #[test]
    fn the_envelope_carries_the_cloudevents_attributes() {
        let e = DomainEvent::new(
            EventKind::StockSoldOut,
            "skus/7".into(),
            Timestamp::from_millis(0),
            serde_json::json!({"sku_id": 7}),
        );
        let v = serde_json::to_value(e.envelope("/stampede")).expect("json");
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["type"], "stampede.stock.sold_out");
        assert_eq!(v["subject"], "skus/7");
        assert_eq!(v["id"], e.id.to_string());
        assert_eq!(v["data"]["sku_id"], 7);
        assert_eq!(v["time"], "1970-01-01T00:00:00.000Z");
    }
}
