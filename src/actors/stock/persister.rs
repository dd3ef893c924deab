//! The write-behind persister: gathers the decisions of every SKU actor and
//! commits them in batches, one transaction each (group commit).
//!
//! A batch is flushed every `flush_interval` or as soon as it holds
//! `batch_max` changes. Durable replies ride along as [`Ack`]s and fire only
//! after their batch commits. A failed batch is kept and retried with
//! exponential backoff; its waiting callers are told at once that their
//! decision is not (yet) durable. A batch that keeps failing is split by
//! SKU: a SKU whose changes the store refuses is held apart (its actor
//! refuses new decisions meanwhile, see [`SkuStats::held`]) and every
//! other SKU's changes commit. The queue is bounded: SKU actors check
//! [`PersisterHandle::has_room`] and answer `OVERLOADED` instead of growing it.
//!
//! The batching itself is [`group_commit`]'s; this module says how a batch
//! of SKU changes is written (collapsed to a [`WriteSet`]), that a failed
//! one is kept, and keeps each SKU's own counters.

use ractor::{ActorCell, ActorId};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::registry::SkuStats;
use crate::actors::group_commit::{
    self, Commit, Config, GroupCommit, OnFailure, Quarantined, Refused, Skipped, Trigger,
};
use crate::domain::ids::SkuId;
use crate::domain::ledger::Change;
use crate::domain::time::Timestamp;
use crate::persistence::{Store, StoreError, WriteSet};

pub use crate::actors::group_commit::NotDurable;

/// Called once, after the batch holding its change commits or fails.
pub type Ack = group_commit::Ack<NotDurable>;

/// Persister counters readable without a message round trip.
pub type PersisterGauge = group_commit::Gauge;

/// How SKU actors and the engine reach the persister. It survives persister
/// restarts: the supervisor swaps the actor behind it.
#[derive(Clone)]
pub struct PersisterHandle {
    group: GroupCommit<StockCommit>,
}

impl PersisterHandle {
    pub fn is_actor(&self, id: ActorId) -> bool {
        self.group.is_actor(id)
    }

    /// Puts the persister under `supervisor`, which restarts it on a panic.
    pub fn link(&self, supervisor: ActorCell) {
        self.group.link(supervisor);
    }

    pub fn unlink(&self, supervisor: ActorCell) {
        self.group.unlink(supervisor);
    }

    /// Replaces a failed persister with a fresh one linked to `supervisor`.
    /// What the dead one held is gone: its waiting callers already heard
    /// "not durable" (their reply ports were dropped), and the supervisor
    /// has stopped every SKU actor so they reload from the store.
    pub async fn restart(&self, supervisor: ActorCell) -> Result<(), ractor::SpawnErr> {
        self.group.restart(supervisor).await
    }

    pub fn inject_panic(&self) {
        self.group.inject_panic();
    }

    pub fn stop(&self) {
        self.group.stop();
    }

    pub fn gauge(&self) -> &PersisterGauge {
        self.group.gauge()
    }

    /// SKUs whose changes the store refuses, held apart.
    pub fn quarantined(&self) -> Vec<Quarantined> {
        self.group.quarantined()
    }

    pub fn has_room(&self) -> bool {
        self.group.has_room()
    }

    /// Hands several changes of one SKU over in one message, in order. If
    /// the persister is gone their acks hear so at once.
    pub fn write_many(&self, changes: Vec<(Change, Option<Ack>)>, owner: &Arc<SkuStats>) {
        if changes.is_empty() {
            return;
        }
        let n = changes.len() as i64;
        owner.unflushed.fetch_add(n, Ordering::Relaxed);
        let writes = changes
            .into_iter()
            .map(|(change, ack)| {
                let owner = Arc::clone(owner);
                (StockWrite { change, owner }, ack)
            })
            .collect();
        if !self.group.write_many(writes) {
            owner.unflushed.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Calls `ack` once every change of `sku` sent before is committed.
    pub fn sync_sku_then(&self, sku: SkuId, ack: Ack) {
        self.group.sync_then(Some(sku), ack);
    }

    /// Waits until every change of `sku` sent before is committed.
    pub async fn sync_sku(&self, sku: SkuId, timeout: Duration) -> Result<(), NotDurable> {
        self.group.sync(Some(sku), timeout).await
    }

    /// Waits until every change sent before is committed.
    pub async fn sync(&self, timeout: Duration) -> Result<(), NotDurable> {
        self.group.sync(None, timeout).await
    }

    /// Commits everything queued, retrying failures until `timeout` passes.
    pub async fn drain(&self, timeout: Duration) -> Result<(), NotDurable> {
        self.group.drain(timeout).await
    }
}

pub struct Persister;

#[derive(Clone)]
pub struct Arguments {
    pub store: Store,
    pub flush_interval: Duration,
    pub batch_max: usize,
}

impl Persister {
    /// Spawns the persister and its flush timer. Link it to a supervisor
    /// with [`PersisterHandle::link`].
    pub async fn start(
        args: Arguments,
        queue_max: usize,
    ) -> Result<PersisterHandle, ractor::SpawnErr> {
        let config = Config {
            trigger: Trigger::Every(args.flush_interval),
            batch_max: args.batch_max,
            queue_max,
        };
        let committer = StockCommit { store: args.store };
        Ok(PersisterHandle {
            group: GroupCommit::start(committer, config).await?,
        })
    }
}

/// A change and the counters of the SKU that decided it.
struct StockWrite {
    change: Change,
    owner: Arc<SkuStats>,
}

struct StockCommit {
    store: Store,
}

impl Commit for StockCommit {
    type Write = StockWrite;
    type Error = NotDurable;
    const WRITER: &'static str = "inventory";
    const ON_FAILURE: OnFailure = OnFailure::KeepAndRetry;
    type Part = SkuId;

    fn part(write: &StockWrite) -> SkuId {
        write.change.header.sku
    }

    /// In cluster mode the changes of a SKU whose shard this node no
    /// longer holds are left out: a later owner loaded the SKU from the
    /// database and decides for it now, so they must never land (their
    /// callers were not answered as durable).
    async fn commit(&self, writes: &[&StockWrite]) -> Result<Skipped, StoreError> {
        let mut skipped = Skipped::new();
        let mut kept = Vec::with_capacity(writes.len());
        for (i, w) in writes.iter().enumerate() {
            let sku = w.change.header.sku;
            if self.store.may_write_stock(sku) {
                kept.push(&w.change);
            } else {
                skipped.push((
                    i,
                    StoreError::Fenced(format!("SKU {sku} is in a shard this node gave up")),
                ));
            }
        }
        self.store.write_batch(&WriteSet::collapse(kept)).await?;
        Ok(skipped)
    }

    fn refusal(_why: Refused) -> NotDurable {
        NotDurable
    }

    /// Tells the SKU's actor to stop deciding while its changes are held.
    fn held(&self, writes: &[&StockWrite], held: bool) {
        for w in writes {
            w.owner.held.store(held, Ordering::Relaxed);
        }
    }

    /// Each SKU's counters: how many of its changes this batch carried.
    fn committed(&self, writes: &[&StockWrite], at: Timestamp) {
        let mut per_owner: HashMap<*const SkuStats, (&SkuStats, u64)> = HashMap::new();
        for w in writes {
            let owner = &*w.owner;
            per_owner
                .entry(owner as *const SkuStats)
                .or_insert((owner, 0))
                .1 += 1;
        }
        for (owner, n) in per_owner.into_values() {
            owner.unflushed.fetch_sub(n as i64, Ordering::Relaxed);
            owner.last_flush_ms.store(at.millis(), Ordering::Relaxed);
            owner.last_flush_size.store(n, Ordering::Relaxed);
        }
    }
}
