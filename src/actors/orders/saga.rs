//! `OrderSaga`: one actor per live order. It runs what
//! [`domain::saga::decide`](crate::domain::saga::decide) says (calls to the
//! stock, the payment provider and the carrier; transitions to record;
//! timers) and feeds every call's answer back to it. Which failure is
//! retried and which compensates is decided there, not here.
//!
//! The saga owns its order: every transition is written (order row and
//! event together) before the saga acts on it, so a saga restarted after a
//! panic or a SIGKILL reloads the row and redoes at most the step it was in.
//! Redoing is safe because every call is idempotent: reservations are keyed
//! by the order id, and provider calls carry the order id as their key.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::task::TaskTracker;

use super::error::OrderError;
use super::failure::{self, ProviderCall};
use super::gauges::{Presence, SagaGauges};
use super::homes::SagaHomes;
use super::placing::Placement;
use super::views::SagaView;
use super::writer::OrderWriter;
use crate::actors::incidents::Incidents;
use crate::actors::stock::{InventoryError, StockPort};
use crate::config::OrderSettings;
use crate::domain::ids::OrderId;
use crate::domain::ledger::LedgerError;
use crate::domain::order::{OrderStatus, Step};
use crate::domain::reason::RejectReason;
use crate::domain::saga::{self, Answer, Call, Command, Event, Facts, Move, Refusal};
use crate::domain::time::Timestamp;
use crate::persistence::{OrderRecord, Store, Transition};
use crate::prometheus::SAGA_TRANSITIONS;
use crate::providers::{PaymentProvider, ProviderError, ShipmentProvider};

/// Everything a saga needs, shared by all of them.
pub struct SagaDeps {
    pub store: Store,
    /// The stock decisions: the SKU actors, or a benchmark's alternative.
    pub inventory: Arc<dyn StockPort>,
    pub payments: Arc<dyn PaymentProvider>,
    pub shipments: Arc<dyn ShipmentProvider>,
    pub settings: OrderSettings,
    pub writer: OrderWriter,
    /// How long the stock holds a reservation (the inventory's TTL): an
    /// order's payment window ends before its holds lapse.
    pub reservation_ttl: std::time::Duration,
    /// Work nobody waits for (a provider's late callback); shutdown waits
    /// for it.
    pub behind: TaskTracker,
    /// Live sagas by status and payment answers, for the control room.
    pub gauges: Arc<SagaGauges>,
    /// Where saga trouble is reported for the control room.
    pub incidents: Incidents,
    /// Where each order's saga runs: `None` for a single process (every
    /// saga here), the cluster's routing on a cluster node.
    pub homes: Option<Arc<dyn SagaHomes>>,
}

impl SagaDeps {
    /// True when `order`'s saga is this process's to run now.
    pub fn runs_here(&self, order: OrderId) -> bool {
        self.homes.as_ref().is_none_or(|h| h.here(order))
    }
}

pub type OrderReply = RpcReplyPort<Result<OrderRecord, OrderError>>;

pub enum SagaMsg {
    /// Take the current step.
    Advance,
    /// Answer once the order has its first answer (it left PENDING).
    AwaitPlaced(RpcReplyPort<Placement>),
    /// The buyer pays (with a saved method's provider token, if given);
    /// answered when the payment succeeded or failed.
    Pay(Option<String>, OrderReply),
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
    pub order_id: OrderId,
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
    /// This saga in the live counts, until its state is dropped.
    presence: Presence,
}

/// A buyer's request being handled, until it is answered or held.
enum Waiter {
    Paying(OrderReply),
    Cancelling(OrderReply),
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
                .order(args.order_id)
                .await?
                .ok_or_else(|| format!("order {} vanished", args.order_id))?,
        };
        Ok(State {
            presence: Presence::enter(Arc::clone(&args.deps.gauges), order.status, order.step),
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
        // A cluster node that handed the order's shard over (or lost it
        // while paused) leaves the order to the saga of its new home.
        if !st.deps.runs_here(st.order.id) {
            tracing::info!(order = %st.order.id, "the order's shard moved; its saga stops here");
            myself.stop(Some("handed over".into()));
            return Ok(());
        }
        match msg {
            SagaMsg::Advance => {
                // A step that failed on the store did not change the order
                // (transitions apply in memory only after they commit), so
                // it is simply taken again later.
                if let Err(e) = st.run(&myself, Event::Advance, None).await {
                    let why = failure::recording(st.order.id, &e);
                    st.retry(&myself, why);
                }
            }
            SagaMsg::AwaitPlaced(reply) => match Placement::of(&st.order) {
                Some(answer) => {
                    let _ = reply.send(answer);
                }
                None => st.placed.push(reply),
            },
            SagaMsg::Pay(token, reply) => {
                if token.is_some() {
                    st.order.payment_token = token;
                }
                st.run(&myself, Event::Pay, Some(Waiter::Paying(reply)))
                    .await?
            }
            SagaMsg::Cancel(reply) => {
                st.run(&myself, Event::Cancel, Some(Waiter::Cancelling(reply)))
                    .await?
            }
            SagaMsg::Expire => st.run(&myself, Event::Expire, None).await?,
            SagaMsg::Track => st.run(&myself, Event::Track, None).await?,
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

impl State {
    /// What the decisions need to know of the order.
    fn facts(&self) -> Facts {
        let o = &self.order;
        Facts {
            status: o.status,
            step: o.step,
            attempts: self.attempts,
            has_tracking: o.tracking.is_some(),
            pay_on_place: o.pay_on_place,
            reason: o.reason,
            payment_due_at: o.payment_due_at,
            reserve_deadline: o.created_at.plus(self.deps.settings.reserve_timeout()),
            max_attempts: self.deps.settings.max_attempts,
        }
    }

    /// Decides about `event` and runs the commands; a call's answer is
    /// decided about in turn, its commands running before the rest.
    async fn run(
        &mut self,
        myself: &ActorRef<SagaMsg>,
        event: Event,
        mut waiter: Option<Waiter>,
    ) -> Result<(), ActorProcessingErr> {
        let mut todo: VecDeque<Command> =
            saga::decide(&self.facts(), event, Timestamp::now()).into();
        while let Some(command) = todo.pop_front() {
            match command {
                Command::Call(call) => {
                    let answer = self.call(call).await;
                    let then = saga::decide(
                        &self.facts(),
                        Event::Answered(call, answer),
                        Timestamp::now(),
                    );
                    for c in then.into_iter().rev() {
                        todo.push_front(c);
                    }
                }
                Command::Record(to) => self.record(to).await?,
                Command::Advance => myself.send_message(SagaMsg::Advance)?,
                Command::RetryLater(why) => self.retry(myself, why),
                Command::Note(why) => {
                    tracing::warn!(order = %self.order.id, step = %self.order.step, why, "saga noted a problem");
                    self.deps
                        .incidents
                        .warn("saga", format!("order {}: {why}", self.order.id));
                    self.last_error = Some(why);
                }
                Command::WaitForPayment => self.schedule_expiry(myself),
                Command::WaitForCarrier => {
                    myself.send_after(self.deps.settings.track_interval(), || SagaMsg::Track);
                }
                Command::Refuse(refusal) => {
                    let err = match refusal {
                        Refusal::Conflict(why) => OrderError::Conflict(why),
                        Refusal::Unavailable => OrderError::Unavailable,
                    };
                    if let Some(Waiter::Paying(reply) | Waiter::Cancelling(reply)) = waiter.take() {
                        let _ = reply.send(Err(err));
                    }
                }
                Command::Hold => match waiter.take() {
                    Some(Waiter::Paying(reply)) => self.paying.push(reply),
                    Some(Waiter::Cancelling(reply)) => self.cancelling.push(reply),
                    None => {}
                },
            }
        }
        Ok(())
    }

    /// Makes one outside call and says how it went.
    async fn call(&self, call: Call) -> Answer {
        let deps = Arc::clone(&self.deps);
        let id = self.order.id;
        match call {
            Call::Reserve => self.reserve_lines().await,
            Call::Authorize => {
                let result = self
                    .provider(deps.payments.authorize(
                        id,
                        self.order.total,
                        self.order.payment_token.as_deref(),
                    ))
                    .await;
                deps.gauges.authorisation(&result);
                answer(id, ProviderCall::Authorize, result)
            }
            Call::Capture => answer(
                id,
                ProviderCall::Capture,
                self.provider(deps.payments.capture(id)).await,
            ),
            Call::CommitStock => self.commit_lines().await,
            Call::CreateShipment => match self.provider(deps.shipments.create(id)).await {
                Ok(tracking) => Answer::Booked(tracking),
                Err(e) => trouble(id, ProviderCall::BookShipment, e),
            },
            Call::AskCarrier => match self.provider(deps.shipments.track(id)).await {
                Ok(parcel) => Answer::Parcel(parcel),
                Err(e) => trouble(id, ProviderCall::TrackParcel, e),
            },
            Call::StopShipment => answer(
                id,
                ProviderCall::StopParcel,
                self.provider(deps.shipments.cancel(id)).await,
            ),
            Call::Undo {
                refund,
                cancel_shipment,
            } => self.undo(refund, cancel_shipment).await,
        }
    }

    /// Reserves every line, in SKU order (orders written PENDING by an
    /// earlier release; new orders arrive reserved, see `placing.rs`).
    async fn reserve_lines(&self) -> Answer {
        let rid = self.order.id.reservation();
        for line in &self.order.lines {
            let sku = line.sku;
            let result = self
                .deps
                .inventory
                .reserve(sku, rid.clone(), self.order.buyer, line.quantity, false)
                .await;
            let Err(e) = result else { continue };
            let why = failure::stock(self.order.id, sku, &e);
            return match e {
                InventoryError::Rejected(r) => match RejectReason::from_rejection(&r) {
                    Some(reason) => Answer::Refused(reason, why),
                    None => Answer::Declined(why),
                },
                e if is_transient(&e) => Answer::Unreachable(why),
                _ => Answer::Declined(why),
            };
        }
        Answer::Ok
    }

    /// Payment is captured: the reservations become sales.
    async fn commit_lines(&self) -> Answer {
        let rid = self.order.id.reservation();
        for line in &self.order.lines {
            let Err(e) = self.deps.inventory.commit(line.sku, rid.clone()).await else {
                continue;
            };
            let why = failure::stock(self.order.id, line.sku, &e);
            return match e {
                InventoryError::Ledger(
                    LedgerError::NotCommittable { .. } | LedgerError::UnknownReservation(_),
                ) => Answer::Lost(why),
                e if is_transient(&e) => Answer::Unreachable(why),
                _ => Answer::Failed(why),
            };
        }
        Answer::Ok
    }

    /// Gives back money, parcel and stock. Every part is idempotent, so a
    /// part that fails makes the whole undo be retried.
    async fn undo(&self, refund: bool, cancel_shipment: bool) -> Answer {
        let deps = Arc::clone(&self.deps);
        let id = self.order.id;
        if refund && let Err(e) = self.provider(deps.payments.refund(id)).await {
            return Answer::Unreachable(failure::provider(id, ProviderCall::Refund, &e));
        }
        if cancel_shipment {
            match self.provider(deps.shipments.cancel(id)).await {
                // Nothing left to cancel.
                Ok(()) | Err(ProviderError::Declined(_)) => {}
                Err(e) => {
                    return Answer::Unreachable(failure::provider(
                        id,
                        ProviderCall::StopParcel,
                        &e,
                    ));
                }
            }
        }
        let rid = id.reservation();
        for line in &self.order.lines {
            match deps.inventory.release(line.sku, rid.clone()).await {
                Ok(()) | Err(InventoryError::Ledger(LedgerError::UnknownReservation(_))) => {}
                Err(e) => return Answer::Unreachable(failure::stock(id, line.sku, &e)),
            }
        }
        Answer::Ok
    }

    /// Calls a provider with the configured timeout.
    async fn provider<T>(
        &self,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        tokio::time::timeout(self.deps.settings.provider_timeout(), call)
            .await
            .unwrap_or(Err(ProviderError::TimedOut))
    }

    /// Takes the current step again after a backoff.
    fn retry(&mut self, myself: &ActorRef<SagaMsg>, why: String) {
        self.attempts += 1;
        tracing::debug!(order = %self.order.id, step = %self.order.step, attempt = self.attempts, why, "step will be retried");
        self.deps.incidents.warn(
            "saga",
            format!(
                "order {}: {} will be retried (attempt {}): {why}",
                self.order.id, self.order.step, self.attempts
            ),
        );
        self.last_error = Some(why);
        myself.send_after(self.deps.settings.backoff(self.attempts), || {
            SagaMsg::Advance
        });
    }

    fn schedule_expiry(&self, myself: &ActorRef<SagaMsg>) {
        let left = self.order.payment_due_at.millis() - Timestamp::now().millis();
        let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
        myself.send_after(left, || SagaMsg::Expire);
    }

    /// Writes a transition, then applies it in memory.
    async fn record(&mut self, to: Move) -> Result<(), ActorProcessingErr> {
        let o = &self.order;
        if !o.status.may_become(to.status) {
            return Err(format!(
                "order {}: illegal transition {} -> {}",
                o.id, o.status, to.status
            )
            .into());
        }
        let step_changed = to.step != o.step;
        let t = Transition {
            seq: o.last_seq + 1,
            status: to.status,
            step: to.step,
            reason: to.reason.or(o.reason),
            tracking: to.tracking.or_else(|| o.tracking.clone()),
            attempts: if step_changed { 0 } else { self.attempts },
            kind: to.kind,
            detail: to.detail,
            answer: to.answer,
            event: None,
        };
        let t = Transition {
            event: o.step_event(&t, Timestamp::now()),
            ..t
        };
        let (from, status) = (o.status.as_str(), to.status.as_str());
        let (seq, reason, tracking) = (t.seq, t.reason, t.tracking.clone());
        self.deps.writer.record(o.id, t).await?;
        metrics::counter!(SAGA_TRANSITIONS, "from" => from, "to" => status).increment(1);
        let o = &mut self.order;
        o.last_seq = seq;
        o.status = to.status;
        o.step = to.step;
        o.reason = reason;
        o.tracking = tracking;
        o.updated_at = Timestamp::now();
        o.first_answer = o.first_answer.or(to.answer);
        self.presence.set(o.status, o.step);
        if step_changed && o.step == Step::Compensate {
            self.deps.incidents.warn(
                "saga",
                format!("order {}: compensating ({})", o.id, o.status),
            );
        }
        if step_changed {
            self.attempts = 0;
            self.last_error = None;
        }
        Ok(())
    }

    /// Answers whoever waits for something that has now happened.
    fn notify(&mut self) {
        if !self.placed.is_empty()
            && let Some(answer) = Placement::of(&self.order)
        {
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

/// A provider call's result in the decisions' terms.
fn answer(order: OrderId, call: ProviderCall, result: Result<(), ProviderError>) -> Answer {
    result.map_or_else(|e| trouble(order, call, e), |()| Answer::Ok)
}

/// A failed provider call in the decisions' terms, with our own phrase.
fn trouble(order: OrderId, call: ProviderCall, e: ProviderError) -> Answer {
    let why = failure::provider(order, call, &e);
    match e {
        ProviderError::Declined(_) => Answer::Declined(why),
        ProviderError::Unavailable(_) => Answer::Unreachable(why),
        ProviderError::TimedOut => Answer::Failed(why),
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
