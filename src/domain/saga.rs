//! The order saga's decisions, as a pure state machine.
//!
//! Given what the saga knows of its order ([`Facts`]) and what just
//! happened ([`Event`]: a step to take, a buyer's request, a timer, or the
//! answer of a call it made), [`decide`] returns the [`Command`]s to run, in
//! order. The saga actor (`actors/orders/saga.rs`) only runs them and feeds
//! call answers back, so every rule lives here:
//!
//! - a definite "no" from a provider compensates at once;
//! - a timeout is final for authorisation (the buyer is told, and the
//!   refund in compensation voids a late authorisation), and retried
//!   `max_attempts` times for capture, stock commit and shipment;
//! - an unreachable provider or store is retried for as long as that lasts:
//!   an outage of a few seconds must not cancel paid orders;
//! - an unpaid order is cancelled at `payment_due_at`;
//! - a refund is issued in compensation whenever the order ever reached the
//!   payment provider (any status but PENDING); the parcel is cancelled when
//!   one was booked; the stock is released last.
//!
//! ```text
//! Reserve -> AwaitPayment -pay-> Authorize -> Capture -> CommitStock
//!   -> CreateShipment -> Track -> Done          (any live step -> Compensate -> Done)
//! ```

use super::order::{OrderStatus, Step};
use super::reason::{CancelReason, FirstAnswer, Reason, RejectReason};
use super::time::Timestamp;

/// What the saga knows of its order when it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub status: OrderStatus,
    pub step: Step,
    /// Failed attempts at the current step so far.
    pub attempts: u32,
    /// A shipment was booked (there is a tracking number).
    pub has_tracking: bool,
    pub pay_on_place: bool,
    pub reason: Option<Reason>,
    pub payment_due_at: Timestamp,
    /// Until when an unanswered reservation is retried (orders written
    /// PENDING by an earlier release only).
    pub reserve_deadline: Timestamp,
    /// Attempts of a failing step before the saga compensates.
    pub max_attempts: u32,
}

/// What just happened to the saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Take the current step: at start, after a step was recorded, after a
    /// backoff.
    Advance,
    /// The buyer asks to pay.
    Pay,
    /// The buyer asks to cancel.
    Cancel,
    /// The payment deadline's timer fired.
    Expire,
    /// The carrier-tracking timer fired.
    Track,
    /// A call the saga made has answered.
    Answered(Call, Answer),
}

/// The outside calls the saga makes. Every one is idempotent (keyed by the
/// order id), so a saga restarted mid-call may make it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Reserve every line, all or none.
    Reserve,
    Authorize,
    Capture,
    /// Turn every line's reservation into a sale.
    CommitStock,
    /// Book the carrier.
    CreateShipment,
    /// Ask the carrier where the parcel is.
    AskCarrier,
    /// Cancel the booked parcel before refunding (a buyer's cancel).
    StopShipment,
    /// Give back money (when `refund`), parcel (when `cancel_shipment`)
    /// and stock; answers `Ok` once all are back.
    Undo {
        refund: bool,
        cancel_shipment: bool,
    },
}

/// Where a parcel is, as the carrier says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Parcel {
    Preparing,
    Shipped,
    Delivered,
    Cancelled,
}

/// How a call went, in the terms the decisions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// The carrier booked a shipment with this tracking number.
    Booked(String),
    Parcel(Parcel),
    /// Stock refused a line for a business reason.
    Refused(RejectReason, String),
    /// The reservation can no longer become a sale.
    Lost(String),
    /// A definite no.
    Declined(String),
    /// No answer in time, or an error that may pass: it may have happened.
    Failed(String),
    /// Nothing happened: the provider or our store could not be reached.
    Unreachable(String),
}

impl Answer {
    fn why(&self) -> String {
        match self {
            Answer::Ok => "ok".into(),
            Answer::Booked(t) => format!("booked {t}"),
            Answer::Parcel(p) => format!("parcel {p:?}"),
            Answer::Refused(_, why)
            | Answer::Lost(why)
            | Answer::Declined(why)
            | Answer::Failed(why)
            | Answer::Unreachable(why) => why.clone(),
        }
    }
}

/// What the saga actor must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Make the call and feed its answer back as `Event::Answered`.
    Call(Call),
    /// Write the transition (row and event together), then apply it in
    /// memory. Nothing after it runs if the write fails.
    Record(Move),
    /// Take the (new) current step next.
    Advance,
    /// Take the current step again after a backoff; the attempt counts.
    RetryLater(String),
    /// Remember this as the saga's last error; nothing else changes.
    Note(String),
    /// Fire `Event::Expire` at `payment_due_at`.
    WaitForPayment,
    /// Fire `Event::Track` after the tracking interval.
    WaitForCarrier,
    /// Answer the buyer's request now with this refusal.
    Refuse(Refusal),
    /// Keep the buyer's request until the order moves on.
    Hold,
}

/// A buyer's request the order cannot take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Conflict(String),
    /// Not decided in time; the buyer may retry.
    Unavailable,
}

/// One recorded transition: the order's new status and step, the event
/// that explains it, and what else it sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub status: OrderStatus,
    pub step: Step,
    /// The event's kind, e.g. `payment_captured`.
    pub kind: &'static str,
    pub detail: Option<String>,
    /// Sets the order's reason (`None` keeps it).
    pub reason: Option<Reason>,
    /// Sets the tracking number (`None` keeps it).
    pub tracking: Option<String>,
    /// The first answer, when this transition gives it.
    pub answer: Option<FirstAnswer>,
}

impl Move {
    fn to(status: OrderStatus, step: Step, kind: &'static str) -> Self {
        Self {
            status,
            step,
            kind,
            detail: None,
            reason: None,
            tracking: None,
            answer: None,
        }
    }
}

/// Decides what to do about `event`. Pure: same input, same commands.
pub fn decide(o: &Facts, event: Event, now: Timestamp) -> Vec<Command> {
    use Command::*;
    match event {
        Event::Advance => match o.step {
            Step::Reserve => vec![Call(self::Call::Reserve)],
            Step::AwaitPayment => vec![WaitForPayment],
            Step::Authorize => vec![Call(self::Call::Authorize)],
            Step::Capture => vec![Call(self::Call::Capture)],
            Step::CommitStock => vec![Call(self::Call::CommitStock)],
            Step::CreateShipment => vec![Call(self::Call::CreateShipment)],
            Step::Track => vec![WaitForCarrier],
            Step::Compensate => vec![Call(self::Call::Undo {
                // A PENDING order never reached the payment provider.
                refund: o.status != OrderStatus::Pending,
                cancel_shipment: o.has_tracking,
            })],
            Step::Done => vec![],
        },
        Event::Pay => pay(o, now),
        Event::Cancel => cancel(o),
        Event::Expire if o.step == Step::AwaitPayment => {
            if now >= o.payment_due_at {
                compensate(o, CancelReason::PaymentExpired.into(), None)
            } else {
                vec![WaitForPayment]
            }
        }
        Event::Track if o.step == Step::Track => vec![Call(self::Call::AskCarrier)],
        Event::Expire | Event::Track => vec![],
        Event::Answered(call, answer) => answered(o, call, answer, now),
    }
}

/// Why compensation starts.
#[derive(Debug, Clone, Copy)]
enum Undo {
    Rejected(RejectReason),
    /// Stock could not be reserved in time.
    Unavailable,
    Cancelled(CancelReason),
}

impl From<CancelReason> for Undo {
    fn from(c: CancelReason) -> Self {
        Undo::Cancelled(c)
    }
}

/// Enters compensation for `why`: recorded first, so a restart finishes it.
fn compensate(o: &Facts, why: Undo, detail: Option<String>) -> Vec<Command> {
    let (reason, kind) = match why {
        Undo::Rejected(r) => (Reason::Rejected(r), "reservation_refused"),
        Undo::Unavailable => (Reason::Unavailable, "reservation_failed"),
        Undo::Cancelled(c) => (Reason::Cancelled(c), c.event()),
    };
    let mut to = Move::to(o.status, Step::Compensate, kind);
    to.reason = Some(reason);
    to.detail = detail;
    vec![Command::Record(to), Command::Advance]
}

/// Retries a step that may pass, or compensates once attempts are spent.
fn retry_or(o: &Facts, why: String, reason: CancelReason) -> Vec<Command> {
    if o.attempts + 1 >= o.max_attempts {
        compensate(o, reason.into(), Some(why))
    } else {
        vec![Command::RetryLater(why)]
    }
}

/// Records the step's success and takes the next one.
fn next(status: OrderStatus, step: Step, kind: &'static str) -> Vec<Command> {
    vec![
        Command::Record(Move::to(status, step, kind)),
        Command::Advance,
    ]
}

/// The call each step makes; answers of any other call are stale.
fn call_of(step: Step) -> Option<Call> {
    match step {
        Step::Reserve => Some(Call::Reserve),
        Step::Authorize => Some(Call::Authorize),
        Step::Capture => Some(Call::Capture),
        Step::CommitStock => Some(Call::CommitStock),
        Step::CreateShipment => Some(Call::CreateShipment),
        Step::Track => Some(Call::AskCarrier),
        Step::AwaitPayment | Step::Compensate | Step::Done => None,
    }
}

fn answered(o: &Facts, call: Call, answer: Answer, now: Timestamp) -> Vec<Command> {
    use Answer as A;
    use CancelReason as C;
    let why = answer.why();
    match call {
        Call::StopShipment => return stop_shipment_answered(o, answer),
        Call::Undo { .. } if o.step == Step::Compensate => {
            return match answer {
                A::Ok => vec![Command::Record(closing(o))],
                _ => vec![Command::RetryLater(why)],
            };
        }
        _ if call_of(o.step) != Some(call) => return vec![],
        _ => {}
    }
    match (call, answer) {
        (Call::Reserve, A::Ok) => {
            let step = if o.pay_on_place {
                Step::Authorize
            } else {
                Step::AwaitPayment
            };
            let mut to = Move::to(OrderStatus::AwaitingPayment, step, "reserved");
            to.answer = Some(FirstAnswer::Accepted);
            vec![Command::Record(to), Command::Advance]
        }
        (Call::Reserve, A::Refused(r, detail)) => compensate(o, Undo::Rejected(r), Some(detail)),
        (Call::Reserve, A::Unreachable(_)) if now < o.reserve_deadline => {
            vec![Command::RetryLater(why)]
        }
        (Call::Reserve, _) => compensate(o, Undo::Unavailable, Some(why)),

        (Call::Authorize, A::Ok) => next(o.status, Step::Capture, "payment_authorized"),
        (Call::Authorize, A::Unreachable(_)) => vec![Command::RetryLater(why)],
        // A timeout is final for authorisation: the buyer is told, and the
        // refund in compensation voids a late authorisation.
        (Call::Authorize, A::Failed(_)) => compensate(o, C::PaymentTimedOut.into(), Some(why)),
        (Call::Authorize, _) => compensate(o, C::PaymentDeclined.into(), Some(why)),

        (Call::Capture, A::Ok) => next(OrderStatus::Paid, Step::CommitStock, "payment_captured"),
        (Call::Capture, A::Unreachable(_)) => vec![Command::RetryLater(why)],
        (Call::Capture, A::Failed(_)) => retry_or(o, why, C::PaymentTimedOut),
        (Call::Capture, _) => compensate(o, C::PaymentDeclined.into(), Some(why)),

        (Call::CommitStock, A::Ok) => {
            next(OrderStatus::Paid, Step::CreateShipment, "stock_committed")
        }
        (Call::CommitStock, A::Lost(_)) => compensate(o, C::StockLost.into(), Some(why)),
        // The units are held and paid for: wait out an outage of the store
        // instead of cancelling a paid order.
        (Call::CommitStock, A::Unreachable(_)) => vec![Command::RetryLater(why)],
        (Call::CommitStock, _) => retry_or(o, why, C::StockLost),

        (Call::CreateShipment, A::Booked(tracking)) => {
            let mut to = Move::to(OrderStatus::Shipping, Step::Track, "shipment_created");
            to.tracking = Some(tracking);
            vec![Command::Record(to), Command::Advance]
        }
        (Call::CreateShipment, A::Unreachable(_)) => vec![Command::RetryLater(why)],
        (Call::CreateShipment, A::Failed(_) | A::Ok) => retry_or(o, why, C::ShipmentFailed),
        (Call::CreateShipment, _) => compensate(o, C::ShipmentFailed.into(), Some(why)),

        (Call::AskCarrier, A::Parcel(parcel)) => tracked(o, parcel),
        (Call::AskCarrier, A::Failed(_) | A::Unreachable(_)) => {
            vec![Command::Note(why), Command::WaitForCarrier]
        }
        (Call::AskCarrier, _) => vec![
            Command::Note("the carrier no longer knows this shipment".into()),
            Command::WaitForCarrier,
        ],
        (Call::StopShipment | Call::Undo { .. }, _) => vec![],
    }
}

/// The carrier's news about a booked parcel.
fn tracked(o: &Facts, parcel: Parcel) -> Vec<Command> {
    let shipped = || Command::Record(Move::to(OrderStatus::Shipped, Step::Track, "shipped"));
    let not_yet_shipped = o.status == OrderStatus::Shipping;
    match parcel {
        Parcel::Preparing => vec![Command::WaitForCarrier],
        Parcel::Shipped if not_yet_shipped => vec![shipped(), Command::WaitForCarrier],
        Parcel::Shipped => vec![Command::WaitForCarrier],
        Parcel::Delivered => {
            let delivered = Move::to(OrderStatus::Delivered, Step::Done, "delivered");
            let mut commands = Vec::with_capacity(2);
            if not_yet_shipped {
                commands.push(shipped());
            }
            commands.push(Command::Record(delivered));
            commands
        }
        Parcel::Cancelled => vec![
            Command::Note("the carrier no longer knows this shipment".into()),
            Command::WaitForCarrier,
        ],
    }
}

/// The transition that closes a compensated order.
fn closing(o: &Facts) -> Move {
    let mut to = Move::to(OrderStatus::Cancelled, Step::Done, "cancelled");
    to.detail = Some("money, parcel and stock given back".into());
    // Never answered yet: a refusal is its first answer. Anything else
    // leaves it unanswered, never a stored 503 (Stripe's rule): a retry
    // with its key is judged again.
    if o.status == OrderStatus::Pending
        && let Some(Reason::Rejected(r)) = o.reason
    {
        to.status = OrderStatus::Rejected;
        to.kind = "rejected";
        to.answer = Some(FirstAnswer::Refused(r));
    }
    to
}

fn pay(o: &Facts, now: Timestamp) -> Vec<Command> {
    match (o.status, o.step) {
        (OrderStatus::AwaitingPayment, Step::AwaitPayment) if now >= o.payment_due_at => {
            let mut commands = vec![Command::Refuse(Refusal::Conflict(
                "the payment window has closed".into(),
            ))];
            commands.extend(compensate(o, CancelReason::PaymentExpired.into(), None));
            commands
        }
        (OrderStatus::AwaitingPayment, Step::AwaitPayment) => vec![
            Command::Record(Move::to(o.status, Step::Authorize, "payment_requested")),
            Command::Hold,
            Command::Advance,
        ],
        (OrderStatus::AwaitingPayment, Step::Authorize | Step::Capture) => vec![Command::Hold],
        (status, _) => vec![Command::Refuse(Refusal::Conflict(format!(
            "a {status} order cannot be paid"
        )))],
    }
}

fn cancel(o: &Facts) -> Vec<Command> {
    if o.step == Step::Compensate {
        return vec![Command::Hold];
    }
    if !o.status.buyer_may_cancel() {
        return vec![Command::Refuse(Refusal::Conflict(format!(
            "a {} order cannot be cancelled",
            o.status
        )))];
    }
    if o.has_tracking {
        // The parcel must not leave while we refund.
        return vec![Command::Call(Call::StopShipment)];
    }
    let mut commands = vec![Command::Hold];
    commands.extend(compensate(o, CancelReason::BuyerCancelled.into(), None));
    commands
}

fn stop_shipment_answered(o: &Facts, answer: Answer) -> Vec<Command> {
    // The answer of a stop asked for by a cancel this order still allows.
    if o.step == Step::Compensate || !o.status.buyer_may_cancel() {
        return cancel(&Facts {
            has_tracking: false,
            ..o.clone()
        });
    }
    match answer {
        Answer::Ok => {
            let mut commands = vec![Command::Hold];
            commands.extend(compensate(o, CancelReason::BuyerCancelled.into(), None));
            commands
        }
        Answer::Declined(why) => vec![Command::Refuse(Refusal::Conflict(why))],
        _ => vec![Command::Refuse(Refusal::Unavailable)],
    }
}

#[cfg(test)]
mod tests;
