//! How sagas are supervised (see [`crate::actors::supervision`]): one
//! `OrderSaga` per live order, started from the order just written or
//! loaded from the store; a saga that panicked is restarted from its
//! recorded step, with its restart count kept. A saga that finished (its
//! order is final) is simply forgotten.

use dashmap::DashMap;
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef};
use std::sync::Arc;

use super::error::OrderError;
use super::saga::{self, OrderSaga, SagaDeps, SagaMsg};
use crate::actors::supervision::{self, Children};
use crate::domain::ids::OrderId;
use crate::persistence::OrderRecord;

/// Live sagas by order id, read by the `Orders` handle without a round trip.
pub type SagaRegistry = Arc<DashMap<OrderId, ActorRef<SagaMsg>>>;

pub type SagaSupervisor = supervision::Supervisor<Sagas>;
pub type SagaSupervisorMsg = supervision::SupervisorMsg<Sagas>;

/// The sagas as a supervisor's children.
pub struct Sagas {
    pub deps: Arc<SagaDeps>,
    pub registry: SagaRegistry,
}

impl Children for Sagas {
    type Key = OrderId;
    type Msg = SagaMsg;
    /// The order as just inserted, when the caller has it.
    type Seed = OrderRecord;
    /// Times the saga was restarted.
    type Memory = u32;
    type Error = OrderError;

    fn live(&self, order: OrderId) -> Option<ActorRef<SagaMsg>> {
        self.registry.get(&order).map(|a| a.clone())
    }

    fn fresh_memory(&self) -> u32 {
        0
    }

    async fn start(
        &self,
        order_id: OrderId,
        order: Option<OrderRecord>,
        restarts: &u32,
        supervisor: ActorCell,
    ) -> Result<ActorRef<SagaMsg>, OrderError> {
        let args = saga::Arguments {
            order_id,
            order,
            deps: Arc::clone(&self.deps),
            restarts: *restarts,
        };
        let (actor, _) = Actor::spawn_linked(None, OrderSaga, args, supervisor)
            .await
            .map_err(|e| {
                tracing::error!(order = %order_id, error = %e, "could not start saga");
                OrderError::Unavailable
            })?;
        self.registry.insert(order_id, actor.clone());
        Ok(actor)
    }

    fn forget(&self, order: OrderId, actor: ActorId) {
        self.registry.remove_if(&order, |_, a| a.get_id() == actor);
    }

    fn restart(&self, order: OrderId, restarts: &mut u32, error: &ActorProcessingErr) -> bool {
        if !self.deps.runs_here(order) {
            tracing::warn!(%order, %error, "saga failed after its shard moved; its new home runs it");
            return false;
        }
        tracing::error!(%order, %error, "saga failed; restarting it from its recorded step");
        self.deps.gauges.restarted();
        self.deps.incidents.error(
            "saga",
            format!("the saga of order {order} failed; restarted from its recorded step"),
        );
        *restarts += 1;
        true
    }
}
