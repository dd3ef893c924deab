//! `OrderSaga`: one actor per live order, driving it through reservation,
//! payment, stock commit and shipment, and compensating when a step fails.
//!
//! The saga owns its order: every transition is written (order row and
//! event together) before the saga acts on it, so a saga restarted after a
//! panic or a SIGKILL reloads the row and redoes at most the step it was in.
//! Redoing is safe because every step is idempotent: reservations are keyed
//! by the order id, and provider calls carry the order id as their key.

use actix_web::http::StatusCode;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;
use std::time::Duration;

use crate::actors::stock::InventoryError;
use super::error::OrderError;
use super::views::{OrderView, SagaView};
use super::writer::OrderWriter;
use crate::actors::stock::StockPort;
use crate::config::OrderSettings;
use crate::domain::ids::ReservationId;
use crate::domain::ledger::LedgerError;
use crate::domain::order::{CancelReason, OrderStatus, RejectReason, Step};
use crate::domain::quantity::Quantity;
use crate::domain::time::Timestamp;
use crate::http::problem::Problem;
use crate::persistence::{OrderRecord, Store, Transition};
use crate::prometheus::SAGA_TRANSITIONS;
use crate::providers::{Parcel, PaymentProvider, ProviderError, ShipmentProvider};

/// Everything a saga needs, shared by all of them.
pub struct SagaDeps {
    pub store: Store,
    /// The stock decisions: the SKU actors, or a benchmark's alternative.
    pub inventory: Arc<dyn StockPort>,
    pub payments: Arc<dyn PaymentProvider>,
    pub shipments: Arc<dyn ShipmentProvider>,
    pub settings: OrderSettings,
    pub writer: OrderWriter,
}

/// The first answer to `POST /orders`: HTTP status and JSON body.
pub type Placement = (u16, String);
pub type OrderReply = RpcReplyPort<Result<OrderRecord, OrderError>>;

pub enum SagaMsg {
    /// Take the current step.
    Advance,
    /// Answer once the order has its first answer (it left PENDING).
    AwaitPlaced(RpcReplyPort<Placement>),
    /// The buyer pays; answered when the payment succeeded or failed.
    Pay(OrderReply),
    /// The buyer cancels; answered when the order is CANCELLED.
    Cancel(OrderReply),
    /// `payment_due_at` may have passed.
    Expire,
    /// Ask the carrier where the parcel is.
    Track,
    View(RpcReplyPort<SagaView>),
    /// Fault injection for supervision tests; unreachable over HTTP.
    InjectPanic,
}

pub struct OrderSaga;

pub struct Arguments {
    pub order_id: String,
    /// The order as just inserted; `None` loads it from the store.
    pub order: Option<OrderRecord>,
    pub deps: Arc<SagaDeps>,
    pub restarts: u32,
}

pub struct State {
    deps: Arc<SagaDeps>,
    order: OrderRecord,
    attempts: u32,
    last_error: Option<String>,
    restarts: u32,
    placed: Vec<RpcReplyPort<Placement>>,
    paying: Vec<OrderReply>,
    cancelling: Vec<OrderReply>,
}

impl Actor for OrderSaga {
    type Msg = SagaMsg;
    type State = State;
    type Arguments = Arguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<SagaMsg>,
        args: Arguments,
    ) -> Result<State, ActorProcessingErr> {
        let order = match args.order {
            Some(order) => order,
            None => args
                .deps
                .store
                .order(&args.order_id)
                .await?
                .ok_or_else(|| format!("order {} vanished", args.order_id))?,
        };
        Ok(State {
            attempts: order.attempts,
            deps: args.deps,
            order,
            last_error: None,
            restarts: args.restarts,
            placed: Vec::new(),
            paying: Vec::new(),
            cancelling: Vec::new(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<SagaMsg>,
        _st: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        myself.send_message(SagaMsg::Advance)?;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SagaMsg>,
        msg: SagaMsg,
        st: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SagaMsg::Advance => {
                // A step that failed on the store did not change the order
                // (transitions apply in memory only after they commit), so
                // it is simply taken again later.
                if let Err(e) = st.advance(&myself).await {
                    tracing::warn!(order = %st.order.id, step = %st.order.step, error = %e, "saga step failed; retrying");
                    st.retry(&myself, e.to_string())?;
                }
            }
            SagaMsg::AwaitPlaced(reply) => match &st.order.response {
                Some(answer) => {
                    let _ = reply.send(answer.clone());
                }
                None => st.placed.push(reply),
            },
            SagaMsg::Pay(reply) => st.pay(&myself, reply).await?,
            SagaMsg::Cancel(reply) => st.cancel(&myself, reply).await?,
            SagaMsg::Expire => {
                if st.order.step == Step::AwaitPayment {
                    if Timestamp::now() >= st.order.payment_due_at {
                        st.compensate_for(
                            &myself,
                            Why::Cancelled(CancelReason::PaymentExpired),
                            None,
                        )
                        .await?;
                    } else {
                        st.schedule_expiry(&myself);
                    }
                }
            }
            SagaMsg::Track => {
                if st.order.step == Step::Track {
                    st.track(&myself).await?;
                }
            }
            SagaMsg::View(reply) => {
                let _ = reply.send(st.view());
            }
            SagaMsg::InjectPanic => panic!("injected fault in the saga of {}", st.order.id),
        }
        st.notify();
        if st.order.step == Step::Done {
            myself.stop(None);
        }
        Ok(())
    }
}

/// A step outcome that needs a decision: retry later, or give up.
enum Trouble {
    /// No answer in time: the call may have taken effect.
    Transient(String),
    /// The provider (or our record of it) could not be reached: nothing
    /// happened, so the step is retried for as long as that lasts. An
    /// outage of a few seconds must not cancel paid orders.
    Unreachable(String),
    Definite(String),
}

impl From<ProviderError> for Trouble {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Declined(why) => Trouble::Definite(why),
            e @ ProviderError::Unavailable(_) => Trouble::Unreachable(e.to_string()),
            e @ ProviderError::TimedOut => Trouble::Transient(e.to_string()),
        }
    }
}

/// The reason code of a placement that failed for a reason of ours.
const UNAVAILABLE: &str = "UNAVAILABLE";

/// Why an order is being undone.
#[derive(Debug, Clone, Copy)]
enum Why {
    Rejected(RejectReason),
    /// Stock could not be reserved within `reserve_timeout_ms`.
    Unavailable,
    Cancelled(CancelReason),
}

impl Why {
    fn code(self) -> &'static str {
        match self {
            Why::Rejected(r) => r.code(),
            Why::Unavailable => UNAVAILABLE,
            Why::Cancelled(c) => c.code(),
        }
    }
}

impl State {
    fn rid(&self) -> Result<ReservationId, ActorProcessingErr> {
        Ok(ReservationId::parse(self.order.id.clone())?)
    }

    async fn advance(&mut self, myself: &ActorRef<SagaMsg>) -> Result<(), ActorProcessingErr> {
        match self.order.step {
            Step::Reserve => self.reserve(myself).await,
            Step::AwaitPayment => {
                self.schedule_expiry(myself);
                Ok(())
            }
            Step::Authorize => self.authorize(myself).await,
            Step::Capture => self.capture(myself).await,
            Step::CommitStock => self.commit_stock(myself).await,
            Step::CreateShipment => self.create_shipment(myself).await,
            Step::Track => {
                myself.send_after(self.deps.settings.track_interval(), || SagaMsg::Track);
                Ok(())
            }
            Step::Compensate => self.compensate(myself).await,
            Step::Done => Ok(()),
        }
    }

    /// Reserves every line, in SKU order; one refusal undoes them all.
    /// New orders arrive with their stock already reserved (see
    /// `placing.rs`); this step finishes orders that an earlier release
    /// wrote PENDING, so a database carried over from it still resumes.
    async fn reserve(&mut self, myself: &ActorRef<SagaMsg>) -> Result<(), ActorProcessingErr> {
        let rid = self.rid()?;
        let reserve_deadline = self
            .order
            .created_at
            .plus(self.deps.settings.reserve_timeout());
        for line in self.order.lines.clone() {
            let qty = Quantity::new(i64::from(line.quantity))?;
            let result = self
                .deps
                .inventory
                .reserve(line.sku, rid.clone(), self.order.buyer, qty)
                .await;
            match result {
                Ok(_) => {}
                Err(InventoryError::Rejected(r)) => {
                    let reason =
                        RejectReason::from_rejection(&r).map_or(Why::Unavailable, Why::Rejected);
                    return self
                        .compensate_for(myself, reason, Some(format!("SKU {}: {r}", line.sku)))
                        .await;
                }
                Err(e) if is_transient(&e) && Timestamp::now() < reserve_deadline => {
                    return self.retry(myself, e.to_string());
                }
                Err(e) => {
                    return self
                        .compensate_for(
                            myself,
                            Why::Unavailable,
                            Some(format!("SKU {}: {e}", line.sku)),
                        )
                        .await;
                }
            }
        }
        let next = if self.order.pay_on_place {
            Step::Authorize
        } else {
            Step::AwaitPayment
        };
        let mut view = OrderView::from(&self.order);
        view.status = OrderStatus::AwaitingPayment;
        let body = serde_json::to_string(&view)?;
        let extra = Extra {
            response: Some((201, body)),
            ..Extra::default()
        };
        self.record(OrderStatus::AwaitingPayment, next, "reserved", extra)
            .await?;
        myself.send_message(SagaMsg::Advance)?;
        Ok(())
    }

    async fn authorize(&mut self, myself: &ActorRef<SagaMsg>) -> Result<(), ActorProcessingErr> {
        let deps = Arc::clone(&self.deps);
        let call = deps.payments.authorize(&self.order.id, self.order.total);
        match self.provider(call).await {
            Ok(()) => {
                self.record(
                    self.order.status,
                    Step::Capture,
                    "payment_authorized",
                    Extra::default(),
                )
                .await?;
                myself.send_message(SagaMsg::Advance)?;
                Ok(())
            }
            Err(Trouble::Definite(why)) => {
                self.compensate_for(
                    myself,
                    Why::Cancelled(CancelReason::PaymentDeclined),
                    Some(why),
                )
                .await
            }
            Err(Trouble::Unreachable(why)) => self.retry(myself, why),
            // A timeout is final for authorisation: the buyer is told, and
            // the refund in compensation voids a late authorisation.
            Err(Trouble::Transient(why)) => {
                self.compensate_for(
                    myself,
                    Why::Cancelled(CancelReason::PaymentTimedOut),
                    Some(why),
                )
                .await
            }
        }
    }

    async fn capture(&mut self, myself: &ActorRef<SagaMsg>) -> Result<(), ActorProcessingErr> {
        let deps = Arc::clone(&self.deps);
        match self.provider(deps.payments.capture(&self.order.id)).await {
            Ok(()) => {
                self.record(
                    OrderStatus::Paid,
                    Step::CommitStock,
                    "payment_captured",
                    Extra::default(),
                )
                .await?;
                myself.send_message(SagaMsg::Advance)?;
                Ok(())
            }
            Err(Trouble::Definite(why)) => {
                self.compensate_for(
                    myself,
                    Why::Cancelled(CancelReason::PaymentDeclined),
                    Some(why),
                )
                .await
            }
            Err(Trouble::Unreachable(why)) => self.retry(myself, why),
            Err(Trouble::Transient(why)) => {
                self.retry_or(myself, why, CancelReason::PaymentTimedOut)
                    .await
            }
        }
    }

    /// Payment is captured: the reservations become sales.
    async fn commit_stock(&mut self, myself: &ActorRef<SagaMsg>) -> Result<(), ActorProcessingErr> {
        let rid = self.rid()?;
        for line in self.order.lines.clone() {
            match self.deps.inventory.commit(line.sku, rid.clone()).await {
                Ok(_) => {}
                Err(InventoryError::Ledger(
                    e @ (LedgerError::NotCommittable { .. } | LedgerError::UnknownReservation(_)),
                )) => {
                    return self
                        .compensate_for(
                            myself,
                            Why::Cancelled(CancelReason::StockLost),
                            Some(e.to_string()),
                        )
                        .await;
                }
                // The units are held and paid for: wait out an outage of
                // the store instead of cancelling a paid order.
                Err(e) if is_transient(&e) => return self.retry(myself, e.to_string()),
                Err(e) => {
                    return self
                        .retry_or(myself, e.to_string(), CancelReason::StockLost)
                        .await;
                }
            }
        }
        self.record(
            OrderStatus::Paid,
            Step::CreateShipment,
            "stock_committed",
            Extra::default(),
        )
        .await?;
        myself.send_message(SagaMsg::Advance)?;
        Ok(())
    }

    async fn create_shipment(
        &mut self,
        myself: &ActorRef<SagaMsg>,
    ) -> Result<(), ActorProcessingErr> {
        let deps = Arc::clone(&self.deps);
        match self.provider(deps.shipments.create(&self.order.id)).await {
            Ok(tracking) => {
                let extra = Extra {
                    tracking: Some(tracking),
                    ..Extra::default()
                };
                self.record(
                    OrderStatus::Shipping,
                    Step::Track,
                    "shipment_created",
                    extra,
                )
                .await?;
                myself.send_message(SagaMsg::Advance)?;
                Ok(())
            }
            Err(Trouble::Definite(why)) => {
                self.compensate_for(
                    myself,
                    Why::Cancelled(CancelReason::ShipmentFailed),
                    Some(why),
                )
                .await
            }
            Err(Trouble::Unreachable(why)) => self.retry(myself, why),
            Err(Trouble::Transient(why)) => {
                self.retry_or(myself, why, CancelReason::ShipmentFailed)
                    .await
            }
        }
    }

    async fn track(&mut self, myself: &ActorRef<SagaMsg>) -> Result<(), ActorProcessingErr> {
        let deps = Arc::clone(&self.deps);
        let parcel = self.provider(deps.shipments.track(&self.order.id)).await;
        let again = self.deps.settings.track_interval();
        match parcel {
            Ok(Parcel::Preparing) => {}
            Ok(Parcel::Shipped) => {
                if self.order.status == OrderStatus::Shipping {
                    self.record(
                        OrderStatus::Shipped,
                        Step::Track,
                        "shipped",
                        Extra::default(),
                    )
                    .await?;
                }
            }
            Ok(Parcel::Delivered) => {
                if self.order.status == OrderStatus::Shipping {
                    self.record(
                        OrderStatus::Shipped,
                        Step::Track,
                        "shipped",
                        Extra::default(),
                    )
                    .await?;
                }
                self.record(
                    OrderStatus::Delivered,
                    Step::Done,
                    "delivered",
                    Extra::default(),
                )
                .await?;
                return Ok(());
            }
            Ok(Parcel::Cancelled) | Err(Trouble::Definite(_)) => {
                tracing::error!(order = %self.order.id, "the carrier lost a booked shipment");
                self.last_error = Some("the carrier no longer knows this shipment".into());
            }
            Err(Trouble::Transient(why) | Trouble::Unreachable(why)) => {
                self.last_error = Some(why);
            }
        }
        myself.send_after(again, || SagaMsg::Track);
        Ok(())
    }

    async fn pay(
        &mut self,
        myself: &ActorRef<SagaMsg>,
        reply: OrderReply,
    ) -> Result<(), ActorProcessingErr> {
        let o = &self.order;
        match (o.status, o.step) {
            (OrderStatus::AwaitingPayment, Step::AwaitPayment) => {
                if Timestamp::now() >= o.payment_due_at {
                    let _ = reply.send(Err(OrderError::Conflict(
                        "the payment window has closed".into(),
                    )));
                    return self
                        .compensate_for(myself, Why::Cancelled(CancelReason::PaymentExpired), None)
                        .await;
                }
                self.record(
                    o.status,
                    Step::Authorize,
                    "payment_requested",
                    Extra::default(),
                )
                .await?;
                self.paying.push(reply);
                myself.send_message(SagaMsg::Advance)?;
            }
            (OrderStatus::AwaitingPayment, Step::Authorize | Step::Capture) => {
                self.paying.push(reply)
            }
            (status, _) => {
                let _ = reply.send(Err(OrderError::Conflict(format!(
                    "a {status} order cannot be paid"
                ))));
            }
        }
        Ok(())
    }

    async fn cancel(
        &mut self,
        myself: &ActorRef<SagaMsg>,
        reply: OrderReply,
    ) -> Result<(), ActorProcessingErr> {
        let status = self.order.status;
        if self.order.step == Step::Compensate {
            self.cancelling.push(reply);
            return Ok(());
        }
        if !status.buyer_may_cancel() {
            let _ = reply.send(Err(OrderError::Conflict(format!(
                "a {status} order cannot be cancelled"
            ))));
            return Ok(());
        }
        if self.order.tracking.is_some() {
            // The parcel must not leave while we refund.
            let deps = Arc::clone(&self.deps);
            match self.provider(deps.shipments.cancel(&self.order.id)).await {
                Ok(()) => {}
                Err(Trouble::Definite(why)) => {
                    let _ = reply.send(Err(OrderError::Conflict(why)));
                    return Ok(());
                }
                Err(Trouble::Transient(_) | Trouble::Unreachable(_)) => {
                    let _ = reply.send(Err(OrderError::Unavailable));
                    return Ok(());
                }
            }
        }
        self.cancelling.push(reply);
        self.compensate_for(myself, Why::Cancelled(CancelReason::BuyerCancelled), None)
            .await
    }

    /// Enters compensation for `reason` (recorded first, so a restart
    /// finishes it) and starts undoing.
    async fn compensate_for(
        &mut self,
        myself: &ActorRef<SagaMsg>,
        reason: Why,
        detail: Option<String>,
    ) -> Result<(), ActorProcessingErr> {
        self.order.reason = Some(reason.code().to_string());
        let kind = match reason {
            Why::Rejected(_) => "reservation_refused",
            Why::Unavailable => "reservation_failed",
            Why::Cancelled(c) => c.event(),
        };
        self.record(
            self.order.status,
            Step::Compensate,
            kind,
            Extra::detail(detail),
        )
        .await?;
        myself.send_message(SagaMsg::Advance)?;
        Ok(())
    }

    /// Gives back money, parcel and stock, then closes the order. Every
    /// undo is idempotent and retried until it succeeds: an order never
    /// ends holding money without stock, or stock without an order.
    async fn compensate(&mut self, myself: &ActorRef<SagaMsg>) -> Result<(), ActorProcessingErr> {
        let deps = Arc::clone(&self.deps);
        // A PENDING order never reached the payment provider.
        if self.order.status != OrderStatus::Pending
            && let Err(Trouble::Transient(why) | Trouble::Unreachable(why) | Trouble::Definite(why)) =
                self.provider(deps.payments.refund(&self.order.id)).await
        {
            return self.retry(myself, why);
        }
        if self.order.tracking.is_some()
            && let Err(Trouble::Transient(why) | Trouble::Unreachable(why)) =
                self.provider(deps.shipments.cancel(&self.order.id)).await
        {
            return self.retry(myself, why);
        }
        let rid = self.rid()?;
        for line in self.order.lines.clone() {
            match deps.inventory.release(line.sku, rid.clone()).await {
                Ok(_) | Err(InventoryError::Ledger(LedgerError::UnknownReservation(_))) => {}
                Err(e) => return self.retry(myself, e.to_string()),
            }
        }
        let (status, kind, response) = match self.order.status {
            // Never answered yet: the first answer is a problem.
            OrderStatus::Pending => {
                let reason = self.order.reason.as_deref().and_then(RejectReason::parse);
                let (status, kind, problem) = match reason {
                    Some(r) => (
                        OrderStatus::Rejected,
                        "rejected",
                        Problem::new(StatusCode::CONFLICT, r.code(), r.detail().into()),
                    ),
                    None => (
                        OrderStatus::Cancelled,
                        "cancelled",
                        Problem::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            UNAVAILABLE,
                            "the order could not be processed in time; nothing was reserved".into(),
                        ),
                    ),
                };
                let answer = (problem.status, serde_json::to_string(&problem)?);
                (status, kind, Some(answer))
            }
            _ => (OrderStatus::Cancelled, "cancelled", None),
        };
        let extra = Extra {
            detail: Some("money, parcel and stock given back".into()),
            response,
            ..Extra::default()
        };
        self.record(status, Step::Done, kind, extra).await
    }

    /// Calls a provider with the configured timeout.
    async fn provider<T>(
        &self,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, Trouble> {
        match tokio::time::timeout(self.deps.settings.provider_timeout(), call).await {
            Ok(result) => result.map_err(Trouble::from),
            Err(_) => Err(Trouble::from(ProviderError::TimedOut)),
        }
    }

    /// Retries the current step after a backoff.
    fn retry(&mut self, myself: &ActorRef<SagaMsg>, why: String) -> Result<(), ActorProcessingErr> {
        self.attempts += 1;
        tracing::debug!(order = %self.order.id, step = %self.order.step, attempt = self.attempts, why, "step will be retried");
        self.last_error = Some(why);
        myself.send_after(self.deps.settings.backoff(self.attempts), || {
            SagaMsg::Advance
        });
        Ok(())
    }

    /// Retries, or compensates for `reason` once the attempts are spent.
    async fn retry_or(
        &mut self,
        myself: &ActorRef<SagaMsg>,
        why: String,
        reason: CancelReason,
    ) -> Result<(), ActorProcessingErr> {
        if self.attempts + 1 >= self.deps.settings.max_attempts {
            return self
                .compensate_for(myself, Why::Cancelled(reason), Some(why))
                .await;
        }
        self.retry(myself, why)
    }

    fn schedule_expiry(&self, myself: &ActorRef<SagaMsg>) {
        let left = self.order.payment_due_at.millis() - Timestamp::now().millis();
        let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
        myself.send_after(left, || SagaMsg::Expire);
    }

    /// Writes a transition, then applies it in memory.
    async fn record(
        &mut self,
        status: OrderStatus,
        step: Step,
        kind: &'static str,
        extra: Extra,
    ) -> Result<(), ActorProcessingErr> {
        if !self.order.status.may_become(status) {
            return Err(format!(
                "order {}: illegal transition {} -> {status}",
                self.order.id, self.order.status
            )
            .into());
        }
        let step_changed = step != self.order.step;
        let t = Transition {
            seq: self.order.last_seq + 1,
            status,
            step,
            reason: self.order.reason.clone(),
            tracking: extra.tracking.or_else(|| self.order.tracking.clone()),
            attempts: if step_changed { 0 } else { self.attempts },
            kind,
            detail: extra.detail,
            response: extra.response,
        };
        let (seq, tracking, response) = (t.seq, t.tracking.clone(), t.response.clone());
        self.deps.writer.record(&self.order.id, t).await?;
        let (from, to) = (self.order.status.as_str(), status.as_str());
        metrics::counter!(SAGA_TRANSITIONS, "from" => from, "to" => to).increment(1);
        self.order.last_seq = seq;
        self.order.status = status;
        self.order.step = step;
        self.order.tracking = tracking;
        self.order.updated_at = Timestamp::now();
        if self.order.response.is_none() {
            self.order.response = response;
        }
        if step_changed {
            self.attempts = 0;
            self.last_error = None;
        }
        Ok(())
    }

    /// Answers whoever waits for something that has now happened.
    fn notify(&mut self) {
        if let Some(answer) = &self.order.response {
            for reply in self.placed.drain(..) {
                let _ = reply.send(answer.clone());
            }
        }
        let o = &self.order;
        let paid_or_failed = o.status != OrderStatus::AwaitingPayment && o.step != Step::Compensate;
        if paid_or_failed || o.step == Step::Done {
            for reply in self.paying.drain(..) {
                let _ = reply.send(Ok(o.clone()));
            }
        }
        if o.status.is_final() {
            for reply in self.cancelling.drain(..) {
                let _ = reply.send(Ok(o.clone()));
            }
        }
    }

    fn view(&self) -> SagaView {
        SagaView {
            live: true,
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            restarts: self.restarts,
            ..SagaView::at_rest(&self.order)
        }
    }
}

fn is_transient(e: &InventoryError) -> bool {
    matches!(
        e,
        InventoryError::Overloaded
            | InventoryError::Unavailable
            | InventoryError::Retired
            | InventoryError::Store(_)
    )
}

/// What a transition may carry besides its status, step and kind.
#[derive(Default)]
struct Extra {
    tracking: Option<String>,
    detail: Option<String>,
    /// The first answer to the placing request.
    response: Option<Placement>,
}

impl Extra {
    fn detail(detail: Option<String>) -> Self {
        Self {
            detail,
            ..Self::default()
        }
    }
}
