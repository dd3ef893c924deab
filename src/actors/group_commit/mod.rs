//! Group commit, once for every writer: callers hand writes to one actor,
//! which gathers them into batches and commits each batch in one
//! transaction. A caller's [`Ack`] fires only after its write is committed,
//! or once it is known that it was not.
//!
//! What differs between writers is a small [`Commit`] implementation: how a
//! batch is written, and what a failed batch means ([`OnFailure`]). The
//! stock persister keeps a failed batch and retries it with backoff, telling
//! its waiting callers at once that they are not durable, and splits one
//! that keeps failing to hold apart the part the store refuses
//! ([`quarantine`]); the order writer
//! writes each write of a failed batch alone, so one bad write (a taken
//! idempotency key) fails only its own caller.
//!
//! Everything else lives here: the batching loop and its triggers
//! ([`Trigger`]: a timer, or "whatever queued while the previous batch
//! committed") plus `batch_max`; the queue bound and the [`Gauge`] (ractor
//! mailboxes are unbounded and expose no length, so writes handed over and
//! not yet answered are counted here); barriers ([`GroupCommit::sync`]);
//! the drain at shutdown; restarts behind a stable handle; and the
//! `stampede_batch_size` / `stampede_flush_duration_seconds` metrics by
//! `writer`.
//!
//! The handle, the actor and the two failure policies stay in this one file
//! on purpose: they share the batch's private state, and splitting them
//! would make that state public to the rest of `actors/`. Only the held
//! parts' bookkeeping is apart, in [`quarantine`].

mod quarantine;

pub use quarantine::Quarantined;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use crate::domain::time::Timestamp;
use crate::persistence::StoreError;
use crate::prometheus::{
    BATCH_FAILURES, BATCH_QUARANTINES, BATCH_SIZE, FLUSH_DURATION, QUARANTINED_PARTS,
};
use quarantine::Quarantine;

const BACKOFF_START: Duration = Duration::from_millis(20);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Failures in a row, each blaming the rows, before a kept batch is split.
const SPLIT_AFTER: u32 = 3;
/// How often a caller waiting for room checks that the writer still lives
/// (a writer that panicked never says so).
const ROOM_RECHECK: Duration = Duration::from_millis(50);

/// The batch holding a write was not committed (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("batch not committed")]
pub struct NotDurable;

/// Called once, after the batch holding its write commits or fails.
pub type Ack<E> = Box<dyn FnOnce(Result<(), E>) + Send>;

/// Writes handed over together, each with its ack.
pub type Writes<C> = Vec<(<C as Commit>::Write, Option<Ack<<C as Commit>::Error>>)>;

/// What a failed batch means for its writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Keep the batch and retry it with exponential backoff (20 ms to 2 s);
    /// its waiting callers hear [`Refused::Retrying`] at once. After
    /// `SPLIT_AFTER` failures in a row that blame the rows
    /// ([`StoreError::blames_the_data`]), the batch is split by
    /// [`Commit::Part`]: the parts that commit are answered, and a part the
    /// store refuses alone is held apart ([`quarantine`]).
    KeepAndRetry,
    /// Write each write alone, each in its own transaction; each caller
    /// hears its own result.
    EachAlone,
}

/// Why a caller's write was not acknowledged as committed.
#[derive(Debug)]
pub enum Refused {
    /// Its batch failed and is kept for a retry.
    Retrying,
    /// The store refused it: skipped in a committed batch (a taken key), or
    /// written alone after its batch failed.
    Rejected(StoreError),
    /// The writer has stopped, or did not answer in time.
    Unanswered,
}

/// How one writer's batches are committed.
pub trait Commit: Send + Sync + 'static {
    /// One write handed over by a caller.
    type Write: Send + Sync + 'static;
    /// What a caller hears when its write was not committed.
    type Error: Send + 'static;
    /// The `writer` label of the batch metrics.
    const WRITER: &'static str;
    const ON_FAILURE: OnFailure;
    /// Writes of different parts never touch the same rows (for stock, a
    /// SKU), so a batch can be split by part and the parts committed in
    /// any order.
    type Part: Clone + Eq + std::hash::Hash + std::fmt::Display + Send + Sync + 'static;

    fn part(write: &Self::Write) -> Self::Part;

    /// Commits `writes` (in the order they were handed over) in one
    /// transaction. The store may skip single writes it refuses (a taken
    /// key) without failing the rest: their indexes in `writes`, with why.
    fn commit(
        &self,
        writes: &[&Self::Write],
    ) -> impl Future<Output = Result<Skipped, StoreError>> + Send;

    fn refusal(why: Refused) -> Self::Error;

    /// Called once `writes` are committed, before any caller hears so.
    fn committed(&self, _writes: &[&Self::Write], _at: Timestamp) {}

    /// Called when a part's writes are held apart (`held`), and again when
    /// they committed after all.
    fn held(&self, _writes: &[&Self::Write], _held: bool) {}
}

/// Writes of a committed batch that the store skipped, by index into the
/// batch, each with the error its caller hears; all others are committed.
pub type Skipped = Vec<(usize, StoreError)>;

/// When a batch is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// On a timer: a write waits at most this long for its batch.
    Every(Duration),
    /// As soon as the writer is free: whatever queued while the previous
    /// batch committed goes into the next.
    WhenFree,
}

#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub trigger: Trigger,
    /// A batch is written at once when it holds this many writes.
    pub batch_max: usize,
    /// Writes handed over and not yet answered before [`GroupCommit::has_room`]
    /// says no.
    pub queue_max: usize,
}

/// Writer counters readable without a message round trip.
#[derive(Debug, Default)]
pub struct Gauge {
    /// Writes handed over and not yet committed or answered (mailbox plus
    /// current batch).
    pub queued: AtomicI64,
    pub batches: AtomicU64,
    /// Writes committed.
    pub changes: AtomicU64,
    /// Writes the committer skipped (for orders: a new order whose key was
    /// taken, i.e. a duplicate that reached the writer).
    pub skipped: AtomicU64,
    pub failures: AtomicU64,
    /// True from a failed flush until the next successful one.
    pub failing: AtomicBool,
    pub last_flush_ms: AtomicI64,
    pub last_flush_size: AtomicU64,
    pub last_flush_micros: AtomicU64,
    /// Restarts after a panic.
    pub restarts: AtomicU64,
}

/// What the handle and every incarnation of the actor share.
struct Shared<C> {
    committer: C,
    config: Config,
    queue_max: i64,
    gauge: Gauge,
    /// Woken whenever writes leave the queue.
    room: Notify,
    /// The parts held apart, as last published by the actor.
    quarantined: RwLock<Vec<Quarantined>>,
}

/// How callers reach a writer. It survives restarts: a supervisor swaps
/// the actor behind it with [`GroupCommit::restart`].
pub struct GroupCommit<C: Commit> {
    actor: Arc<RwLock<ActorRef<Msg<C>>>>,
    shared: Arc<Shared<C>>,
}

impl<C: Commit> Clone for GroupCommit<C> {
    fn clone(&self) -> Self {
        Self {
            actor: Arc::clone(&self.actor),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C: Commit> GroupCommit<C> {
    /// Spawns the writer (and its flush timer) on the current runtime. Link
    /// it to a supervisor with [`GroupCommit::link`].
    pub async fn start(committer: C, config: Config) -> Result<Self, ractor::SpawnErr> {
        let shared = Arc::new(Shared {
            committer,
            config,
            queue_max: i64::try_from(config.queue_max).unwrap_or(i64::MAX),
            gauge: Gauge::default(),
            room: Notify::new(),
            quarantined: RwLock::new(Vec::new()),
        });
        let actor = spawn(&shared, None).await?;
        Ok(Self {
            actor: Arc::new(RwLock::new(actor)),
            shared,
        })
    }

    fn current(&self) -> ActorRef<Msg<C>> {
        self.actor
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn is_actor(&self, id: ActorId) -> bool {
        self.current().get_id() == id
    }

    /// Puts the writer under `supervisor`, which restarts it on a panic.
    pub fn link(&self, supervisor: ActorCell) {
        self.current().get_cell().link(supervisor);
    }

    pub fn unlink(&self, supervisor: ActorCell) {
        self.current().get_cell().unlink(supervisor);
    }

    /// Replaces a failed writer with a fresh one linked to `supervisor`.
    /// What the dead one held is gone: its waiting callers already heard
    /// so (their acks were dropped with it).
    pub async fn restart(&self, supervisor: ActorCell) -> Result<(), ractor::SpawnErr> {
        let g = &self.shared.gauge;
        g.queued.store(0, Ordering::Relaxed);
        g.failing.store(false, Ordering::Relaxed);
        g.restarts.fetch_add(1, Ordering::Relaxed);
        publish(&self.shared, Vec::new());
        let actor = spawn(&self.shared, Some(supervisor)).await?;
        *self
            .actor
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = actor;
        self.shared.room.notify_waiters();
        Ok(())
    }

    /// Makes the writer panic (fault injection for supervision tests).
    pub fn inject_panic(&self) {
        let _ = self.current().send_message(Msg::InjectPanic);
    }

    pub fn stop(&self) {
        self.current().stop(None);
    }

    pub fn gauge(&self) -> &Gauge {
        &self.shared.gauge
    }

    /// The parts whose writes the store refuses, held apart.
    pub fn quarantined(&self) -> Vec<Quarantined> {
        self.shared
            .quarantined
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Fewer than `queue_max` writes wait for their commit.
    pub fn has_room(&self) -> bool {
        self.shared.gauge.queued.load(Ordering::Relaxed) < self.shared.queue_max
    }

    /// Waits until [`GroupCommit::has_room`], or until the writer is gone
    /// (a write then hears [`Refused::Unanswered`] at once).
    pub async fn room(&self) {
        if self.has_room() {
            return;
        }
        loop {
            let freed = self.shared.room.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.has_room() || self.current().get_status() >= ractor::ActorStatus::Draining {
                return;
            }
            let _ = tokio::time::timeout(ROOM_RECHECK, freed).await;
        }
    }

    /// Hands a write over; `ack` hears once it is committed or refused.
    /// Returns false (after answering `ack`) if the writer is gone.
    pub fn write(&self, write: C::Write, ack: Option<Ack<C::Error>>) -> bool {
        let g = &self.shared.gauge;
        g.queued.fetch_add(1, Ordering::Relaxed);
        let Err(err) = self.current().send_message(Msg::Write { write, ack }) else {
            return true;
        };
        g.queued.fetch_sub(1, Ordering::Relaxed);
        if let ractor::MessagingErr::SendErr(Msg::Write { ack: Some(ack), .. }) = err {
            ack(Err(C::refusal(Refused::Unanswered)));
        }
        false
    }

    /// Hands several writes over in one message, in order; like
    /// [`GroupCommit::write`] for each.
    pub fn write_many(&self, writes: Writes<C>) -> bool {
        let g = &self.shared.gauge;
        let n = writes.len() as u64;
        g.queued.fetch_add(n as _, Ordering::Relaxed);
        let Err(err) = self.current().send_message(Msg::WriteMany(writes)) else {
            return true;
        };
        g.queued.fetch_sub(n as _, Ordering::Relaxed);
        if let ractor::MessagingErr::SendErr(Msg::WriteMany(writes)) = err {
            for (_, ack) in writes {
                if let Some(ack) = ack {
                    ack(Err(C::refusal(Refused::Unanswered)));
                }
            }
        }
        false
    }

    /// Calls `ack` once everything handed over before is committed (or, for
    /// [`OnFailure::EachAlone`], answered); with a `part`, everything of
    /// that part.
    pub fn sync_then(&self, part: Option<C::Part>, ack: Ack<C::Error>) {
        if let Err(ractor::MessagingErr::SendErr(Msg::Sync { ack, .. })) =
            self.current().send_message(Msg::Sync { part, ack })
        {
            ack(Err(C::refusal(Refused::Unanswered)));
        }
    }

    /// Waits until everything handed over before (of `part`, if given) is
    /// committed.
    pub async fn sync(&self, part: Option<C::Part>, timeout: Duration) -> Result<(), C::Error> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.sync_then(
            part,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            _ => Err(C::refusal(Refused::Unanswered)),
        }
    }

    /// Commits everything queued, retrying failures until `timeout` passes.
    pub async fn drain(&self, timeout: Duration) -> Result<(), NotDurable> {
        let deadline = Instant::now() + timeout;
        match self
            .current()
            .call(|reply| Msg::Drain { deadline, reply }, Some(timeout * 2))
            .await
        {
            Ok(CallResult::Success(r)) => r,
            _ => Err(NotDurable),
        }
    }
}

async fn spawn<C: Commit>(
    shared: &Arc<Shared<C>>,
    supervisor: Option<ActorCell>,
) -> Result<ActorRef<Msg<C>>, ractor::SpawnErr> {
    let writer = Writer::<C>(PhantomData);
    let args = Arc::clone(shared);
    let (actor, _) = match supervisor {
        Some(s) => Actor::spawn_linked(None, writer, args, s).await?,
        None => Actor::spawn(None, writer, args).await?,
    };
    if let Trigger::Every(interval) = shared.config.trigger {
        actor.send_interval(interval, || Msg::Flush);
    }
    Ok(actor)
}

enum Msg<C: Commit> {
    /// Persist a write; `ack` hears how it went.
    Write {
        write: C::Write,
        ack: Option<Ack<C::Error>>,
    },
    /// Several writes in one message, in order (a SKU actor's batch).
    WriteMany(Writes<C>),
    /// Ack once everything sent before this message (of `part`, if given)
    /// is committed.
    Sync {
        part: Option<C::Part>,
        ack: Ack<C::Error>,
    },
    /// Write the batch, unless a failed one waits for its retry time.
    Flush,
    /// Flush everything, retrying until `deadline`; used at shutdown.
    Drain {
        deadline: Instant,
        reply: RpcReplyPort<Result<(), NotDurable>>,
    },
    /// Fault injection for the supervision tests; not reachable over HTTP.
    InjectPanic,
}

/// The actor; `C` says how its batches are committed.
struct Writer<C>(PhantomData<fn() -> C>);

struct State<C: Commit> {
    shared: Arc<Shared<C>>,
    batch_max: usize,
    buffer: Vec<Entry<C>>,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// A `Flush` is on its way (only with [`Trigger::WhenFree`]).
    flush_pending: bool,
    /// Failures of the batch in a row.
    failed_in_row: u32,
    quarantine: Quarantine<C>,
}

/// A write with its part and ack, or (no write) a barrier on a part or,
/// without one, on everything.
struct Entry<C: Commit> {
    part: Option<C::Part>,
    write: Option<C::Write>,
    ack: Option<Ack<C::Error>>,
}

impl<C: Commit> Actor for Writer<C> {
    type Msg = Msg<C>;
    type State = State<C>;
    type Arguments = Arc<Shared<C>>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        shared: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let batch_max = shared.config.batch_max.max(1);
        Ok(State {
            shared,
            batch_max,
            buffer: Vec::with_capacity(batch_max),
            retry_at: None,
            backoff: BACKOFF_START,
            flush_pending: false,
            failed_in_row: 0,
            quarantine: Quarantine::default(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Msg::Write { write, ack } => st.admit(write, ack).await,
            Msg::WriteMany(writes) => {
                for (write, ack) in writes {
                    st.admit(write, ack).await;
                }
            }
            Msg::Sync { part, ack } => {
                if st.quarantine.blocks(part.as_ref()) {
                    ack(Err(C::refusal(Refused::Retrying)));
                } else if st.buffer.is_empty() {
                    ack(Ok(()));
                } else {
                    st.buffer.push(Entry {
                        part,
                        write: None,
                        ack: Some(ack),
                    });
                }
            }
            Msg::Flush => {
                st.flush_pending = false;
                st.flush().await;
            }
            Msg::InjectPanic => panic!("fault injected into the {} writer", C::WRITER),
            Msg::Drain { deadline, reply } => {
                let settled = |st: &State<C>| st.buffer.is_empty() && st.quarantine.is_empty();
                while !settled(st) && Instant::now() < deadline {
                    st.retry_at = None;
                    st.retry_quarantined(true).await;
                    st.flush().await;
                    if !settled(st) {
                        tokio::time::sleep(st.backoff).await;
                    }
                }
                let _ = reply.send(if settled(st) { Ok(()) } else { Err(NotDurable) });
            }
        }
        st.schedule(&myself);
        Ok(())
    }
}

impl<C: Commit> State<C> {
    /// Queues a write for the next batch (flushing a full one), unless its
    /// part is held apart.
    async fn admit(&mut self, write: C::Write, ack: Option<Ack<C::Error>>) {
        let entry = Entry {
            part: Some(C::part(&write)),
            write: Some(write),
            ack,
        };
        match self.quarantine.admit(entry) {
            Ok(ack) => {
                self.publish();
                if let Some(ack) = ack {
                    ack(Err(C::refusal(Refused::Retrying)));
                }
            }
            Err(entry) => {
                self.buffer.push(entry);
                if self.buffer.len() >= self.batch_max {
                    self.flush().await;
                }
            }
        }
    }

    /// With [`Trigger::WhenFree`], makes sure a held batch has a `Flush`
    /// on its way: behind whatever is already queued, or at its retry time.
    fn schedule(&mut self, myself: &ActorRef<Msg<C>>) {
        if self.shared.config.trigger != Trigger::WhenFree || self.flush_pending {
            return;
        }
        let due = if self.buffer.is_empty() {
            match self.quarantine.next_due() {
                Some(at) => Some(at),
                None => return,
            }
        } else {
            self.retry_at
        };
        self.flush_pending = true;
        let wait = due
            .map(|at| at.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        if wait.is_zero() {
            if myself.send_message(Msg::Flush).is_err() {
                self.flush_pending = false;
            }
        } else {
            myself.send_after(wait, || Msg::Flush);
        }
    }

    async fn flush(&mut self) {
        self.retry_quarantined(false).await;
        if self.buffer.is_empty() || self.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        let started = Instant::now();
        let result = {
            let writes: Vec<&C::Write> = self
                .buffer
                .iter()
                .filter_map(|e| e.write.as_ref())
                .collect();
            if writes.is_empty() {
                Ok(Skipped::new())
            } else {
                self.shared.committer.commit(&writes).await
            }
        };
        match result {
            Ok(skipped) => {
                self.recovered();
                let entries = std::mem::take(&mut self.buffer);
                self.settle(entries, skipped, started);
            }
            Err(err) => {
                let g = &self.shared.gauge;
                g.failures.fetch_add(1, Ordering::Relaxed);
                g.failing.store(true, Ordering::Relaxed);
                metrics::counter!(BATCH_FAILURES, "writer" => C::WRITER).increment(1);
                self.failed_in_row += 1;
                match C::ON_FAILURE {
                    OnFailure::KeepAndRetry
                        if self.failed_in_row >= SPLIT_AFTER && err.blames_the_data() =>
                    {
                        self.split(err).await
                    }
                    OnFailure::KeepAndRetry => self.keep(err),
                    OnFailure::EachAlone => self.each_alone(err, started).await,
                }
            }
        }
    }

    /// The batch committed (whole or split): back to the short backoff.
    fn recovered(&mut self) {
        self.shared.gauge.failing.store(false, Ordering::Relaxed);
        self.failed_in_row = 0;
        self.retry_at = None;
        self.backoff = BACKOFF_START;
    }

    /// Answers `entries` after their writes were committed in one
    /// transaction, except the `skipped` ones (indexes among the writes).
    fn settle(&mut self, entries: Vec<Entry<C>>, skipped: Skipped, started: Instant) {
        let shared = &self.shared;
        let n = entries.iter().filter(|e| e.write.is_some()).count();
        let mut refused: Vec<Option<StoreError>> = Vec::new();
        refused.resize_with(n, || None);
        for (i, e) in skipped {
            if let Some(slot) = refused.get_mut(i) {
                *slot = Some(e);
            }
        }
        let now = Timestamp::now();
        let committed = {
            let kept: Vec<&C::Write> = entries
                .iter()
                .filter_map(|e| e.write.as_ref())
                .zip(&refused)
                .filter(|(_, r)| r.is_none())
                .map(|(w, _)| w)
                .collect();
            // Counters first, so whoever hears "committed" also sees the
            // flush in every view.
            shared.committer.committed(&kept, now);
            kept.len()
        };
        let g = &shared.gauge;
        g.queued.fetch_sub(n as i64, Ordering::Relaxed);
        g.changes.fetch_add(committed as u64, Ordering::Relaxed);
        g.skipped
            .fetch_add((n - committed) as u64, Ordering::Relaxed);
        self.finished(n, committed, started, now);
        let mut refused = refused.into_iter();
        for entry in entries {
            let verdict = match (&entry.write, &entry.part) {
                (Some(_), _) => refused.next().flatten().map(Refused::Rejected),
                // A barrier on everything waits for the held parts too.
                (None, None) if !self.quarantine.is_empty() => Some(Refused::Retrying),
                (None, _) => None,
            };
            if let Some(ack) = entry.ack {
                ack(match verdict {
                    None => Ok(()),
                    Some(why) => Err(C::refusal(why)),
                });
            }
        }
    }

    /// Splits a batch that keeps failing by part, halving until each part
    /// that fails alone is found: those are held apart, the rest commit.
    /// When no part commits (a missing table fails them all), or an answer
    /// does not blame the rows (the store is gone), nothing is held: what
    /// is left is kept for a retry, and the next split waits for
    /// `SPLIT_AFTER` more failures.
    async fn split(&mut self, err: StoreError) {
        let started = Instant::now();
        let mut groups: Vec<(C::Part, Vec<Entry<C>>)> = Vec::new();
        let mut at: HashMap<C::Part, usize> = HashMap::new();
        let mut barriers = Vec::new();
        for entry in std::mem::take(&mut self.buffer) {
            let Some(part) = entry.part.clone() else {
                barriers.push(entry);
                continue;
            };
            let i = *at.entry(part.clone()).or_insert_with(|| {
                groups.push((part, Vec::new()));
                groups.len() - 1
            });
            groups[i].1.push(entry);
        }
        tracing::warn!(writer = C::WRITER, error = %err, parts = groups.len(),
            "a batch keeps failing; splitting it by part");
        // Ranges of `groups` still to try, the next one last.
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        ranges.push(0..groups.len());
        let mut outage = None;
        let mut refused: Vec<(usize, StoreError)> = Vec::new();
        let mut any_committed = false;
        while let Some(range) = ranges.pop() {
            if range.is_empty() {
                continue;
            }
            let result = {
                let writes: Vec<&C::Write> = groups[range.clone()]
                    .iter()
                    .flat_map(|(_, es)| es.iter().filter_map(|e| e.write.as_ref()))
                    .collect();
                self.shared.committer.commit(&writes).await
            };
            match result {
                Ok(skipped) => {
                    let entries: Vec<Entry<C>> = groups[range]
                        .iter_mut()
                        .flat_map(|(_, es)| std::mem::take(es))
                        .collect();
                    self.settle(entries, skipped, started);
                    any_committed = true;
                }
                Err(e) if !e.blames_the_data() => {
                    outage = Some(e);
                    break;
                }
                Err(e) if range.len() == 1 => refused.push((range.start, e)),
                Err(_) => {
                    let mid = range.start + range.len() / 2;
                    ranges.push(mid..range.end);
                    ranges.push(range.start..mid);
                }
            }
        }
        let outage = match outage {
            Some(e) => Some(e),
            None if !any_committed => Some(err),
            None => None,
        };
        match outage {
            Some(e) => {
                self.failed_in_row = 0;
                self.buffer = groups.into_iter().flat_map(|(_, es)| es).collect();
                self.buffer.extend(barriers);
                self.keep(e);
            }
            None => {
                for (i, e) in refused {
                    let (part, entries) = &mut groups[i];
                    self.hold(part.clone(), std::mem::take(entries), &e);
                }
                self.recovered();
                let verdict = || match self.quarantine.is_empty() {
                    true => Ok(()),
                    false => Err(C::refusal(Refused::Retrying)),
                };
                for ack in barriers.into_iter().filter_map(|b| b.ack) {
                    ack(verdict());
                }
            }
        }
        self.publish();
    }

    /// Holds a part's writes apart after the store refused them alone.
    fn hold(&mut self, part: C::Part, entries: Vec<Entry<C>>, err: &StoreError) {
        let writes: Vec<&C::Write> = entries.iter().filter_map(|e| e.write.as_ref()).collect();
        self.shared.committer.held(&writes, true);
        self.quarantine.hold(part, entries, err);
        metrics::counter!(BATCH_QUARANTINES, "writer" => C::WRITER).increment(1);
    }

    /// Writes each held part whose time has come (every one when `force`)
    /// alone again; a part whose writes commit is let go.
    async fn retry_quarantined(&mut self, force: bool) {
        let due = self.quarantine.due(Instant::now(), force);
        if due.is_empty() {
            return;
        }
        for part in due {
            let started = Instant::now();
            let result = {
                let writes = self.quarantine.writes(&part);
                self.shared.committer.commit(&writes).await
            };
            match result {
                Ok(skipped) => {
                    let entries = self.quarantine.release(&part);
                    let writes: Vec<&C::Write> =
                        entries.iter().filter_map(|e| e.write.as_ref()).collect();
                    self.shared.committer.held(&writes, false);
                    self.settle(entries, skipped, started);
                }
                Err(e) => self.quarantine.refused_again(&part, &e),
            }
        }
        self.publish();
    }

    /// Shows the held parts to the handle (`/admin`) and `/metrics`.
    fn publish(&self) {
        publish(&self.shared, self.quarantine.report());
    }

    /// Keeps a failed batch for a retry after the backoff; its waiting
    /// callers hear at once that they are not committed.
    fn keep(&mut self, err: StoreError) {
        tracing::error!(writer = C::WRITER, error = %err, changes = self.buffer.len(),
            retry_in = ?self.backoff, "write-behind batch failed; keeping it for retry");
        for entry in &mut self.buffer {
            if let Some(ack) = entry.ack.take() {
                ack(Err(C::refusal(Refused::Retrying)));
            }
        }
        self.buffer.retain(|e| e.write.is_some());
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    /// Writes each write of a failed batch alone: one bad write must not
    /// fail its neighbours.
    async fn each_alone(&mut self, err: StoreError, started: Instant) {
        let n = self.buffer.iter().filter(|e| e.write.is_some()).count();
        if n > 1 {
            tracing::debug!(writer = C::WRITER, error = %err, size = n,
                "batch failed; writing one by one");
        }
        let shared = &self.shared;
        let mut committed = 0;
        let g = &shared.gauge;
        for entry in self.buffer.drain(..) {
            let result = match &entry.write {
                Some(write) => {
                    let result = match shared.committer.commit(&[write]).await {
                        Ok(mut skipped) => match skipped.pop() {
                            Some((_, e)) => {
                                g.skipped.fetch_add(1, Ordering::Relaxed);
                                Err(e)
                            }
                            None => Ok(()),
                        },
                        Err(e) => Err(e),
                    };
                    g.queued.fetch_sub(1, Ordering::Relaxed);
                    match result {
                        Ok(()) => {
                            committed += 1;
                            shared.committer.committed(&[write], Timestamp::now());
                            g.changes.fetch_add(1, Ordering::Relaxed);
                            Ok(())
                        }
                        Err(e) => Err(C::refusal(Refused::Rejected(e))),
                    }
                }
                // A barrier: everything before it has its answer.
                None => Ok(()),
            };
            if let Some(ack) = entry.ack {
                ack(result);
            }
        }
        // The one-by-one writes are part of the flush: callers waited for them.
        self.finished(n, committed, started, Timestamp::now());
    }

    /// Counts a batch whose `writes` have all been answered (and taken off
    /// `queued`), `committed` of them committed.
    fn finished(&self, writes: usize, committed: usize, started: Instant, now: Timestamp) {
        let g = &self.shared.gauge;
        g.batches.fetch_add(1, Ordering::Relaxed);
        g.last_flush_ms.store(now.millis(), Ordering::Relaxed);
        g.last_flush_size.store(committed as u64, Ordering::Relaxed);
        let took = started.elapsed();
        g.last_flush_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
        // A flush holding only barriers wrote nothing: not a batch.
        if writes > 0 {
            metrics::histogram!(BATCH_SIZE, "writer" => C::WRITER).record(writes as f64);
            metrics::histogram!(FLUSH_DURATION, "writer" => C::WRITER).record(took.as_secs_f64());
        }
        self.shared.room.notify_waiters();
    }
}

fn publish<C: Commit>(shared: &Shared<C>, report: Vec<Quarantined>) {
    metrics::gauge!(QUARANTINED_PARTS, "writer" => C::WRITER).set(report.len() as f64);
    *shared
        .quarantined
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = report;
}

#[cfg(test)]
mod tests;
