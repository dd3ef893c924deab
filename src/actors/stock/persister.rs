//! The write-behind persister: gathers the decisions of every SKU actor and
//! commits them in batches, one transaction each (group commit).
//!
//! A batch is flushed every `flush_interval` or as soon as it holds
//! `batch_max` changes. Durable replies ride along as [`Ack`]s and fire only
//! after their batch commits. A failed batch is kept and retried with
//! exponential backoff; its waiting callers are told at once that their
//! decision is not (yet) durable. The queue is bounded: SKU actors check
//! [`PersisterHandle::has_room`] and answer `OVERLOADED` instead of growing it.

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::registry::SkuStats;
use crate::domain::ledger::Change;
use crate::domain::time::Timestamp;
use crate::persistence::{Store, WriteSet};
use crate::prometheus::{BATCH_SIZE, FLUSH_DURATION};

const BACKOFF_START: Duration = Duration::from_millis(20);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The batch holding a decision was not committed (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("batch not committed")]
pub struct NotDurable;

/// Called once, after the batch holding its change commits or fails.
pub type Ack = Box<dyn FnOnce(Result<(), NotDurable>) + Send>;

pub enum PersisterMsg {
    /// Persist a change; `owner` is the deciding SKU's counters.
    Write {
        change: Change,
        ack: Option<Ack>,
        owner: Arc<SkuStats>,
    },
    /// Ack once everything sent before this message is committed.
    Sync(Ack),
    Tick,
    /// Flush everything, retrying until `deadline`; used at shutdown.
    Drain {
        deadline: Instant,
        reply: RpcReplyPort<Result<(), NotDurable>>,
    },
    /// Fault injection for the supervision tests; not reachable over HTTP.
    InjectPanic,
}

/// Persister counters readable without a message round trip.
#[derive(Debug, Default)]
pub struct PersisterGauge {
    /// Changes sent and not yet committed (mailbox plus current batch).
    pub queued: AtomicI64,
    pub batches: AtomicU64,
    pub changes: AtomicU64,
    pub failures: AtomicU64,
    /// True from a failed flush until the next successful one.
    pub failing: AtomicBool,
    pub last_flush_ms: AtomicI64,
    pub last_flush_size: AtomicU64,
    pub last_flush_micros: AtomicU64,
    /// Restarts after a panic.
    pub restarts: AtomicU64,
}

/// How SKU actors and the engine reach the persister. It survives persister
/// restarts: the supervisor swaps the actor behind it.
#[derive(Clone)]
pub struct PersisterHandle {
    actor: Arc<RwLock<ActorRef<PersisterMsg>>>,
    args: Arc<Arguments>,
    gauge: Arc<PersisterGauge>,
    queue_max: i64,
}

impl PersisterHandle {
    fn current(&self) -> ActorRef<PersisterMsg> {
        self.actor
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn is_actor(&self, id: ActorId) -> bool {
        self.current().get_id() == id
    }

    /// Puts the persister under `supervisor`, which restarts it on a panic.
    pub fn link(&self, supervisor: ActorCell) {
        self.current().get_cell().link(supervisor);
    }

    pub fn unlink(&self, supervisor: ActorCell) {
        self.current().get_cell().unlink(supervisor);
    }

    /// Replaces a failed persister with a fresh one linked to `supervisor`.
    /// What the dead one held is gone: its waiting callers already heard
    /// "not durable" (their reply ports were dropped), and the supervisor
    /// has stopped every SKU actor so they reload from the store.
    pub async fn restart(&self, supervisor: ActorCell) -> Result<(), ractor::SpawnErr> {
        let g = &self.gauge;
        g.queued.store(0, Ordering::Relaxed);
        g.failing.store(false, Ordering::Relaxed);
        g.restarts.fetch_add(1, Ordering::Relaxed);
        let actor = spawn(&self.args, &self.gauge, Some(supervisor)).await?;
        *self
            .actor
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = actor;
        Ok(())
    }

    pub fn inject_panic(&self) {
        let _ = self.current().send_message(PersisterMsg::InjectPanic);
    }

    pub fn stop(&self) {
        self.current().stop(None);
    }

    pub fn gauge(&self) -> &PersisterGauge {
        &self.gauge
    }

    pub fn has_room(&self) -> bool {
        self.gauge.queued.load(Ordering::Relaxed) < self.queue_max
    }

    /// Hands a change over. If the persister is gone the ack hears so at once.
    pub fn write(&self, change: Change, ack: Option<Ack>, owner: &Arc<SkuStats>) {
        self.gauge.queued.fetch_add(1, Ordering::Relaxed);
        owner.unflushed.fetch_add(1, Ordering::Relaxed);
        let msg = PersisterMsg::Write {
            change,
            ack,
            owner: Arc::clone(owner),
        };
        if let Err(err) = self.current().send_message(msg) {
            self.gauge.queued.fetch_sub(1, Ordering::Relaxed);
            owner.unflushed.fetch_sub(1, Ordering::Relaxed);
            if let ractor::MessagingErr::SendErr(PersisterMsg::Write { ack: Some(ack), .. }) = err {
                ack(Err(NotDurable));
            }
        }
    }

    /// Calls `ack` once everything sent before is committed.
    pub fn sync_then(&self, ack: Ack) {
        if let Err(ractor::MessagingErr::SendErr(PersisterMsg::Sync(ack))) =
            self.current().send_message(PersisterMsg::Sync(ack))
        {
            ack(Err(NotDurable));
        }
    }

    /// Waits until everything sent before is committed.
    pub async fn sync(&self, timeout: Duration) -> Result<(), NotDurable> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.sync_then(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            _ => Err(NotDurable),
        }
    }

    /// Commits everything queued, retrying failures until `timeout` passes.
    pub async fn drain(&self, timeout: Duration) -> Result<(), NotDurable> {
        let deadline = Instant::now() + timeout;
        match self
            .current()
            .call(
                |reply| PersisterMsg::Drain { deadline, reply },
                Some(timeout * 2),
            )
            .await
        {
            Ok(ractor::rpc::CallResult::Success(r)) => r,
            _ => Err(NotDurable),
        }
    }
}

pub struct Persister;

#[derive(Clone)]
pub struct Arguments {
    pub store: Store,
    pub flush_interval: Duration,
    pub batch_max: usize,
}

pub struct State {
    store: Store,
    gauge: Arc<PersisterGauge>,
    batch_max: usize,
    buffer: Vec<Entry>,
    retry_at: Option<Instant>,
    backoff: Duration,
}

struct Entry {
    change: Option<Change>,
    ack: Option<Ack>,
    owner: Option<Arc<SkuStats>>,
}

impl Persister {
    /// Spawns the persister and its flush timer. Link it to a supervisor
    /// with [`PersisterHandle::link`].
    pub async fn start(
        args: Arguments,
        queue_max: usize,
    ) -> Result<PersisterHandle, ractor::SpawnErr> {
        let gauge = Arc::new(PersisterGauge::default());
        let actor = spawn(&args, &gauge, None).await?;
        Ok(PersisterHandle {
            actor: Arc::new(RwLock::new(actor)),
            args: Arc::new(args),
            gauge,
            queue_max: i64::try_from(queue_max).unwrap_or(i64::MAX),
        })
    }
}

async fn spawn(
    args: &Arguments,
    gauge: &Arc<PersisterGauge>,
    supervisor: Option<ActorCell>,
) -> Result<ActorRef<PersisterMsg>, ractor::SpawnErr> {
    let start_args = (args.clone(), Arc::clone(gauge));
    let (actor, _) = match supervisor {
        Some(s) => Actor::spawn_linked(None, Persister, start_args, s).await?,
        None => Actor::spawn(None, Persister, start_args).await?,
    };
    actor.send_interval(args.flush_interval, || PersisterMsg::Tick);
    Ok(actor)
}

impl Actor for Persister {
    type Msg = PersisterMsg;
    type State = State;
    type Arguments = (Arguments, Arc<PersisterGauge>);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (args, gauge): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(State {
            store: args.store,
            gauge,
            batch_max: args.batch_max.max(1),
            buffer: Vec::with_capacity(args.batch_max.max(1)),
            retry_at: None,
            backoff: BACKOFF_START,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PersisterMsg::Write { change, ack, owner } => {
                st.buffer.push(Entry {
                    change: Some(change),
                    ack,
                    owner: Some(owner),
                });
                if st.buffer.len() >= st.batch_max {
                    st.flush_if_due().await;
                }
            }
            PersisterMsg::Sync(ack) => {
                if st.buffer.is_empty() {
                    ack(Ok(()));
                } else {
                    st.buffer.push(Entry {
                        change: None,
                        ack: Some(ack),
                        owner: None,
                    });
                }
            }
            PersisterMsg::Tick => st.flush_if_due().await,
            PersisterMsg::InjectPanic => panic!("fault injected into the persister"),
            PersisterMsg::Drain { deadline, reply } => {
                while !st.buffer.is_empty() && Instant::now() < deadline {
                    st.retry_at = None;
                    st.flush_if_due().await;
                    if !st.buffer.is_empty() {
                        tokio::time::sleep(st.backoff).await;
                    }
                }
                let _ = reply.send(if st.buffer.is_empty() {
                    Ok(())
                } else {
                    Err(NotDurable)
                });
            }
        }
        Ok(())
    }
}

impl State {
    async fn flush_if_due(&mut self) {
        if self.buffer.is_empty() || self.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        let started = Instant::now();
        let set = WriteSet::collapse(self.buffer.iter().filter_map(|e| e.change.as_ref()));
        match self.store.write_batch(&set).await {
            Ok(()) => self.committed(started),
            Err(err) => {
                self.gauge.failures.fetch_add(1, Ordering::Relaxed);
                self.gauge.failing.store(true, Ordering::Relaxed);
                tracing::error!(error = %err, changes = self.buffer.len(), retry_in = ?self.backoff,
                    "write-behind batch failed; keeping it for retry");
                for entry in &mut self.buffer {
                    if let Some(ack) = entry.ack.take() {
                        ack(Err(NotDurable));
                    }
                }
                self.buffer.retain(|e| e.change.is_some());
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
        }
    }

    /// Records a committed batch, then acknowledges it: counters first, so
    /// whoever hears "durable" also sees the flush in every view.
    fn committed(&mut self, started: Instant) {
        let now = Timestamp::now().millis();
        let mut per_owner: HashMap<*const SkuStats, (&SkuStats, u64)> = HashMap::new();
        for owner in self.buffer.iter().filter_map(|e| e.owner.as_deref()) {
            per_owner
                .entry(owner as *const SkuStats)
                .or_insert((owner, 0))
                .1 += 1;
        }
        let mut changes = 0u64;
        for (owner, n) in per_owner.into_values() {
            changes += n;
            owner.unflushed.fetch_sub(n as i64, Ordering::Relaxed);
            owner.last_flush_ms.store(now, Ordering::Relaxed);
            owner.last_flush_size.store(n, Ordering::Relaxed);
        }
        let g = &self.gauge;
        g.queued.fetch_sub(changes as i64, Ordering::Relaxed);
        g.batches.fetch_add(1, Ordering::Relaxed);
        g.changes.fetch_add(changes, Ordering::Relaxed);
        g.failing.store(false, Ordering::Relaxed);
        g.last_flush_ms.store(now, Ordering::Relaxed);
        g.last_flush_size.store(changes, Ordering::Relaxed);
        let took = started.elapsed();
        g.last_flush_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
        // A flush holding only barriers wrote nothing: not a batch.
        if changes > 0 {
            metrics::histogram!(BATCH_SIZE, "writer" => "inventory").record(changes as f64);
            metrics::histogram!(FLUSH_DURATION, "writer" => "inventory").record(took.as_secs_f64());
        }
        for ack in self.buffer.drain(..).filter_map(|e| e.ack) {
            ack(Ok(()));
        }
        self.retry_at = None;
        self.backoff = BACKOFF_START;
    }
}
