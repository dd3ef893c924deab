//! How counter actors are supervised (see [`crate::actors::supervision`]),
//! as SKU actors are: started on first use, restarted after a panic with
//! their stats kept and their members reloaded from the store (after a
//! writer barrier, so everything a predecessor decided counts once), left
//! down when loading failed (the next request activates afresh).
//!
//! A failed writer takes its queue with it, so actors may hold decisions
//! the store never saw. The writer is linked to this supervisor for that
//! reason: its failure stops every counter actor before a new writer
//! starts; they reload from the store on their next request.

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::counter::{self, CounterActor, CounterMsg, LoadFailed};
use super::error::CounterError;
use super::registry::{CounterEntry, CounterStats, Registry};
use super::writer::Writer;
use crate::actors::supervision::{self, Children, Stranger};
use crate::config::CounterSettings;
use crate::domain::counter::Target;
use crate::persistence::Store;

/// How long a writer restart waits for counter actors to stop.
const STOP_WAIT: Duration = Duration::from_secs(5);

pub type CounterSupervisor = supervision::Supervisor<CounterActors>;
pub type SupervisorMsg = supervision::SupervisorMsg<CounterActors>;

/// The counter actors as a supervisor's children.
pub struct CounterActors {
    pub store: Store,
    pub writer: Writer,
    pub registry: Registry,
    pub settings: Arc<CounterSettings>,
}

impl Children for CounterActors {
    type Key = Target;
    type Msg = CounterMsg;
    type Seed = ();
    type Memory = Arc<CounterStats>;
    type Error = CounterError;

    fn live(&self, target: Target) -> Option<ActorRef<CounterMsg>> {
        self.registry.get(target).map(|entry| entry.actor)
    }

    fn fresh_memory(&self) -> Arc<CounterStats> {
        Arc::default()
    }

    async fn start(
        &self,
        target: Target,
        _seed: Option<()>,
        stats: &Arc<CounterStats>,
        supervisor: ActorCell,
    ) -> Result<ActorRef<CounterMsg>, CounterError> {
        let args = counter::Arguments {
            target,
            store: self.store.clone(),
            writer: self.writer.clone(),
            registry: self.registry.clone(),
            stats: Arc::clone(stats),
            settings: Arc::clone(&self.settings),
        };
        let (actor, _) = Actor::spawn_linked(None, CounterActor, args, supervisor)
            .await
            .map_err(|e| {
                tracing::error!(%target, error = %e, "could not spawn counter actor");
                CounterError::Unavailable
            })?;
        self.registry.insert(
            target,
            CounterEntry {
                actor: actor.clone(),
                stats: Arc::clone(stats),
            },
        );
        Ok(actor)
    }

    fn forget(&self, target: Target, actor: ActorId) {
        self.registry.remove_if_owner(target, actor);
    }

    fn restart(
        &self,
        target: Target,
        stats: &mut Arc<CounterStats>,
        error: &ActorProcessingErr,
    ) -> bool {
        if let Some(load) = error.downcast_ref::<LoadFailed>() {
            tracing::warn!(%target, error = %load, "counter actor failed to load");
            return false;
        }
        tracing::error!(%target, %error, "counter actor failed; restarting with members reloaded");
        stats.restarts.fetch_add(1, Ordering::Relaxed);
        // A request may have activated a successor before this event
        // arrived: the restart is the successor's too.
        if let Some(successor) = self.registry.get(target) {
            successor.stats.restarts.fetch_add(1, Ordering::Relaxed);
        }
        // Requests in the dead mailbox were dropped; their callers heard so.
        stats.in_flight.store(0, Ordering::Relaxed);
        true
    }

    async fn stranger_failed(
        &self,
        myself: &ActorCell,
        actor: &ActorCell,
        error: &ActorProcessingErr,
    ) -> Result<Stranger, ActorProcessingErr> {
        if !self.writer.is_actor(actor.get_id()) {
            return Ok(Stranger::Ignored);
        }
        tracing::error!(%error, "counter writer failed; stopping counter actors and restarting it");
        myself
            .stop_children_and_wait(Some("writer restarted".into()), Some(STOP_WAIT))
            .await;
        self.registry.clear();
        self.writer.restart(myself.clone()).await?;
        Ok(Stranger::ChildrenStopped)
    }
}
