//! The events an order publishes: `created` when an accepted order is
//! written, then one per recorded saga step that is news outside the shop.
//! Each carries the whole order as it stands after the change (schema in
//! `docs/events.md`), and an id keyed by the order's creation and event
//! number, so the same step always names the same event.

use serde_json::{Value, json};

use super::records::{NewOrder, OrderRecord, Transition};
use crate::domain::events::{DomainEvent, EventKind};
use crate::domain::order::{OrderStatus, Step};
use crate::domain::reason::Reason;
use crate::domain::time::Timestamp;

impl NewOrder {
    /// `created`, for an order placing accepted; none for a refusal.
    pub fn created_event(&self) -> Option<DomainEvent> {
        if self.outcome.status == OrderStatus::Rejected {
            return None;
        }
        let o = OrderRecord::placed(self.clone());
        let data = o.data(o.status, o.step, o.reason, None);
        Some(o.event(EventKind::OrderCreated, "created", self.created_at, data))
    }
}

impl OrderRecord {
    /// The event step `t` of this order publishes at `at`, if any.
    pub fn step_event(&self, t: &Transition, at: Timestamp) -> Option<DomainEvent> {
        let kind = EventKind::of_order_step(t.kind)?;
        let data = self.data(t.status, t.step, t.reason, t.tracking.as_deref());
        Some(self.event(kind, &t.seq.to_string(), at, data))
    }

    /// Keyed by the order's creation too: an order forgotten unanswered
    /// and placed again under the same id (`forget_unanswered_order`) is
    /// a new order, whose events are new events.
    fn event(&self, kind: EventKind, key: &str, at: Timestamp, data: Value) -> DomainEvent {
        let key = format!("{}/{key}", self.created_at.millis());
        DomainEvent::keyed(kind, format!("orders/{}", self.id), &key, at, data)
    }

    fn data(
        &self,
        status: OrderStatus,
        step: Step,
        reason: Option<Reason>,
        tracking: Option<&str>,
    ) -> Value {
        let items: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({
                    "sku_id": l.sku.get(),
                    "product_id": l.product_id.get(),
                    "seller_id": l.seller_id.get(),
                    "quantity": l.quantity.as_i64(),
                    "unit_price": l.unit_price.minor_units(),
                })
            })
            .collect();
        json!({
            "order_id": self.id.to_string(),
            "buyer_id": self.buyer.get(),
            "status": status.as_str(),
            "step": step.as_str(),
            "reason": reason.map(Reason::code),
            "tracking": tracking,
            "total": self.total.minor_units(),
            "currency": self.currency.as_str(),
            "shipping_address": self.shipping_address,
            "payment_due_at": self.payment_due_at.to_rfc3339(),
            "created_at": self.created_at.to_rfc3339(),
            "items": items,
        })
    }
}
