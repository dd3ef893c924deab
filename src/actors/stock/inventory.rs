//! `Inventory`: the handle through which HTTP handlers, sagas, tests and
//! benchmarks reach the SKU actors. It finds (or activates) the actor,
//! applies backpressure, sends the message (a reserve joins the SKU's
//! [`Intake`](super::intake)) and awaits the reply.

use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::error::InventoryError;
use super::intake::{Queued, Waiting};
use super::live::{Purchase, SkuLiveReading};
use super::persister::{self, Persister, PersisterHandle};
use super::registry::{Registry, SkuEntry};
use super::sku::{Held, Reply, SkuMsg, SkuSnapshot};
use super::supervisor::{SkuActors, SkuSupervisor, SupervisorMsg};
use super::views::{ActivationsView, ActorsOverview, PersisterView, SkuActorView, instant};
use crate::actors::supervision::ActivationGate;
use crate::config::InventorySettings;
use crate::domain::ids::{ReservationId, SkuId, UserId};
use crate::domain::ledger::{Levels, Reservation, ReserveRequest};
use crate::domain::quantity::Quantity;
use crate::domain::rules::SaleRules;
use crate::persistence::Store;

/// Attempts when an actor retires between lookup and delivery.
const DELIVERY_ATTEMPTS: usize = 4;
/// How long shutdown keeps retrying the final flush.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where [`Inventory::enqueue`] left a reserve.
enum Enqueued {
    /// In the live actor's intake; its answer will come.
    Queued,
    /// No actor is registered for the SKU: activate one.
    NoActor,
    /// The registered actor has ended; its successor must be found.
    Ended,
}

#[derive(Clone)]
pub struct Inventory {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    registry: Registry,
    activation: ActivationGate<SkuActors>,
    supervisor: ActorRef<SupervisorMsg>,
    persister: PersisterHandle,
    settings: Arc<InventorySettings>,
}

#[derive(Debug, thiserror::Error)]
#[error("could not start the inventory actors: {0}")]
pub struct StartError(#[from] ractor::SpawnErr);

impl Inventory {
    /// Starts the persister and the SKU supervisor on the current runtime.
    /// Call it from `main` (or a test), never from a request handler.
    pub async fn start(store: Store, settings: InventorySettings) -> Result<Self, StartError> {
        let settings = Arc::new(settings);
        let persister = Persister::start(
            persister::Arguments {
                store: store.clone(),
                flush_interval: settings.flush_interval(),
                batch_max: settings.batch_max,
            },
            settings.queue_max,
        )
        .await?;
        let registry = Registry::default();
        let (supervisor, _) = Actor::spawn(
            None,
            SkuSupervisor::default(),
            SkuActors {
                store: store.clone(),
                persister: persister.clone(),
                registry: registry.clone(),
                settings: Arc::clone(&settings),
            },
        )
        .await?;
        persister.link(supervisor.get_cell());
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                registry,
                activation: ActivationGate::new(supervisor.clone()),
                supervisor,
                persister,
                settings,
            }),
        })
    }

    /// Creates a SKU with `on_hand` units. Creation is not on the hot path
    /// and no actor exists yet, so it writes straight to the store.
    pub async fn create_sku(
        &self,
        on_hand: Quantity,
        rules: SaleRules,
    ) -> Result<SkuId, InventoryError> {
        Ok(self.inner.store.create_sku(on_hand.as_i64(), rules).await?)
    }

    /// Reserves `quantity` units for `user` under the caller's id, for the
    /// configured TTL. Retrying with the same id returns the first answer.
    pub async fn reserve(
        &self,
        sku: SkuId,
        id: ReservationId,
        user: UserId,
        quantity: Quantity,
    ) -> Result<Reservation, InventoryError> {
        self.hold(sku, id, user, quantity, false)
            .await
            .map(|held| held.reservation)
    }

    /// Like [`Inventory::reserve`], also saying whether this call took the
    /// units; with `again`, an id whose reservation was given back is
    /// judged afresh (see [`ReserveRequest::again`]).
    pub async fn hold(
        &self,
        sku: SkuId,
        id: ReservationId,
        user: UserId,
        quantity: Quantity,
        again: bool,
    ) -> Result<Held, InventoryError> {
        let req = ReserveRequest {
            id,
            user,
            quantity,
            ttl: self.inner.settings.reservation_ttl(),
            again,
        };
        // Taken over by another process: see `ask`.
        if let Some(fenced) = self.inner.store.fenced() {
            return Err(InventoryError::Store(fenced));
        }
        let timeout = self.inner.settings.call_timeout();
        // Each attempt either activates the actor or delivers to it.
        for _ in 0..2 * DELIVERY_ATTEMPTS {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let waiting = Waiting {
                request: req.clone(),
                reply,
            };
            match self.enqueue(sku, waiting)? {
                Enqueued::Queued => {}
                // Boxed: the cold path's future stays out of every
                // purchase's (each is moved into a task of its own).
                Enqueued::NoActor => match Box::pin(self.activate(sku)).await {
                    Ok(_) | Err(InventoryError::Retired) => continue,
                    Err(e) => return Err(e),
                },
                Enqueued::Ended => {
                    tokio::task::yield_now().await;
                    continue;
                }
            }
            match tokio::time::timeout(timeout, answer).await {
                // Never decided: the actor retired or ended first.
                Ok(Ok(Err(InventoryError::Retired))) => continue,
                Ok(Ok(result)) => return result,
                // The answer was dropped unsent, or never came.
                Ok(Err(_)) | Err(_) => return Err(InventoryError::Unavailable),
            }
        }
        Err(InventoryError::Unavailable)
    }

    /// Queues a reserve on the SKU's live actor, waking the actor if the
    /// queue was empty. Holds the registry's guard only for the push, so
    /// no reference count on the hot entry is touched.
    fn enqueue(&self, sku: SkuId, waiting: Waiting) -> Result<Enqueued, InventoryError> {
        let mailbox_max = self.inner.settings.mailbox_max as i64;
        let queued = self.inner.registry.with(sku, |entry| {
            let depth = entry.stats.in_flight.fetch_add(1, Ordering::Relaxed);
            if depth >= mailbox_max {
                entry.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                entry.stats.live.count(Purchase::Overloaded);
                return Err(InventoryError::Overloaded);
            }
            match entry.intake.push(waiting) {
                Queued::Joined => Ok(Enqueued::Queued),
                Queued::Wake => {
                    if entry.actor.send_message(SkuMsg::Intake).is_err() {
                        // The actor stopped: nothing queued will be decided
                        // (this caller's own request hears `Retired`).
                        entry.intake.close();
                    }
                    Ok(Enqueued::Queued)
                }
                Queued::Closed(_) => {
                    entry.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                    Ok(Enqueued::Ended)
                }
            }
        });
        let queued = queued.unwrap_or(Ok(Enqueued::NoActor))?;
        if matches!(queued, Enqueued::Ended) {
            // Its successor must not wait for the ended actor's own cleanup.
            if let Some(entry) = self.inner.registry.get(sku)
                && entry.intake.is_closed()
            {
                self.inner
                    .registry
                    .remove_if_owner(sku, entry.actor.get_id());
            }
        }
        Ok(queued)
    }

    /// Turns a reservation into a sale (after payment capture).
    pub async fn commit(
        &self,
        sku: SkuId,
        id: ReservationId,
    ) -> Result<Reservation, InventoryError> {
        self.ask(sku, move |r| SkuMsg::Commit(id.clone(), r)).await
    }

    /// Gives a reservation's units back (cancel, or refund after commit).
    pub async fn release(
        &self,
        sku: SkuId,
        id: ReservationId,
    ) -> Result<Reservation, InventoryError> {
        self.ask(sku, move |r| SkuMsg::Release(id.clone(), r)).await
    }

    /// Adds units. Not idempotent, so it is never retried after delivery.
    pub async fn restock(&self, sku: SkuId, quantity: Quantity) -> Result<Levels, InventoryError> {
        self.ask(sku, move |r| SkuMsg::Restock(quantity, r)).await
    }

    pub async fn set_rules(
        &self,
        sku: SkuId,
        rules: SaleRules,
    ) -> Result<SaleRules, InventoryError> {
        self.ask(sku, move |r| SkuMsg::SetRules(rules, r)).await
    }

    pub async fn snapshot(&self, sku: SkuId) -> Result<SkuSnapshot, InventoryError> {
        self.ask(sku, SkuMsg::Snapshot).await
    }

    /// Makes the SKU's actor panic (fault injection for supervision tests).
    pub async fn inject_panic(&self, sku: SkuId) -> Result<(), InventoryError> {
        let entry = self.activate(sku).await?;
        entry.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        entry
            .actor
            .send_message(SkuMsg::InjectPanic)
            .map_err(|_| InventoryError::Unavailable)
    }

    /// Makes the persister panic (fault injection for supervision tests).
    pub fn inject_persister_panic(&self) {
        self.inner.persister.inject_panic();
    }

    /// Waits until every decision made so far is committed.
    pub async fn sync(&self) -> Result<(), InventoryError> {
        self.inner
            .persister
            .sync(self.inner.settings.call_timeout())
            .await
            .map_err(|_| InventoryError::Unavailable)
    }

    /// Stops the actors of every active SKU `pick` selects, each after the
    /// requests already in its mailbox (a cluster shard handed over, or
    /// taken again: a stale actor must not decide from what it remembers).
    /// Their decisions are with the persister; [`Inventory::sync`] commits them.
    /// All at once: a shard of thousands of active SKUs drains in about
    /// the time of its slowest actor, not of their sum.
    pub async fn retire(&self, pick: impl Fn(SkuId) -> bool) {
        let timeout = self.inner.settings.call_timeout();
        let picked = self.inner.registry.select(pick);
        futures::future::join_all(picked.into_iter().map(|(sku, entry)| async move {
            self.inner
                .registry
                .remove_if_owner(sku, entry.actor.get_id());
            if let Err(e) = entry.actor.drain_and_wait(Some(timeout)).await {
                tracing::warn!(%sku, error = %e, "a SKU actor did not stop in time");
                entry.actor.stop(Some("retired".into()));
            }
        }))
        .await;
    }

    /// True when the write-behind path is healthy (readiness): batches
    /// commit, and no other process has taken the store over.
    pub fn is_writing(&self) -> bool {
        !self.inner.persister.gauge().failing.load(Ordering::Relaxed)
            && self.inner.store.fenced().is_none()
    }

    /// The designed shutdown path: stop every SKU actor (their decisions are
    /// already queued), commit the queue, then stop the persister.
    pub async fn shutdown(&self) -> Result<(), InventoryError> {
        let inner = &self.inner;
        // The persister outlives the SKU actors: it commits what they decided.
        inner.persister.unlink(inner.supervisor.get_cell());
        inner
            .supervisor
            .stop_children_and_wait(None, Some(DRAIN_TIMEOUT))
            .await;
        inner.supervisor.stop(None);
        let drained = inner.persister.drain(DRAIN_TIMEOUT).await;
        inner.persister.stop();
        drained.map_err(|_| {
            tracing::error!("shutdown could not commit every pending decision");
            InventoryError::Unavailable
        })
    }

    pub fn overview(&self) -> ActorsOverview {
        let inner = &self.inner;
        let g = inner.persister.gauge();
        let activations = inner.registry.activations();
        ActorsOverview {
            ack_mode: inner.settings.ack,
            active_sku_actors: inner.registry.len(),
            mailbox_depth: inner
                .registry
                .total(|s| s.in_flight.load(Ordering::Relaxed).max(0)),
            unflushed_decisions: inner
                .registry
                .total(|s| s.unflushed.load(Ordering::Relaxed)),
            restarts: inner
                .registry
                .total(|s| s.restarts.load(Ordering::Relaxed) as i64) as u64,
            sku_activations: ActivationsView {
                loaded: activations.loaded.load(Ordering::Relaxed),
                unknown: activations.unknown.load(Ordering::Relaxed),
                failed: activations.failed.load(Ordering::Relaxed),
            },
            persister: PersisterView {
                queued: g.queued.load(Ordering::Relaxed),
                queue_max: inner.settings.queue_max,
                batches_committed: g.batches.load(Ordering::Relaxed),
                changes_committed: g.changes.load(Ordering::Relaxed),
                failed_flushes: g.failures.load(Ordering::Relaxed),
                failing: g.failing.load(Ordering::Relaxed),
                last_flush_at: instant(g.last_flush_ms.load(Ordering::Relaxed)),
                last_flush_size: g.last_flush_size.load(Ordering::Relaxed),
                last_flush_micros: g.last_flush_micros.load(Ordering::Relaxed),
                restarts: g.restarts.load(Ordering::Relaxed),
                quarantined: inner.persister.quarantined(),
            },
        }
    }

    /// Every active SKU whose ledger is loaded: its mirrored levels and
    /// purchase counts, and its mailbox depth. Reads atomics only; no
    /// actor is asked.
    pub fn live_skus(&self, mut visit: impl FnMut(SkuId, SkuLiveReading, i64)) {
        self.inner.registry.for_each(|sku, stats| {
            if let Some(reading) = stats.live.read() {
                visit(sku, reading, stats.in_flight.load(Ordering::Relaxed).max(0));
            }
        });
    }

    /// The live view of one SKU's actor (activating it if needed).
    pub async fn sku_view(&self, sku: SkuId) -> Result<SkuActorView, InventoryError> {
        let stock = self.snapshot(sku).await?;
        let stats = self
            .inner
            .registry
            .get(sku)
            .map(|e| e.stats)
            .ok_or(InventoryError::Unavailable)?;
        Ok(SkuActorView {
            sku_id: sku,
            mailbox_depth: stats.in_flight.load(Ordering::Relaxed).max(0),
            unflushed_decisions: stats.unflushed.load(Ordering::Relaxed),
            restarts: stats.restarts.load(Ordering::Relaxed),
            activated_at: instant(stats.activated_ms.load(Ordering::Relaxed)),
            last_flush_at: instant(stats.last_flush_ms.load(Ordering::Relaxed)),
            last_flush_size: stats.last_flush_size.load(Ordering::Relaxed),
            held: stats.held.load(Ordering::Relaxed),
            remembered_reservations: stock.remembered,
            owner_node: None,
            stock,
        })
    }

    async fn activate(&self, sku: SkuId) -> Result<SkuEntry, InventoryError> {
        // Known not to exist: no actor, no store read.
        if self.inner.store.is_missing_sku(sku) {
            return Err(InventoryError::UnknownSku(sku));
        }
        if let Some(entry) = self.inner.registry.get(sku) {
            return Ok(entry);
        }
        let timeout = self.inner.settings.call_timeout();
        let spawned = self.inner.activation.activate(sku, timeout).await;
        match self.inner.registry.get(sku) {
            Some(entry) => Ok(entry),
            None if spawned => Err(InventoryError::Retired),
            None => Err(InventoryError::Unavailable),
        }
    }

    /// Sends a request to the SKU's actor and awaits its answer. Only
    /// undelivered or `Retired` requests are retried: both are guaranteed
    /// not to have been applied.
    async fn ask<T, F>(&self, sku: SkuId, build: F) -> Result<T, InventoryError>
    where
        T: Send + 'static,
        F: Fn(Reply<T>) -> SkuMsg,
    {
        // Taken over by another process: its decisions could not be
        // written, and this one's view of the stock is stale.
        if let Some(fenced) = self.inner.store.fenced() {
            return Err(InventoryError::Store(fenced));
        }
        let settings = &self.inner.settings;
        for _ in 0..DELIVERY_ATTEMPTS {
            let entry = match self.activate(sku).await {
                // Passivated between activation and lookup: go again.
                Err(InventoryError::Retired) => continue,
                other => other?,
            };
            let depth = entry.stats.in_flight.fetch_add(1, Ordering::Relaxed);
            if depth >= settings.mailbox_max as i64 {
                entry.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                return Err(InventoryError::Overloaded);
            }
            match entry
                .actor
                .call(&build, Some(settings.call_timeout()))
                .await
            {
                Ok(CallResult::Success(Err(InventoryError::Retired))) => continue,
                Ok(CallResult::Success(result)) => return result,
                Ok(CallResult::Timeout) | Ok(CallResult::SenderError) => {
                    return Err(InventoryError::Unavailable);
                }
                Err(_) => {
                    // Never delivered: the actor had already stopped.
                    entry.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                    self.inner
                        .registry
                        .remove_if_owner(sku, entry.actor.get_id());
                    tokio::task::yield_now().await;
                }
            }
        }
        Err(InventoryError::Unavailable)
    }
}
