//! Why an order did not go the happy way, and the first answer its
//! placement got. Every reason has one stable code, written once here: it
//! is stored with the order, shown in its view, and it is the problem
//! `code` HTTP answers with.

use serde::{Serialize, Serializer};
use std::fmt;

use super::ledger::Rejection;

/// Why an order was refused at placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    OutOfStock,
    NotOnSale,
    PurchaseLimitExceeded,
}

impl RejectReason {
    pub const ALL: [RejectReason; 3] = [
        RejectReason::OutOfStock,
        RejectReason::NotOnSale,
        RejectReason::PurchaseLimitExceeded,
    ];

    /// The order-level reason for a SKU's refusal; a reused reservation id
    /// is not a business refusal (the order id is fresh, so it is a bug).
    pub fn from_rejection(r: &Rejection) -> Option<Self> {
        match r {
            Rejection::OutOfStock { .. } => Some(RejectReason::OutOfStock),
            Rejection::NotOnSale { .. } => Some(RejectReason::NotOnSale),
            Rejection::LimitExceeded { .. } => Some(RejectReason::PurchaseLimitExceeded),
            Rejection::IdReused => None,
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            RejectReason::OutOfStock => "not enough stock for this order",
            RejectReason::NotOnSale => "an item is not on sale now",
            RejectReason::PurchaseLimitExceeded => "the order exceeds a per-buyer limit",
        }
    }
}

/// Why a placed order ended without delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    BuyerCancelled,
    PaymentDeclined,
    PaymentTimedOut,
    /// Not paid by `payment_due_at`.
    PaymentExpired,
    ShipmentFailed,
    /// The reservation could not become a sale (it expired first).
    StockLost,
}

impl CancelReason {
    pub const ALL: [CancelReason; 6] = [
        CancelReason::BuyerCancelled,
        CancelReason::PaymentDeclined,
        CancelReason::PaymentTimedOut,
        CancelReason::PaymentExpired,
        CancelReason::ShipmentFailed,
        CancelReason::StockLost,
    ];

    /// The event logged when compensation for this reason starts.
    pub fn event(self) -> &'static str {
        match self {
            CancelReason::BuyerCancelled => "cancel_requested",
            CancelReason::PaymentDeclined => "payment_declined",
            CancelReason::PaymentTimedOut => "payment_timed_out",
            CancelReason::PaymentExpired => "payment_expired",
            CancelReason::ShipmentFailed => "shipment_failed",
            CancelReason::StockLost => "stock_lost",
        }
    }

    /// A failed payment: the buyer paying is told with this code.
    pub fn is_payment_failure(self) -> bool {
        matches!(
            self,
            CancelReason::PaymentDeclined
                | CancelReason::PaymentTimedOut
                | CancelReason::PaymentExpired
        )
    }
}

/// Why an order is not (or will not be) delivered: the `reason` of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Rejected(RejectReason),
    Cancelled(CancelReason),
    /// Stock could not be decided in time. Only read, in rows of earlier
    /// releases: a 503 is never stored as an answer, and such an order's key
    /// is judged again.
    Unavailable,
}

impl Reason {
    /// The one code table: stored, shown and answered.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Rejected(RejectReason::OutOfStock) => "OUT_OF_STOCK",
            Reason::Rejected(RejectReason::NotOnSale) => "NOT_ON_SALE",
            Reason::Rejected(RejectReason::PurchaseLimitExceeded) => "PURCHASE_LIMIT_EXCEEDED",
            Reason::Cancelled(CancelReason::BuyerCancelled) => "BUYER_CANCELLED",
            Reason::Cancelled(CancelReason::PaymentDeclined) => "PAYMENT_DECLINED",
            Reason::Cancelled(CancelReason::PaymentTimedOut) => "PAYMENT_TIMED_OUT",
            Reason::Cancelled(CancelReason::PaymentExpired) => "PAYMENT_EXPIRED",
            Reason::Cancelled(CancelReason::ShipmentFailed) => "SHIPMENT_FAILED",
            Reason::Cancelled(CancelReason::StockLost) => "STOCK_LOST",
            Reason::Unavailable => "UNAVAILABLE",
        }
    }

    pub fn all() -> impl Iterator<Item = Reason> {
        let rejected = RejectReason::ALL.into_iter().map(Reason::Rejected);
        let cancelled = CancelReason::ALL.into_iter().map(Reason::Cancelled);
        rejected
            .chain(cancelled)
            .chain(std::iter::once(Reason::Unavailable))
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::all().find(|r| r.code() == code)
    }
}

impl RejectReason {
    pub fn code(self) -> &'static str {
        Reason::Rejected(self).code()
    }
}

impl CancelReason {
    pub fn code(self) -> &'static str {
        Reason::Cancelled(self).code()
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// The first answer a placement got, replayed to every retry with its
/// Idempotency-Key (Stripe's rule). A domain value: `http/` renders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstAnswer {
    /// The order was created (and its stock held): the order as placed.
    Accepted,
    /// Refused for this reason; nothing is held.
    Refused(RejectReason),
    /// Stock could not be decided in time. Only read, in rows of earlier
    /// releases: a 503 is never stored as an answer, and such an order's key
    /// is judged again.
    Unavailable,
}

impl FirstAnswer {
    const ACCEPTED: &'static str = "ACCEPTED";

    /// How it is stored: `ACCEPTED`, or the reason's code.
    pub fn code(self) -> &'static str {
        match self {
            FirstAnswer::Accepted => Self::ACCEPTED,
            FirstAnswer::Refused(r) => r.code(),
            FirstAnswer::Unavailable => Reason::Unavailable.code(),
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        if code == Self::ACCEPTED {
            return Some(FirstAnswer::Accepted);
        }
        match Reason::parse(code)? {
            Reason::Rejected(r) => Some(FirstAnswer::Refused(r)),
            Reason::Unavailable => Some(FirstAnswer::Unavailable),
            Reason::Cancelled(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_distinct_and_round_trips() {
        let codes: Vec<&str> = Reason::all().map(Reason::code).collect();
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len(), "{codes:?}");
        for r in Reason::all() {
            assert_eq!(Reason::parse(r.code()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.code());
        }
        assert_eq!(Reason::parse("out_of_stock"), None);
    }

    #[test]
    fn first_answers_round_trip() {
        let answers = [FirstAnswer::Accepted, FirstAnswer::Unavailable]
            .into_iter()
            .chain(RejectReason::ALL.into_iter().map(FirstAnswer::Refused));
        for a in answers {
            assert_eq!(FirstAnswer::parse(a.code()), Some(a));
        }
        assert_eq!(FirstAnswer::parse("BUYER_CANCELLED"), None);
        assert_eq!(FirstAnswer::parse("201"), None);
    }

    #[test]
    fn sku_refusals_map_to_order_reasons() {
        let r = Rejection::OutOfStock { available: 1 };
        assert_eq!(
            RejectReason::from_rejection(&r),
            Some(RejectReason::OutOfStock)
        );
        assert_eq!(RejectReason::from_rejection(&Rejection::IdReused), None);
    }
}
