//! The order state machine. `OrderStatus` is what buyers see; `Step` is
//! where the saga driving the order stands, persisted with every transition
//! so a saga killed mid-flight resumes exactly there.
//!
//! ```text
//! PENDING -reserve-> AWAITING_PAYMENT -authorize, capture-> PAID -commit stock,
//!   create shipment-> SHIPPING -> SHIPPED -> DELIVERED
//! PENDING -refused-> REJECTED          any live status -compensate-> CANCELLED
//! ```

use serde::{Deserialize, Serialize};

use std::fmt;
use utoipa::ToSchema;

/// What a buyer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Reserving stock; an order is answered only after it leaves this.
    Pending,
    AwaitingPayment,
    Paid,
    Shipping,
    Shipped,
    Delivered,
    Cancelled,
    Rejected,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Pending,
        OrderStatus::AwaitingPayment,
        OrderStatus::Paid,
        OrderStatus::Shipping,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::AwaitingPayment => "AWAITING_PAYMENT",
            OrderStatus::Paid => "PAID",
            OrderStatus::Shipping => "SHIPPING",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::Delivered => "DELIVERED",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::Rejected => "REJECTED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// No saga runs for a final order.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered | OrderStatus::Cancelled | OrderStatus::Rejected
        )
    }

    /// Buyers may cancel until the parcel leaves the warehouse.
    pub fn buyer_may_cancel(self) -> bool {
        matches!(
            self,
            OrderStatus::AwaitingPayment | OrderStatus::Paid | OrderStatus::Shipping
        )
    }

    /// The transitions the saga may record; anything else is a bug.
    pub fn may_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        match (self, next) {
            (a, b) if a == b => !a.is_final(),
            (Pending, AwaitingPayment | Rejected | Cancelled) => true,
            (AwaitingPayment, Paid | Cancelled) => true,
            (Paid, Shipping | Cancelled) => true,
            (Shipping, Shipped | Cancelled) => true,
            (Shipped, Delivered) => true,
            _ => false,
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the saga stands: the next thing it will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Reserve every line (all or none).
    Reserve,
    /// Wait for the buyer's payment or `payment_due_at`.
    AwaitPayment,
    /// Authorise the payment with the provider.
    Authorize,
    /// Capture the authorised payment.
    Capture,
    /// Turn the reservations into sales.
    CommitStock,
    /// Ask the carrier for a shipment.
    CreateShipment,
    /// Follow the parcel until delivery.
    Track,
    /// Undo what was done: void or refund, cancel shipment, release stock.
    Compensate,
    /// Nothing left to do.
    Done,
}

impl Step {
    pub const ALL: [Step; 9] = [
        Step::Reserve,
        Step::AwaitPayment,
        Step::Authorize,
        Step::Capture,
        Step::CommitStock,
        Step::CreateShipment,
        Step::Track,
        Step::Compensate,
        Step::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Reserve => "reserve",
            Step::AwaitPayment => "await_payment",
            Step::Authorize => "authorize",
            Step::Capture => "capture",
            Step::CommitStock => "commit_stock",
            Step::CreateShipment => "create_shipment",
            Step::Track => "track",
            Step::Compensate => "compensate",
            Step::Done => "done",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The only statuses a step can be taken in.
    pub fn fits(self, status: OrderStatus) -> bool {
        use OrderStatus as S;
        match self {
            Step::Reserve => status == S::Pending,
            Step::AwaitPayment | Step::Authorize | Step::Capture => status == S::AwaitingPayment,
            Step::CommitStock | Step::CreateShipment => status == S::Paid,
            Step::Track => matches!(status, S::Shipping | S::Shipped),
            Step::Compensate => !status.is_final() && status != S::Shipped,
            Step::Done => status.is_final(),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn the_happy_path_is_legal_and_final_states_are_dead_ends() {
        let path = [Pending, AwaitingPayment, Paid, Shipping, Shipped, Delivered];
        for pair in path.windows(2) {
            assert!(pair[0].may_become(pair[1]), "{} -> {}", pair[0], pair[1]);
            assert!(!pair[1].may_become(pair[0]), "{} -> {}", pair[1], pair[0]);
        }
        for end in [Delivered, Cancelled, Rejected] {
            assert!(end.is_final());
            for next in OrderStatus::ALL {
                assert!(!end.may_become(next), "{end} -> {next}");
            }
        }
    }

    #[test]
    fn cancellation_stops_at_the_warehouse_door() {
        for s in [AwaitingPayment, Paid, Shipping] {
            assert!(s.buyer_may_cancel());
            assert!(s.may_become(Cancelled));
        }
        for s in [Pending, Shipped, Delivered, Cancelled, Rejected] {
            assert!(!s.buyer_may_cancel(), "{s}");
        }
        assert!(!Shipped.may_become(Cancelled));
        assert!(!AwaitingPayment.may_become(Rejected));
    }

    #[test]
    fn names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for step in [
            Step::Reserve,
            Step::Compensate,
            Step::Done,
            Step::CommitStock,
        ] {
            assert_eq!(Step::parse(step.as_str()), Some(step));
        }
        assert_eq!(OrderStatus::parse("paid"), None);
    }

    #[test]
    fn steps_fit_their_statuses() {
        assert!(Step::Reserve.fits(Pending));
        assert!(!Step::Reserve.fits(AwaitingPayment));
        assert!(Step::Capture.fits(AwaitingPayment));
        assert!(Step::CreateShipment.fits(Paid));
        assert!(Step::Compensate.fits(Shipping));
        assert!(!Step::Compensate.fits(Shipped));
        assert!(Step::Done.fits(Cancelled));
        assert!(!Step::Done.fits(Paid));
    }
}
