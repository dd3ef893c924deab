//! `CounterActor`: the single owner of one target's members (who likes a
//! post or comment, who follows an account).
//!
//! It decides one toggle at a time against its in-memory set, so a like is
//! counted once however many arrive together, and no row is locked. Each
//! change goes to the writer with the reply riding along: the caller hears
//! only after the batch holding its change committed, so the count in the
//! database is the one acknowledged. A toggle that changes nothing waits
//! for a writer barrier on the target instead (the change it repeats may
//! still be in flight).
//!
//! Lifecycle, as the SKU actor's: spawned on first use, it loads its
//! members in `post_start` after a writer barrier (so a predecessor's
//! changes are committed before it reads); idle, or told to forget its
//! target (deleted, hidden), it retires: it leaves the registry, answers
//! `Retired` to stragglers (the handle retries them on a fresh actor,
//! which loads the target afresh) and stops shortly after.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::error::CounterError;
use super::registry::{CounterStats, Registry};
use super::writer::{self, Ack, Writer};
use crate::config::CounterSettings;
use crate::domain::counter::{Members, Tally, Target, Toggle};
use crate::domain::ids::{PostId, UserId};
use crate::domain::time::Timestamp;
use crate::persistence::{Membership, Store};

/// Time a retired actor keeps answering `Retired` before it stops.
const RETIRE_GRACE: Duration = Duration::from_secs(2);

pub type Reply<T> = RpcReplyPort<Result<T, CounterError>>;

pub enum CounterMsg {
    Toggle(Toggle, Reply<Tally>),
    /// The target was deleted or hidden: leave, so the next request loads
    /// it afresh (and finds it gone).
    Retire,
    /// The post was deleted or hidden: a comment on it leaves as `Retire`
    /// does (its comments take no more likes); others ignore it.
    RetireIfOn(PostId),
    /// Passivate when idle.
    Housekeeping,
    /// Sent to itself after retiring.
    Stop,
    /// Fault injection for the supervision tests; not reachable over HTTP.
    InjectPanic,
}

/// Loading the members failed; the supervisor does not restart on this
/// (the next request activates a fresh actor instead).
#[derive(Debug, thiserror::Error)]
#[error("{target} could not be loaded: {reason}")]
pub struct LoadFailed {
    pub target: Target,
    pub reason: String,
}

pub struct CounterActor;

#[derive(Clone)]
pub struct Arguments {
    pub target: Target,
    pub store: Store,
    pub writer: Writer,
    pub registry: Registry,
    pub stats: Arc<CounterStats>,
    pub settings: Arc<CounterSettings>,
}

/// A live target as loaded.
struct Loaded {
    members: Members,
    recipient: UserId,
    post: Option<PostId>,
}

pub struct State {
    args: Arguments,
    /// `None` once started means the target does not exist (or not live).
    loaded: Option<Loaded>,
    retired: bool,
    last_request: Instant,
}

impl Actor for CounterActor {
    type Msg = CounterMsg;
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
            loaded: None,
            retired: false,
            last_request: Instant::now(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        st: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        let a = &st.args;
        let fail = |reason: String| LoadFailed {
            target: a.target,
            reason,
        };
        // Whatever an earlier incarnation decided must be in the store first.
        a.writer
            .sync(Some(a.target), a.settings.call_timeout())
            .await
            .map_err(|e| fail(e.to_string()))?;
        let row = a
            .store
            .load_counter(a.target)
            .await
            .map_err(|e| fail(e.to_string()))?;
        st.loaded = row.map(|r| Loaded {
            members: Members::new(r.members),
            recipient: r.recipient,
            post: r.post,
        });
        myself.send_interval(a.settings.housekeeping(), || CounterMsg::Housekeeping);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: CounterMsg,
        st: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CounterMsg::Toggle(toggle, reply) => {
                st.args.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                st.serve(&myself, toggle, reply);
            }
            CounterMsg::Retire => st.retire(&myself),
            CounterMsg::RetireIfOn(post) => {
                if st.loaded.as_ref().is_some_and(|l| l.post == Some(post)) {
                    st.retire(&myself);
                }
            }
            CounterMsg::Housekeeping => st.housekeeping(&myself),
            CounterMsg::Stop => myself.stop(Some("passivated".into())),
            CounterMsg::InjectPanic => panic!("fault injected into counter {}", st.args.target),
        }
        Ok(())
    }
}

impl State {
    fn serve(&mut self, myself: &ActorRef<CounterMsg>, toggle: Toggle, reply: Reply<Tally>) {
        self.last_request = Instant::now();
        let target = self.args.target;
        if self.retired {
            // The `Counters` handle retries it on a fresh actor.
            let _ = reply.send(Err(CounterError::Retired));
            return;
        }
        let Some(loaded) = self.loaded.as_mut() else {
            // Not live when loaded; it may be created since (ids of posts
            // to come), so the answer is not kept: the next request loads.
            self.retire(myself);
            let _ = reply.send(Err(CounterError::NotFound(target)));
            return;
        };
        let (writer, stats) = (&self.args.writer, &self.args.stats);
        if !writer.has_room() {
            let _ = reply.send(Err(CounterError::Overloaded));
            return;
        }
        if stats.held.load(Ordering::Relaxed) {
            // The store refuses this target's changes: deciding more
            // would only add to what cannot be made durable.
            let _ = reply.send(Err(CounterError::Unavailable));
            return;
        }
        let (tally, changed) = loaded.members.apply(toggle);
        let ack: Ack = Box::new(move |durable| {
            let _ = reply.send(
                durable
                    .map(|()| tally)
                    .map_err(|_| CounterError::Unavailable),
            );
        });
        if !changed {
            writer.sync_then(Some(target), ack);
            return;
        }
        let change = Membership {
            target,
            user: toggle.user,
            on: toggle.on,
            count: tally.count,
            recipient: loaded.recipient,
            post: loaded.post,
            at: Timestamp::now(),
        };
        writer::write(writer, change, Some(ack), stats);
    }

    fn housekeeping(&mut self, myself: &ActorRef<CounterMsg>) {
        if self.retired {
            return;
        }
        let stats = &self.args.stats;
        let idle = self.loaded.is_none()
            || self.last_request.elapsed() >= self.args.settings.idle_passivate();
        let quiet = stats.in_flight.load(Ordering::Relaxed) <= 0
            && stats.unflushed.load(Ordering::Relaxed) <= 0;
        if idle && quiet {
            self.retire(myself);
        }
    }

    /// Leaves the registry, so the next request activates a fresh actor;
    /// stragglers are answered `Retired` until the actor stops. What it
    /// handed to the writer stays there: the successor's load waits for it.
    fn retire(&mut self, myself: &ActorRef<CounterMsg>) {
        if self.retired {
            return;
        }
        self.retired = true;
        self.args
            .registry
            .remove_if_owner(self.args.target, myself.get_id());
        myself.send_after(RETIRE_GRACE, || CounterMsg::Stop);
    }
}
