//! `SkuActor`: the single owner of one SKU's stock.
//!
//! It handles one message at a time against its in-memory [`Ledger`], so two
//! buyers never race on a unit and no database lock is taken. Reserves
//! arrive through the SKU's [`Intake`]: one `Intake` message hands the actor
//! every purchase waiting, decided in arrival order in one turn. The
//! decisions of a turn go to the persister in one message; in durable mode
//! each reply travels with its change and is sent only after the batch
//! commits.
//!
//! Lifecycle: spawned by the supervisor on first use, it loads its ledger in
//! `post_start` after a persister barrier (so changes of a previous
//! incarnation are committed before it reads). When idle with nothing live it
//! retires: it leaves the registry, answers `Retired` to stragglers (the
//! `Inventory` handle retries them on a fresh actor) and stops shortly after.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

use super::error::InventoryError;
use super::intake::{Intake, Waiting};
use super::live::Purchase;
use super::persister::{Ack, PersisterHandle};
use super::registry::{Registry, SkuStats};
use crate::config::{AckMode, InventorySettings};
use crate::domain::ids::{ReservationId, SkuId};
use crate::domain::ledger::{Change, Ledger, Levels, Outcome, Rejection, Reservation};
use crate::domain::quantity::Quantity;
use crate::domain::rules::SaleRules;
use crate::domain::time::Timestamp;
use crate::persistence::Store;
use crate::prometheus::{INTAKE_BATCH, RESERVES};

/// Time a retired actor keeps answering `Retired` before it stops.
const RETIRE_GRACE: Duration = Duration::from_secs(2);
/// How often finished reservations past the idempotency window are dropped.
const FORGET_EVERY: Duration = Duration::from_secs(60);

pub type Reply<T> = RpcReplyPort<Result<T, InventoryError>>;

/// A reserve's answer: the reservation, and whether this very request took
/// it (false: it replays what an earlier request with the id took).
#[derive(Debug, Clone)]
pub struct Held {
    pub reservation: Reservation,
    pub fresh: bool,
}

pub enum SkuMsg {
    /// Decide every reserve waiting in the intake (see [`Intake`]).
    Intake,
    Commit(ReservationId, Reply<Reservation>),
    Release(ReservationId, Reply<Reservation>),
    Restock(Quantity, Reply<Levels>),
    SetRules(SaleRules, Reply<SaleRules>),
    Snapshot(Reply<SkuSnapshot>),
    /// Expire due reservations, forget old ones, passivate when idle.
    Housekeeping,
    /// Sent to itself after retiring.
    Stop,
    /// Fault injection for the supervision tests; not reachable over HTTP.
    InjectPanic,
}

impl SkuMsg {
    /// Requests are counted in the mailbox depth; timer messages are not,
    /// and the intake counts its own.
    fn is_request(&self) -> bool {
        !matches!(self, SkuMsg::Housekeeping | SkuMsg::Stop | SkuMsg::Intake)
    }
}

/// A SKU's stock as its actor sees it right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SkuSnapshot {
    pub sku_id: SkuId,
    pub on_hand: i64,
    pub reserved: i64,
    pub sold: i64,
    pub available: i64,
    pub on_sale: bool,
    pub opens_at: Option<Timestamp>,
    pub closes_at: Option<Timestamp>,
    pub per_user_limit: Option<u32>,
    /// Unpaid reservations holding units.
    pub live_reservations: usize,
    /// Reservations the actor keeps in memory (live, committed, and the
    /// newest given-back ones); for operators, not part of the public view.
    #[serde(skip)]
    #[schema(ignore)]
    pub remembered: usize,
}

impl SkuSnapshot {
    fn of(ledger: &Ledger, now: Timestamp) -> Self {
        let (levels, rules) = (ledger.levels(), ledger.rules());
        Self {
            sku_id: ledger.sku(),
            on_hand: levels.on_hand,
            reserved: levels.reserved,
            sold: levels.sold,
            available: levels.available(),
            on_sale: rules.is_open(now),
            opens_at: rules.opens_at,
            closes_at: rules.closes_at,
            per_user_limit: rules.per_user_limit,
            live_reservations: ledger.live_reservations(),
            remembered: ledger.remembered(),
        }
    }
}

/// Loading the ledger failed; the supervisor does not restart on this (the
/// next request activates a fresh actor instead).
#[derive(Debug, thiserror::Error)]
#[error("SKU {sku} could not be loaded: {reason}")]
pub struct LoadFailed {
    pub sku: SkuId,
    pub reason: String,
}

pub struct SkuActor;

#[derive(Clone)]
pub struct Arguments {
    pub sku: SkuId,
    pub intake: Arc<Intake>,
    pub store: Store,
    pub persister: PersisterHandle,
    pub registry: Registry,
    pub stats: Arc<SkuStats>,
    pub settings: Arc<InventorySettings>,
}

pub struct State {
    args: Arguments,
    /// `None` once loaded means the SKU does not exist.
    ledger: Option<Ledger>,
    retired: bool,
    last_request: Timestamp,
    last_forget: Instant,
    /// Changes decided in this turn, handed to the persister at its end.
    writes: Vec<(Change, Option<Ack>)>,
}

impl Drop for State {
    /// However the actor ends (retired, stopped, panicked), reserves still
    /// queued were never decided: they are answered `Retired` and retried
    /// on a fresh actor.
    fn drop(&mut self) {
        self.args.intake.close();
    }
}

impl Actor for SkuActor {
    type Msg = SkuMsg;
    type State = State;
    type Arguments = Arguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: Arguments,
    ) -> Result<State, ActorProcessingErr> {
        // Kept cheap: the supervisor awaits this. Loading happens in post_start.
        Ok(State {
            args,
            ledger: None,
            retired: false,
            last_request: Timestamp::now(),
            last_forget: Instant::now(),
            writes: Vec::new(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        st: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        let a = &st.args;
        let fail = |reason: String| LoadFailed { sku: a.sku, reason };
        // Whatever an earlier incarnation decided must be in the store first.
        let counts = a.registry.activations();
        let loaded = async {
            a.persister
                .sync_sku(a.sku, a.settings.call_timeout())
                .await
                .map_err(|e| fail(e.to_string()))?;
            let since = Timestamp::now().minus(a.settings.idempotency_window());
            let stored = a
                .store
                .load_sku(a.sku, since, a.settings.finished_kept)
                .await
                .map_err(|e| fail(e.to_string()))?;
            stored
                .map(|s| {
                    Ledger::restore(s.header, s.reservations)
                        .map(|l| l.keep_finished(a.settings.finished_kept))
                        .map_err(|e| fail(e.to_string()))
                })
                .transpose()
        }
        .await;
        let counter = match &loaded {
            Ok(Some(_)) => &counts.loaded,
            Ok(None) => &counts.unknown,
            Err(_) => &counts.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        st.ledger = loaded?;
        if let Some(ledger) = &st.ledger {
            a.stats.live.mirror(ledger);
        }
        a.stats
            .activated_ms
            .store(Timestamp::now().millis(), Ordering::Relaxed);
        myself.send_interval(a.settings.housekeeping(), || SkuMsg::Housekeeping);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: SkuMsg,
        st: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        if msg.is_request() {
            st.args.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        match msg {
            SkuMsg::Housekeeping => st.housekeeping(&myself),
            SkuMsg::Stop => myself.stop(Some("passivated".into())),
            SkuMsg::InjectPanic => panic!("fault injected into SKU actor {}", st.args.sku),
            SkuMsg::Intake => st.serve_intake(&myself),
            request => st.serve(&myself, request),
        }
        st.hand_over();
        Ok(())
    }
}

/// Why a request is answered without touching the ledger.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// This actor retired; the `Inventory` handle retries on a fresh one.
    Retired,
    UnknownSku,
    /// The persister's queue is full.
    Overloaded,
    /// The store refuses this SKU's changes: deciding more would only add
    /// to what cannot be made durable.
    Held,
}

impl Refusal {
    fn error(self, sku: SkuId) -> InventoryError {
        match self {
            Refusal::Retired => InventoryError::Retired,
            Refusal::UnknownSku => InventoryError::UnknownSku(sku),
            Refusal::Overloaded => InventoryError::Overloaded,
            Refusal::Held => InventoryError::Unavailable,
        }
    }

    /// How a refused purchase is counted; `Retired` is not (it is retried).
    fn counted(self) -> Option<(&'static str, Purchase)> {
        match self {
            Refusal::Retired => None,
            Refusal::UnknownSku => Some(("unknown_sku", Purchase::Other)),
            Refusal::Overloaded => Some(("overloaded", Purchase::Overloaded)),
            Refusal::Held => Some(("held", Purchase::Overloaded)),
        }
    }
}

impl State {
    /// Whether a request may reach the ledger now; due reservations are
    /// expired first.
    fn admit(
        &mut self,
        myself: &ActorRef<SkuMsg>,
        mutating: bool,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        self.last_request = now;
        if self.retired {
            return Err(Refusal::Retired);
        }
        self.expire_due(now);
        if self.ledger.is_none() {
            if !self.args.store.is_missing_sku(self.args.sku) {
                // Created since this actor found nothing (or no longer
                // known to be missing): a fresh actor loads it.
                self.retire(myself);
                return Err(Refusal::Retired);
            }
            return Err(Refusal::UnknownSku);
        }
        if mutating && !self.args.persister.has_room() {
            return Err(Refusal::Overloaded);
        }
        if mutating && self.args.stats.held.load(Ordering::Relaxed) {
            return Err(Refusal::Held);
        }
        Ok(())
    }

    /// Decides every reserve waiting in the intake, in arrival order. The
    /// gate is checked once per batch: the persister's queue may pass its
    /// bound by at most one batch (itself bounded by `mailbox_max`).
    fn serve_intake(&mut self, myself: &ActorRef<SkuMsg>) {
        let batch = self.args.intake.take();
        if batch.is_empty() {
            return;
        }
        metrics::histogram!(INTAKE_BATCH).record(batch.len() as f64);
        let now = Timestamp::now();
        let mut tally = Tally::default();
        if let Err(refusal) = self.admit(myself, true, now) {
            let sku = self.args.sku;
            for waiting in batch {
                if let Some((label, purchase)) = refusal.counted() {
                    tally.add(label);
                    self.args.stats.live.count(purchase);
                }
                waiting.answer(Err(refusal.error(sku)));
            }
            tally.record();
            return;
        }
        let Some(ledger) = self.ledger.as_mut() else {
            return;
        };
        for Waiting { request, reply } in batch {
            let result = ledger.reserve(&request, now);
            tally.add(reserve_outcome(&result));
            self.args.stats.live.count(purchase(&result));
            let result = result.map(|o| Outcome {
                value: Held {
                    reservation: o.value,
                    fresh: o.change.is_some(),
                },
                change: o.change,
            });
            answer(
                &self.args,
                &mut self.writes,
                result.map_err(InventoryError::from),
                move |r| {
                    let _ = reply.send(r);
                },
            );
        }
        tally.record();
        self.mirror();
    }

    fn serve(&mut self, myself: &ActorRef<SkuMsg>, msg: SkuMsg) {
        let now = Timestamp::now();
        let mutating = !matches!(msg, SkuMsg::Snapshot(_));
        if let Err(refusal) = self.admit(myself, mutating, now) {
            let sku = self.args.sku;
            return refuse(msg, || refusal.error(sku));
        }
        let Some(ledger) = self.ledger.as_mut() else {
            return;
        };
        let (args, writes) = (&self.args, &mut self.writes);
        match msg {
            SkuMsg::Commit(id, reply) => {
                let result = ledger.commit(&id, now).map_err(InventoryError::from);
                answer(args, writes, result, port(reply));
            }
            SkuMsg::Release(id, reply) => {
                let result = ledger.release(&id, now).map_err(InventoryError::from);
                answer(args, writes, result, port(reply));
            }
            SkuMsg::Restock(qty, reply) => {
                let result = ledger.restock(qty).map_err(InventoryError::from);
                answer(args, writes, result, port(reply));
            }
            SkuMsg::SetRules(rules, reply) => {
                let outcome = ledger.set_rules(rules);
                answer(args, writes, Ok(outcome), port(reply));
            }
            SkuMsg::Snapshot(reply) => {
                let _ = reply.send(Ok(SkuSnapshot::of(ledger, now)));
            }
            SkuMsg::Intake | SkuMsg::Housekeeping | SkuMsg::Stop | SkuMsg::InjectPanic => {}
        }
        self.mirror();
    }

    /// Hands this turn's changes to the persister in one message.
    fn hand_over(&mut self) {
        if !self.writes.is_empty() {
            let writes = std::mem::take(&mut self.writes);
            self.args.persister.write_many(writes, &self.args.stats);
        }
    }

    /// Shows the ledger's levels and window to the control room.
    fn mirror(&self) {
        if let Some(ledger) = &self.ledger {
            self.args.stats.live.mirror(ledger);
        }
    }

    /// Expires reservations whose time is up and writes that behind.
    fn expire_due(&mut self, now: Timestamp) {
        if let Some(ledger) = self.ledger.as_mut() {
            let mut expired = false;
            for change in ledger.expire_due(now) {
                self.writes.push((change, None));
                expired = true;
            }
            if expired {
                self.mirror();
            }
        }
    }

    fn housekeeping(&mut self, myself: &ActorRef<SkuMsg>) {
        if self.retired {
            return;
        }
        let now = Timestamp::now();
        self.expire_due(now);
        let settings = &self.args.settings;
        if let Some(ledger) = self.ledger.as_mut()
            && self.last_forget.elapsed() >= FORGET_EVERY
        {
            ledger.forget_finished_before(now.minus(settings.idempotency_window()));
            self.last_forget = Instant::now();
        }
        let stats = &self.args.stats;
        let idle = match &self.ledger {
            // A SKU that does not exist is not worth keeping in memory.
            None => true,
            Some(l) => {
                l.live_reservations() == 0
                    && now >= self.last_request.plus(settings.idle_passivate())
            }
        };
        let quiet = stats.in_flight.load(Ordering::Relaxed) <= 0
            && stats.unflushed.load(Ordering::Relaxed) <= 0;
        if idle && quiet {
            self.retire(myself);
        }
    }

    /// Leaves the registry, so the next request activates a fresh actor;
    /// stragglers are answered `Retired` until the actor stops.
    fn retire(&mut self, myself: &ActorRef<SkuMsg>) {
        self.retired = true;
        self.args
            .registry
            .remove_if_owner(self.args.sku, myself.get_id());
        myself.send_after(RETIRE_GRACE, || SkuMsg::Stop);
    }
}

/// Replies now (refusals, memory mode) or after the change commits
/// (durable mode); the change joins this turn's `writes`. A durable replay
/// waits for a persister barrier, since the change it replays may still be
/// in flight (this turn's writes are handed over first, so the barrier
/// stands behind them).
fn answer<T: Send + 'static>(
    args: &Arguments,
    writes: &mut Vec<(Change, Option<Ack>)>,
    result: Result<Outcome<T>, InventoryError>,
    reply: impl FnOnce(Result<T, InventoryError>) + Send + 'static,
) {
    let outcome = match result {
        Ok(o) => o,
        Err(e) => return reply(Err(e)),
    };
    match (args.settings.ack, outcome.change) {
        (AckMode::Memory, change) => {
            reply(Ok(outcome.value));
            if let Some(change) = change {
                writes.push((change, None));
            }
        }
        (AckMode::Durable, change) => {
            let value = outcome.value;
            let ack: Ack = Box::new(move |durable| {
                reply(
                    durable
                        .map(|()| value)
                        .map_err(|_| InventoryError::Unavailable),
                );
            });
            match change {
                Some(change) => writes.push((change, Some(ack))),
                None => {
                    args.persister
                        .write_many(std::mem::take(writes), &args.stats);
                    args.persister.sync_sku_then(args.sku, ack);
                }
            }
        }
    }
}

/// A ractor reply port as an answer callback.
fn port<T: Send + 'static>(reply: Reply<T>) -> impl FnOnce(Result<T, InventoryError>) + Send {
    move |r| {
        let _ = reply.send(r);
    }
}

/// Reserve outcomes of one turn, recorded once per label (a labelled
/// counter costs a registry lookup per call).
#[derive(Default)]
struct Tally(Vec<(&'static str, u64)>);

impl Tally {
    fn add(&mut self, label: &'static str) {
        match self.0.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => self.0.push((label, 1)),
        }
    }

    fn record(self) {
        for (outcome, n) in self.0 {
            metrics::counter!(RESERVES, "outcome" => outcome).increment(n);
        }
    }
}

/// The `outcome` label of a reserve decision. A replayed refusal counts as
/// that refusal again: the ledger answers it the same way.
fn reserve_outcome(result: &Result<Outcome<Reservation>, Rejection>) -> &'static str {
    match result {
        Ok(Outcome {
            change: Some(_), ..
        }) => "reserved",
        Ok(Outcome { change: None, .. }) => "replayed",
        Err(Rejection::OutOfStock { .. }) => "out_of_stock",
        Err(Rejection::NotOnSale { .. }) => "not_on_sale",
        Err(Rejection::LimitExceeded { .. }) => "limit_exceeded",
        Err(Rejection::IdReused) => "id_reused",
    }
}

/// How the control room groups a reserve decision.
fn purchase(result: &Result<Outcome<Reservation>, Rejection>) -> Purchase {
    match result {
        Ok(Outcome {
            change: Some(_), ..
        }) => Purchase::Reserved,
        Ok(Outcome { change: None, .. }) | Err(Rejection::IdReused) => Purchase::Other,
        Err(Rejection::OutOfStock { .. }) => Purchase::OutOfStock,
        Err(Rejection::NotOnSale { .. }) => Purchase::NotOnSale,
        Err(Rejection::LimitExceeded { .. }) => Purchase::Limit,
    }
}

/// Answers a request without touching the ledger.
fn refuse(msg: SkuMsg, err: impl Fn() -> InventoryError) {
    // A caller that gave up is not an error here.
    match msg {
        SkuMsg::Commit(_, r) | SkuMsg::Release(_, r) => {
            let _ = r.send(Err(err()));
        }
        SkuMsg::Restock(_, r) => {
            let _ = r.send(Err(err()));
        }
        SkuMsg::SetRules(_, r) => {
            let _ = r.send(Err(err()));
        }
        SkuMsg::Snapshot(r) => {
            let _ = r.send(Err(err()));
        }
        SkuMsg::Intake | SkuMsg::Housekeeping | SkuMsg::Stop | SkuMsg::InjectPanic => {}
    }
}
