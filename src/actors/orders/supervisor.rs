//! `SagaSupervisor`: spawns one `OrderSaga` per live order and restarts a
//! saga that panicked, reloading its order from the store so it resumes at
//! the step it had recorded. A saga that finished (its order is final) is
//! simply forgotten.

use dashmap::DashMap;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::HashMap;
use std::sync::Arc;

use super::error::OrderError;
use super::saga::{self, OrderSaga, SagaDeps, SagaMsg};
use crate::domain::ids::OrderId;
use crate::persistence::OrderRecord;

/// Live sagas by order id, read by the `Orders` handle without a round trip.
pub type SagaRegistry = Arc<DashMap<OrderId, ActorRef<SagaMsg>>>;

pub enum SagaSupervisorMsg {
    /// Returns the saga of an order, spawning it if none runs. `order` is
    /// the freshly inserted row, when the caller has it.
    Spawn(
        OrderId,
        Option<OrderRecord>,
        RpcReplyPort<Result<ActorRef<SagaMsg>, OrderError>>,
    ),
}

pub struct SagaSupervisor;

pub struct Arguments {
    pub deps: Arc<SagaDeps>,
    pub registry: SagaRegistry,
}

pub struct State {
    args: Arguments,
    /// Every saga spawned here: its order and how often it was restarted.
    children: HashMap<ActorId, (OrderId, u32)>,
}

impl Actor for SagaSupervisor {
    type Msg = SagaSupervisorMsg;
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
        msg: SagaSupervisorMsg,
        st: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SagaSupervisorMsg::Spawn(order_id, order, reply) => {
                let existing = st.args.registry.get(&order_id).map(|a| a.clone());
                let result = match existing {
                    Some(actor) => Ok(actor),
                    None => st.spawn(&myself, order_id, order, 0).await,
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
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some((order_id, restarts)) = st.children.remove(&cell.get_id()) else {
                    return Ok(());
                };
                st.args
                    .registry
                    .remove_if(&order_id, |_, a| a.get_id() == cell.get_id());
                tracing::error!(order = %order_id, error = %err, "saga failed; restarting it from its recorded step");
                if let Err(e) = st.spawn(&myself, order_id, None, restarts + 1).await {
                    tracing::error!(order = %order_id, error = %e, "saga restart failed; it resumes at the next start");
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some((order_id, _)) = st.children.remove(&cell.get_id()) {
                    st.args
                        .registry
                        .remove_if(&order_id, |_, a| a.get_id() == cell.get_id());
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
        myself: &ActorRef<SagaSupervisorMsg>,
        order_id: OrderId,
        order: Option<OrderRecord>,
        restarts: u32,
    ) -> Result<ActorRef<SagaMsg>, OrderError> {
        let args = saga::Arguments {
            order_id,
            order,
            deps: Arc::clone(&self.args.deps),
            restarts,
        };
        let (actor, _) = Actor::spawn_linked(None, OrderSaga, args, myself.get_cell())
            .await
            .map_err(|e| {
                tracing::error!(order = %order_id, error = %e, "could not start saga");
                OrderError::Unavailable
            })?;
        self.children.insert(actor.get_id(), (order_id, restarts));
        self.args.registry.insert(order_id, actor.clone());
        Ok(actor)
    }
}
