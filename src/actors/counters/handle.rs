//! `Counters`: the handle through which HTTP handlers, tests and benchmarks
//! reach the counter actors. It finds (or activates) a target's actor,
//! applies backpressure, sends the toggle and awaits the durable answer.

use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::counter::CounterMsg;
use super::error::CounterError;
use super::registry::{CounterEntry, Registry};
use super::supervisor::{CounterActors, CounterSupervisor, SupervisorMsg};
use super::views::{CounterWriterView, CountersOverview};
use super::writer::{self, Writer};
use crate::actors::supervision::ActivationGate;
use crate::config::CounterSettings;
use crate::domain::counter::{Tally, Target, Toggle};
use crate::domain::ids::PostId;
use crate::persistence::Store;

/// Attempts when an actor retires between lookup and delivery.
const DELIVERY_ATTEMPTS: usize = 4;
/// How long shutdown keeps retrying the final flush.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Counters {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    registry: Registry,
    activation: ActivationGate<CounterActors>,
    supervisor: ActorRef<SupervisorMsg>,
    writer: Writer,
    settings: Arc<CounterSettings>,
}

#[derive(Debug, thiserror::Error)]
#[error("could not start the counter actors: {0}")]
pub struct StartError(#[from] ractor::SpawnErr);

impl Counters {
    /// Starts the writer and the supervisor on the current runtime. Call
    /// it from `main` (or a test), never from a request handler.
    pub async fn start(store: Store, settings: CounterSettings) -> Result<Self, StartError> {
        let settings = Arc::new(settings);
        let writer = writer::start(store.clone(), &settings).await?;
        let registry = Registry::default();
        let (supervisor, _) = Actor::spawn(
            None,
            CounterSupervisor::default(),
            CounterActors {
                store: store.clone(),
                writer: writer.clone(),
                registry: registry.clone(),
                settings: Arc::clone(&settings),
            },
        )
        .await?;
        writer.link(supervisor.get_cell());
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                registry,
                activation: ActivationGate::new(supervisor.clone()),
                supervisor,
                writer,
                settings,
            }),
        })
    }

    /// Makes `toggle.user` a member of `target` or not (like, unlike,
    /// follow, unfollow); answers once the change is committed.
    pub async fn toggle(&self, target: Target, toggle: Toggle) -> Result<Tally, CounterError> {
        // Taken over by another process: its batches are refused, and
        // this one's members may be stale.
        if let Some(fenced) = self.inner.store.fenced() {
            return Err(CounterError::Store(fenced));
        }
        let settings = &self.inner.settings;
        for _ in 0..DELIVERY_ATTEMPTS {
            // A cluster node decides only its shards' counters; one being
            // handed over answers 503, and the retry reaches its next owner.
            if !self.inner.store.decides_counter(target) {
                return Err(CounterError::Unavailable);
            }
            let entry = match self.activate(target).await {
                Err(CounterError::Retired) => continue,
                other => other?,
            };
            let depth = entry.stats.in_flight.fetch_add(1, Ordering::Relaxed);
            if depth >= settings.mailbox_max as i64 {
                entry.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                return Err(CounterError::Overloaded);
            }
            match entry
                .actor
                .call(
                    |r| CounterMsg::Toggle(toggle, r),
                    Some(settings.call_timeout()),
                )
                .await
            {
                Ok(CallResult::Success(Err(CounterError::Retired))) => continue,
                Ok(CallResult::Success(result)) => return result,
                Ok(CallResult::Timeout) | Ok(CallResult::SenderError) => {
                    return Err(CounterError::Unavailable);
                }
                Err(_) => {
                    // Never delivered: the actor had already stopped.
                    entry.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                    self.inner
                        .registry
                        .remove_if_owner(target, entry.actor.get_id());
                    tokio::task::yield_now().await;
                }
            }
        }
        Err(CounterError::Unavailable)
    }

    /// The target was deleted or hidden: its actor leaves memory, and the
    /// next request loads it afresh (and finds it gone). Requests already
    /// queued on the old actor are retried on the new one.
    pub fn forget(&self, target: Target) {
        if let Some(entry) = self.inner.registry.remove(target) {
            let _ = entry.actor.send_message(CounterMsg::Retire);
        }
    }

    /// The post was deleted or hidden: its actor and those of its comments
    /// leave memory, so a like on either activates afresh and finds it gone.
    pub fn forget_post(&self, post: PostId) {
        self.forget(Target::Post(post));
        for actor in self.inner.registry.comment_actors() {
            let _ = actor.send_message(CounterMsg::RetireIfOn(post));
        }
    }

    /// Stops the actors of the targets `pick` selects (a cluster shard
    /// handed over, or taken again: a stale actor must not decide from the
    /// members it remembers), each after the requests already in its
    /// mailbox, then waits for what they decided to commit.
    pub async fn retire(&self, pick: impl Fn(Target) -> bool) {
        let timeout = self.inner.settings.call_timeout();
        let picked = self.inner.registry.select(pick);
        if picked.is_empty() {
            return;
        }
        futures::future::join_all(picked.into_iter().map(|(target, entry)| async move {
            self.inner
                .registry
                .remove_if_owner(target, entry.actor.get_id());
            if let Err(e) = entry.actor.drain_and_wait(Some(timeout)).await {
                tracing::warn!(%target, error = %e, "a counter actor did not stop in time");
                entry.actor.stop(Some("retired".into()));
            }
        }))
        .await;
        if let Err(e) = self.sync().await {
            tracing::warn!(error = %e, "a handed-over shard's last counter changes did not commit");
        }
    }

    /// Makes the target's actor panic (fault injection for supervision tests).
    pub async fn inject_panic(&self, target: Target) -> Result<(), CounterError> {
        let entry = self.activate(target).await?;
        entry
            .actor
            .send_message(CounterMsg::InjectPanic)
            .map_err(|_| CounterError::Unavailable)
    }

    /// Makes the writer panic (fault injection for supervision tests).
    pub fn inject_writer_panic(&self) {
        self.inner.writer.inject_panic();
    }

    /// Waits until every change decided so far is committed.
    pub async fn sync(&self) -> Result<(), CounterError> {
        self.inner
            .writer
            .sync(None, self.inner.settings.call_timeout())
            .await
            .map_err(|_| CounterError::Unavailable)
    }

    /// Stops every counter actor (their changes are already queued),
    /// commits the queue, then stops the writer.
    pub async fn shutdown(&self) -> Result<(), CounterError> {
        let inner = &self.inner;
        // The writer outlives the actors: it commits what they decided.
        inner.writer.unlink(inner.supervisor.get_cell());
        inner
            .supervisor
            .stop_children_and_wait(None, Some(DRAIN_TIMEOUT))
            .await;
        inner.supervisor.stop(None);
        let drained = inner.writer.drain(DRAIN_TIMEOUT).await;
        inner.writer.stop();
        drained.map_err(|_| {
            tracing::error!("shutdown could not commit every counter change");
            CounterError::Unavailable
        })
    }

    pub fn overview(&self) -> CountersOverview {
        let inner = &self.inner;
        let g = inner.writer.gauge();
        CountersOverview {
            active_counter_actors: inner.registry.len(),
            mailbox_depth: inner
                .registry
                .total(|s| s.in_flight.load(Ordering::Relaxed).max(0)),
            unflushed_changes: inner
                .registry
                .total(|s| s.unflushed.load(Ordering::Relaxed)),
            restarts: inner
                .registry
                .total(|s| s.restarts.load(Ordering::Relaxed) as i64) as u64,
            writer: CounterWriterView {
                queued: g.queued.load(Ordering::Relaxed),
                batches_committed: g.batches.load(Ordering::Relaxed),
                changes_committed: g.changes.load(Ordering::Relaxed),
                failed_flushes: g.failures.load(Ordering::Relaxed),
                failing: g.failing.load(Ordering::Relaxed),
                last_flush_size: g.last_flush_size.load(Ordering::Relaxed),
                restarts: g.restarts.load(Ordering::Relaxed),
                quarantined: inner.writer.quarantined(),
            },
        }
    }

    /// Restarts of the target's actor after panics (0 when not active).
    pub fn restarts(&self, target: Target) -> u64 {
        self.inner
            .registry
            .get(target)
            .map_or(0, |e| e.stats.restarts.load(Ordering::Relaxed))
    }

    async fn activate(&self, target: Target) -> Result<CounterEntry, CounterError> {
        if let Some(entry) = self.inner.registry.get(target) {
            return Ok(entry);
        }
        let timeout = self.inner.settings.call_timeout();
        let spawned = self.inner.activation.activate(target, timeout).await;
        match self.inner.registry.get(target) {
            Some(entry) => Ok(entry),
            None if spawned => Err(CounterError::Retired),
            None => Err(CounterError::Unavailable),
        }
    }
}
