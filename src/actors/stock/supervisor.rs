//! `SkuSupervisor`: activates SKU actors on demand and restarts them, and
//! the persister, after a panic.
//!
//! Spawning happens here, never in a request handler, so every SKU actor
//! lives on the main multi-thread runtime rather than on one actix worker.
//! A restarted actor reloads its ledger from the store after a persister
//! barrier, so everything its predecessor decided is counted exactly once.
//!
//! A failed persister takes its queue with it, so SKU actors may hold
//! decisions the store never saw (memory mode). The supervisor therefore
//! stops every SKU actor before starting a new persister; they reload from
//! the store on their next request (one-for-all).

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::error::InventoryError;
use super::persister::PersisterHandle;
use super::registry::{Registry, SkuEntry, SkuStats};
use super::sku::{self, LoadFailed, SkuActor, SkuMsg};
use crate::config::InventorySettings;
use crate::domain::ids::SkuId;
use crate::persistence::Store;

/// How long a persister restart waits for SKU actors to stop.
const STOP_WAIT: Duration = Duration::from_secs(5);

pub enum SupervisorMsg {
    /// Returns the live actor of a SKU, spawning it if needed.
    Activate(
        SkuId,
        RpcReplyPort<Result<ActorRef<SkuMsg>, InventoryError>>,
    ),
}

pub struct SkuSupervisor;

pub struct Arguments {
    pub store: Store,
    pub persister: PersisterHandle,
    pub registry: Registry,
    pub settings: Arc<InventorySettings>,
}

pub struct State {
    args: Arguments,
    /// Every SKU actor spawned here, with the counters it shares.
    children: HashMap<ActorId, (SkuId, Arc<SkuStats>)>,
}

impl Actor for SkuSupervisor {
    type Msg = SupervisorMsg;
    type State = State;
    type Arguments = Arguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: Arguments,
    ) -> Result<State, ActorProcessingErr> {
        Ok(State {
            args,
            children: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: SupervisorMsg,
        st: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Activate(sku, reply) => {
                let result = match st.args.registry.get(sku) {
                    Some(entry) => Ok(entry.actor),
                    None => st.spawn(&myself, sku, Arc::new(SkuStats::default())).await,
                };
                let _ = reply.send(result);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        st: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, err)
                if st.args.persister.is_actor(cell.get_id()) =>
            {
                tracing::error!(error = %err, "persister failed; stopping SKU actors and restarting it");
                myself
                    .stop_children_and_wait(Some("persister restarted".into()), Some(STOP_WAIT))
                    .await;
                st.args.registry.clear();
                st.children.clear();
                st.args.persister.restart(myself.get_cell()).await?;
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                let id = cell.get_id();
                let Some((sku, stats)) = st.children.remove(&id) else {
                    return Ok(());
                };
                // The `Inventory` handle may have unregistered it already.
                st.args.registry.remove_if_owner(sku, id);
                if let Some(load) = err.downcast_ref::<LoadFailed>() {
                    // Not restarted: the next request activates afresh.
                    tracing::warn!(%sku, error = %load, "SKU actor failed to load");
                    return Ok(());
                }
                tracing::error!(%sku, error = %err, "SKU actor failed; restarting with state reloaded");
                stats.restarts.fetch_add(1, Ordering::Relaxed);
                // Requests in the dead mailbox were dropped; their callers
                // already got an error.
                stats.in_flight.store(0, Ordering::Relaxed);
                // A request may have activated a successor before this event
                // arrived (ractor refuses sends to the dead actor before it
                // tells its supervisor): the restart is the successor's.
                if let Some(successor) = st.args.registry.get(sku) {
                    successor.stats.restarts.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                if let Err(e) = st.spawn(&myself, sku, stats).await {
                    tracing::error!(%sku, error = %e, "SKU actor restart failed");
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                let id = cell.get_id();
                if let Some((sku, _)) = st.children.remove(&id) {
                    st.args.registry.remove_if_owner(sku, id);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl State {
    async fn spawn(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        sku: SkuId,
        stats: Arc<SkuStats>,
    ) -> Result<ActorRef<SkuMsg>, InventoryError> {
        let args = sku::Arguments {
            sku,
            store: self.args.store.clone(),
            persister: self.args.persister.clone(),
            registry: self.args.registry.clone(),
            stats: Arc::clone(&stats),
            settings: Arc::clone(&self.args.settings),
        };
        let (actor, _) = Actor::spawn_linked(None, SkuActor, args, myself.get_cell())
            .await
            .map_err(|e| {
                tracing::error!(%sku, error = %e, "could not spawn SKU actor");
                InventoryError::Unavailable
            })?;
        self.children
            .insert(actor.get_id(), (sku, Arc::clone(&stats)));
        self.args.registry.insert(
            sku,
            SkuEntry {
                actor: actor.clone(),
                stats,
            },
        );
        Ok(actor)
    }
}
