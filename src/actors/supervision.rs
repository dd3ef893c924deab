//! The one supervisor shape the keyed subsystems use: a [`Supervisor`]
//! actor that starts keyed children on demand (one SKU actor per SKU, one
//! saga per order, one counter actor per liked post or followed account),
//! remembers which child holds which key, and restarts a child
//! that failed, handing the replacement what the failed one's restarts must
//! keep (counters, a restart count).
//!
//! ractor has no built-in restart (STACK.md, trap 2): the supervisor gets
//! `ActorFailed`/`ActorTerminated` events and respawns itself. Spawning
//! happens here, never in a request handler, so children live on the main
//! multi-thread runtime rather than on one actix worker. What differs
//! between SKUs and sagas (how a child starts, where it is registered,
//! whether a failure is worth a restart) is a [`Children`] implementation.
//! [`ActivationGate`] lets a crowd of first requests share one start.

use dashmap::DashMap;
use ractor::rpc::CallResult;
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, Message, RpcReplyPort,
    SupervisionEvent,
};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// What a kind of supervised child needs from its supervisor.
pub trait Children: Send + Sync + Sized + 'static {
    /// What names a child: one live child per key.
    type Key: Copy + Eq + Hash + fmt::Display + Send + Sync + 'static;
    type Msg: Message;
    /// Handed to a child started on request (not to restarts).
    type Seed: Send + 'static;
    /// What a child's restarts keep: its counters, its restart count.
    type Memory: Send + Sync + 'static;
    type Error: Send + fmt::Debug + 'static;

    /// The live child of `key`, if one is registered.
    fn live(&self, key: Self::Key) -> Option<ActorRef<Self::Msg>>;

    fn fresh_memory(&self) -> Self::Memory;

    /// Spawns the child of `key` linked to `supervisor` and registers it.
    fn start(
        &self,
        key: Self::Key,
        seed: Option<Self::Seed>,
        memory: &Self::Memory,
        supervisor: ActorCell,
    ) -> impl Future<Output = Result<ActorRef<Self::Msg>, Self::Error>> + Send;

    /// Unregisters the child of `key` if `actor` still is it, so a stale
    /// child can never unregister its successor.
    fn forget(&self, key: Self::Key, actor: ActorId);

    /// A child failed: says whether to restart it, updating its memory.
    fn restart(
        &self,
        key: Self::Key,
        memory: &mut Self::Memory,
        error: &ActorProcessingErr,
    ) -> bool;

    /// An actor that is not a child failed (one linked for supervision
    /// only, such as the persister). `Stranger::ChildrenStopped` says every
    /// child was stopped and unregistered in handling it.
    fn stranger_failed(
        &self,
        _myself: &ActorCell,
        _actor: &ActorCell,
        _error: &ActorProcessingErr,
    ) -> impl Future<Output = Result<Stranger, ActorProcessingErr>> + Send {
        async { Ok(Stranger::Ignored) }
    }
}

/// What handling a non-child's failure did.
pub enum Stranger {
    Ignored,
    ChildrenStopped,
}

pub enum SupervisorMsg<C: Children> {
    /// Returns the live child of a key, starting it (with the seed) if none
    /// runs.
    Get(
        C::Key,
        Option<C::Seed>,
        RpcReplyPort<Result<ActorRef<C::Msg>, C::Error>>,
    ),
}

pub struct Supervisor<C>(PhantomData<fn() -> C>);

impl<C> Default for Supervisor<C> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

pub struct State<C: Children> {
    children: C,
    /// Every child started here: its key and what its restarts keep.
    started: HashMap<ActorId, (C::Key, C::Memory)>,
}

impl<C: Children> Actor for Supervisor<C> {
    type Msg = SupervisorMsg<C>;
    type State = State<C>;
    type Arguments = C;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        children: C,
    ) -> Result<State<C>, ActorProcessingErr> {
        Ok(State {
            children,
            started: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: SupervisorMsg<C>,
        st: &mut State<C>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Get(key, seed, reply) => {
                let result = match st.children.live(key) {
                    Some(actor) => Ok(actor),
                    None => {
                        let memory = st.children.fresh_memory();
                        st.start(&myself, key, seed, memory).await
                    }
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
        st: &mut State<C>,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, err) => {
                let id = cell.get_id();
                let Some((key, mut memory)) = st.started.remove(&id) else {
                    let handled = st
                        .children
                        .stranger_failed(&myself.get_cell(), &cell, &err)
                        .await?;
                    if let Stranger::ChildrenStopped = handled {
                        st.started.clear();
                    }
                    return Ok(());
                };
                st.children.forget(key, id);
                // Restarted only if nobody started a new one meanwhile.
                if !st.children.restart(key, &mut memory, &err) || st.children.live(key).is_some() {
                    return Ok(());
                }
                if let Err(e) = st.start(&myself, key, None, memory).await {
                    tracing::error!(%key, error = ?e, "restart failed; the next request starts it");
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                let id = cell.get_id();
                if let Some((key, _)) = st.started.remove(&id) {
                    st.children.forget(key, id);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl<C: Children> State<C> {
    async fn start(
        &mut self,
        myself: &ActorRef<SupervisorMsg<C>>,
        key: C::Key,
        seed: Option<C::Seed>,
        memory: C::Memory,
    ) -> Result<ActorRef<C::Msg>, C::Error> {
        let actor = self
            .children
            .start(key, seed, &memory, myself.get_cell())
            .await?;
        self.started.insert(actor.get_id(), (key, memory));
        Ok(actor)
    }
}

/// Activations in progress, one per key: the ten thousand first requests
/// for a cold key (a SKU at its opening, a post gone viral) share one
/// supervisor round trip instead of queueing behind it.
pub struct ActivationGate<C: Children> {
    supervisor: ActorRef<SupervisorMsg<C>>,
    activating: DashMap<C::Key, Arc<OnceCell<bool>>>,
}

impl<C: Children> ActivationGate<C> {
    pub fn new(supervisor: ActorRef<SupervisorMsg<C>>) -> Self {
        Self {
            supervisor,
            activating: DashMap::new(),
        }
    }

    /// Asks the supervisor for `key`'s child (joining an ask already under
    /// way); says whether it was started. The caller then finds it in its
    /// registry: absent after a start means it already retired.
    pub async fn activate(&self, key: C::Key, timeout: Duration) -> bool {
        let gate = Arc::clone(self.activating.entry(key).or_default().value());
        let started = *gate
            .get_or_init(|| async {
                let answer = self
                    .supervisor
                    .call(|r| SupervisorMsg::Get(key, None, r), Some(timeout))
                    .await;
                matches!(answer, Ok(CallResult::Success(Ok(_))))
            })
            .await;
        self.activating
            .remove_if(&key, |_, g| Arc::ptr_eq(g, &gate));
        started
    }
}
