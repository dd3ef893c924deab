//! The mails the shop writes: what each says, built from plain values (the
//! verification code, an outbox event's data). Sending them is the mail
//! queue's business (`crate::mail`); nothing here does I/O.

use serde_json::Value;

use super::events::{DomainEvent, EventKind};

/// Why a mail is sent; stored with it and shown in the admin view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Verification,
    Welcome,
    OrderPaid,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Verification => "verification",
            MailKind::Welcome => "welcome",
            MailKind::OrderPaid => "order_paid",
            MailKind::OrderShipped => "order_shipped",
            MailKind::OrderDelivered => "order_delivered",
            MailKind::OrderCancelled => "order_cancelled",
        }
    }
}

/// One mail's content; the recipient is added by whoever queues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub kind: MailKind,
    pub subject: String,
    pub body: String,
}

/// The mail carrying a verification code and its link.
pub fn verification(code: &str, link: &str, minutes: u64) -> Letter {
    Letter {
        kind: MailKind::Verification,
        subject: format!("Your stampede verification code: {code}"),
        body: format!(
            "Welcome to stampede.\r\n\r\n\
             Your verification code is: {code}\r\n\r\n\
             Or open this link to verify your email address:\r\n{link}\r\n\r\n\
             The code and the link work once and expire in {minutes} minutes.\r\n\
             If you did not sign up, ignore this mail.\r\n"
        ),
    }
}

/// Whom an event's mail goes to: the account it names (`user_id` of
/// account events, `buyer_id` of order events).
pub fn recipient_of(event: &DomainEvent) -> Option<i64> {
    match event.kind {
        EventKind::AccountSignedUp => event.data.get("user_id")?.as_i64(),
        _ => event.data.get("buyer_id")?.as_i64(),
    }
}

/// Whether `kind` is an event buyers are mailed about.
pub fn is_notified(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::AccountSignedUp
            | EventKind::OrderPaid
            | EventKind::OrderShipped
            | EventKind::OrderDelivered
            | EventKind::OrderCancelled
    )
}

/// The notification of `event` for an account named `name`, or none for
/// events buyers are not mailed about. `payment_taken` says whether the
/// order's money was ever authorised (so a cancellation refunds it).
pub fn notification(event: &DomainEvent, name: &str, payment_taken: bool) -> Option<Letter> {
    let d = &event.data;
    let order = str_of(d, "order_id");
    let short = order.get(..8).unwrap_or(order.as_str()).to_owned();
    let total = money(d);
    let (kind, subject, body) = match event.kind {
        EventKind::AccountSignedUp => (
            MailKind::Welcome,
            "Welcome to stampede".to_owned(),
            format!(
                "Hello {name},\r\n\r\nyour stampede account is ready. \
                 Happy shopping, and good luck in the next drop.\r\n"
            ),
        ),
        EventKind::OrderPaid => (
            MailKind::OrderPaid,
            format!("Order {short} is paid"),
            format!(
                "Hello {name},\r\n\r\nwe received your payment of {total} for order {order}.\r\n\
                 {}\r\nWe will tell you when it ships.\r\n",
                items(d)
            ),
        ),
        EventKind::OrderShipped => (
            MailKind::OrderShipped,
            format!("Order {short} has shipped"),
            format!(
                "Hello {name},\r\n\r\norder {order} is on its way.\r\n\
                 Tracking number: {}\r\nShipping to: {}\r\n",
                str_or(d, "tracking", "not yet known"),
                str_of(d, "shipping_address"),
            ),
        ),
        EventKind::OrderDelivered => (
            MailKind::OrderDelivered,
            format!("Order {short} was delivered"),
            format!(
                "Hello {name},\r\n\r\norder {order} was delivered to {}.\r\n\
                 Enjoy it!\r\n",
                str_of(d, "shipping_address"),
            ),
        ),
        EventKind::OrderCancelled => {
            let reason = str_or(d, "reason", "UNKNOWN");
            let refund = if payment_taken {
                format!("Refund: your payment of {total} has been refunded.")
            } else {
                "Refund: none was due, no payment had been taken.".to_owned()
            };
            (
                MailKind::OrderCancelled,
                format!("Order {short} was cancelled"),
                format!(
                    "Hello {name},\r\n\r\norder {order} was cancelled.\r\n\
                     Reason: {reason} ({})\r\n{refund}\r\n",
                    explain(&reason)
                ),
            )
        }
        _ => return None,
    };
    Some(Letter {
        kind,
        subject,
        body,
    })
}

/// A cancellation reason code in words.
fn explain(reason: &str) -> &'static str {
    match reason {
        "BUYER_CANCELLED" => "you cancelled it",
        "PAYMENT_DECLINED" => "the payment was declined",
        "PAYMENT_TIMED_OUT" => "the payment provider did not answer",
        "PAYMENT_EXPIRED" => "it was not paid in time",
        "SHIPMENT_FAILED" => "the carrier could not take it",
        "STOCK_LOST" => "its reservation expired before payment",
        _ => "see your order history",
    }
}

fn str_of(d: &Value, key: &str) -> String {
    str_or(d, key, "")
}

fn str_or(d: &Value, key: &str, default: &str) -> String {
    d.get(key)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_owned()
}

/// `20000 KRW`: minor units and currency, as the order data has them.
fn money(d: &Value) -> String {
    let total = d.get("total").and_then(Value::as_i64).unwrap_or(0);
    format!("{total} {}", str_or(d, "currency", "KRW"))
}

/// One line per order item.
fn items(d: &Value) -> String {
    let Some(items) = d.get("items").and_then(Value::as_array) else {
        return String::new();
    };
    items
        .iter()
        .map(|i| {
            let n = |k: &str| i.get(k).and_then(Value::as_i64).unwrap_or(0);
            format!(
                "  - SKU {} x {} at {}\r\n",
                n("sku_id"),
                n("quantity"),
                n("unit_price")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::Timestamp;

    fn event(kind: EventKind, data: Value) -> DomainEvent {
        DomainEvent::new(kind, "orders/x".into(), Timestamp::from_millis(0), data)
    }

    #[test]
    fn a_cancellation_says_why_and_whether_money_comes_back() {
        let e = event(
            EventKind::OrderCancelled,
            serde_json::json!({"order_id": "5f0c3c1e-8a3b", "buyer_id": 4,
                               "reason": "BUYER_CANCELLED", "total": 2500, "currency": "KRW"}),
        );
        let paid = notification(&e, "Kim", true).expect("letter");
        assert_eq!(paid.kind, MailKind::OrderCancelled);
        assert!(paid.body.contains("BUYER_CANCELLED"), "{}", paid.body);
        assert!(paid.body.contains("refunded"), "{}", paid.body);
        assert!(paid.body.contains("2500 KRW"), "{}", paid.body);
        let unpaid = notification(&e, "Kim", false).expect("letter");
        assert!(unpaid.body.contains("no payment had been taken"));
        assert_eq!(recipient_of(&e), Some(4));
    }

    #[test]
    fn only_buyer_facing_events_are_mailed() {
        let e = event(EventKind::OrderStockCommitted, serde_json::json!({}));
        assert!(notification(&e, "Kim", false).is_none());
        assert!(!is_notified(EventKind::OrderStockCommitted));
        let welcome = event(
            EventKind::AccountSignedUp,
            serde_json::json!({"user_id": 9}),
        );
        assert_eq!(recipient_of(&welcome), Some(9));
        assert_eq!(
            notification(&welcome, "Kim", false).map(|l| l.kind),
            Some(MailKind::Welcome)
        );
    }
}
