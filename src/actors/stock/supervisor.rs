//! How SKU actors are supervised (see [`crate::actors::supervision`]):
//! started on first use with fresh counters, restarted after a panic with
//! their counters kept and their ledger reloaded from the store (after a
//! persister barrier, so everything a predecessor decided counts once), and
//! left down when loading failed (the next request activates afresh).
//!
//! A failed persister takes its queue with it, so SKU actors may hold
//! decisions the store never saw (memory mode). The persister is linked to
//! the SKU supervisor for that reason: its failure stops every SKU actor
//! before a new persister starts; they reload from the store on their next
//! request (one-for-all).

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::error::InventoryError;
use super::intake::Intake;
use super::persister::PersisterHandle;
use super::registry::{Registry, SkuEntry, SkuStats};
use super::sku::{self, LoadFailed, SkuActor, SkuMsg};
use crate::actors::supervision::{self, Children, Stranger};
use crate::config::InventorySettings;
use crate::domain::ids::SkuId;
use crate::persistence::Store;

/// How long a persister restart waits for SKU actors to stop.
const STOP_WAIT: Duration = Duration::from_secs(5);

pub type SkuSupervisor = supervision::Supervisor<SkuActors>;
pub type SupervisorMsg = supervision::SupervisorMsg<SkuActors>;

/// The SKU actors as a supervisor's children.
pub struct SkuActors {
    pub store: Store,
    pub persister: PersisterHandle,
    pub registry: Registry,
    pub settings: Arc<InventorySettings>,
}

impl Children for SkuActors {
    type Key = SkuId;
    type Msg = SkuMsg;
    type Seed = ();
    /// Counters shared with the persister and the admin views.
    type Memory = Arc<SkuStats>;
    type Error = InventoryError;

    fn live(&self, sku: SkuId) -> Option<ActorRef<SkuMsg>> {
        self.registry.get(sku).map(|entry| entry.actor)
    }

    fn fresh_memory(&self) -> Arc<SkuStats> {
        Arc::default()
    }

    async fn start(
        &self,
        sku: SkuId,
        _seed: Option<()>,
        stats: &Arc<SkuStats>,
        supervisor: ActorCell,
    ) -> Result<ActorRef<SkuMsg>, InventoryError> {
        let intake = Arc::new(Intake::new(Arc::clone(stats)));
        let args = sku::Arguments {
            sku,
            intake: Arc::clone(&intake),
            store: self.store.clone(),
            persister: self.persister.clone(),
            registry: self.registry.clone(),
            stats: Arc::clone(stats),
            settings: Arc::clone(&self.settings),
        };
        let (actor, _) = Actor::spawn_linked(None, SkuActor, args, supervisor)
            .await
            .map_err(|e| {
                tracing::error!(%sku, error = %e, "could not spawn SKU actor");
                InventoryError::Unavailable
            })?;
        self.registry.insert(
            sku,
            SkuEntry {
                actor: actor.clone(),
                stats: Arc::clone(stats),
                intake,
            },
        );
        Ok(actor)
    }

    fn forget(&self, sku: SkuId, actor: ActorId) {
        // The `Inventory` handle may have unregistered it already.
        self.registry.remove_if_owner(sku, actor);
    }

    fn restart(&self, sku: SkuId, stats: &mut Arc<SkuStats>, error: &ActorProcessingErr) -> bool {
        if let Some(load) = error.downcast_ref::<LoadFailed>() {
            tracing::warn!(%sku, error = %load, "SKU actor failed to load");
            return false;
        }
        tracing::error!(%sku, %error, "SKU actor failed; restarting with state reloaded");
        stats.restarts.fetch_add(1, Ordering::Relaxed);
        // A request may have activated a successor before this event arrived
        // (ractor refuses sends to the dead actor before it tells its
        // supervisor): the restart is the successor's too, and it is not
        // started again.
        if let Some(successor) = self.registry.get(sku) {
            successor.stats.restarts.fetch_add(1, Ordering::Relaxed);
        }
        // Requests in the dead mailbox were dropped; their callers already
        // got an error.
        stats.in_flight.store(0, Ordering::Relaxed);
        true
    }

    async fn stranger_failed(
        &self,
        myself: &ActorCell,
        actor: &ActorCell,
        error: &ActorProcessingErr,
    ) -> Result<Stranger, ActorProcessingErr> {
        if !self.persister.is_actor(actor.get_id()) {
            return Ok(Stranger::Ignored);
        }
        tracing::error!(%error, "persister failed; stopping SKU actors and restarting it");
        myself
            .stop_children_and_wait(Some("persister restarted".into()), Some(STOP_WAIT))
            .await;
        self.registry.clear();
        self.persister.restart(myself.clone()).await?;
        Ok(Stranger::ChildrenStopped)
    }
}
