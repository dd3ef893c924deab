//! The database's fence for shards (issue 16). A node that takes a shard
//! records the epoch of its lease ([`Store::record_shard_epoch`]) before it
//! loads the shard's state; every write-behind batch for the shard checks,
//! inside its own transaction, that the recorded epoch is still the one it
//! holds ([`Store::check_shards`]). A node that lost its lease while paused
//! therefore cannot commit what it decided before: its batch rolls back and
//! nothing it acknowledged durably was acknowledged.
//!
//! The same locking as `store_owner`: on MariaDB the batch reads the row
//! with a shared lock, so recording a new epoch (an exclusive lock) waits
//! for batches already past the check, and batches after it see the new
//! epoch.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::domain::counter::Target;
use crate::domain::ids::{OrderId, SkuId};
use crate::domain::shard::{NodeId, ShardCount, ShardId};
use crate::domain::time::Timestamp;

/// The shards this node owns, each with the epoch it holds it by. The
/// cluster's keeper fills it; a store given it ([`Store::with_shards`])
/// writes stock only for SKUs of these shards, and fences every batch.
#[derive(Debug)]
pub struct HeldShards {
    count: ShardCount,
    held: RwLock<HashMap<ShardId, Holding>>,
}

#[derive(Debug, Clone, Copy)]
struct Holding {
    epoch: i64,
    /// Being handed over: no new decisions, but what was decided before
    /// is still written under the epoch.
    closing: bool,
}

impl HeldShards {
    pub fn new(count: ShardCount) -> Self {
        Self {
            count,
            held: RwLock::default(),
        }
    }

    pub fn count(&self) -> ShardCount {
        self.count
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ShardId, Holding>> {
        self.held.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<ShardId, Holding>> {
        self.held.write().unwrap_or_else(|p| p.into_inner())
    }

    /// `shard` is this node's from now on, under `epoch`.
    pub fn open(&self, shard: ShardId, epoch: i64) {
        self.write().insert(
            shard,
            Holding {
                epoch,
                closing: false,
            },
        );
    }

    /// No new decisions for `shard`; what was decided is still written.
    pub fn start_closing(&self, shard: ShardId) {
        if let Some(h) = self.write().get_mut(&shard) {
            h.closing = true;
        }
    }

    /// `shard` is not this node's any more.
    pub fn close(&self, shard: ShardId) {
        self.write().remove(&shard);
    }

    /// Drops `held` when the database named a later owner, unless the shard
    /// was taken again since under a newer epoch.
    pub fn lose(&self, held: ShardEpoch) {
        let mut map = self.write();
        if map.get(&held.shard).is_some_and(|h| h.epoch == held.epoch) {
            map.remove(&held.shard);
            tracing::warn!(shard = %held.shard, epoch = held.epoch,
                "the database names a later owner of a shard: its writes stop here");
        }
    }

    /// True when this node serves shard 0, and so runs the jobs one node
    /// runs for the whole cluster (the outbox relay, the mail notifier and
    /// sender, the sale clock, pruning, the orphan sweep).
    pub fn leads(&self) -> bool {
        self.count
            .all()
            .next()
            .is_some_and(|first| self.read().get(&first).is_some_and(|h| !h.closing))
    }

    /// True when this node decides for `sku` now.
    pub fn serves(&self, sku: SkuId) -> bool {
        self.serves_shard(self.count.of_sku(sku))
    }

    /// True when `order`'s saga runs on this node now.
    pub fn serves_order(&self, order: OrderId) -> bool {
        self.serves_shard(self.count.of_order(order))
    }

    /// True when `target`'s counter is decided on this node now.
    pub fn serves_counter(&self, target: Target) -> bool {
        self.serves_shard(self.count.of_counter(target))
    }

    fn serves_shard(&self, shard: ShardId) -> bool {
        self.read().get(&shard).is_some_and(|h| !h.closing)
    }

    /// The epoch under which `sku`'s decisions are written, if this node
    /// may still write them.
    pub fn writes(&self, sku: SkuId) -> Option<ShardEpoch> {
        self.writes_shard(self.count.of_sku(sku))
    }

    fn writes_shard(&self, shard: ShardId) -> Option<ShardEpoch> {
        self.read().get(&shard).map(|h| ShardEpoch {
            shard,
            epoch: h.epoch,
        })
    }

    /// Every shard held, with its epoch and whether it is being handed over.
    pub fn held(&self) -> Vec<(ShardEpoch, bool)> {
        let mut all: Vec<_> = self
            .read()
            .iter()
            .map(|(shard, h)| {
                (
                    ShardEpoch {
                        shard: *shard,
                        epoch: h.epoch,
                    },
                    h.closing,
                )
            })
            .collect();
        all.sort_by_key(|(s, _)| s.shard);
        all
    }
}

/// The epoch under which a node holds a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardEpoch {
    pub shard: ShardId,
    pub epoch: i64,
}

fn fenced(held: ShardEpoch, recorded: Option<i64>) -> StoreError {
    StoreError::Fenced(match recorded {
        Some(current) => format!(
            "shard {} is owned under epoch {current} now, this node holds {}",
            held.shard, held.epoch
        ),
        None => format!(
            "shard {} has no recorded owner; epoch {} was never recorded",
            held.shard, held.epoch
        ),
    })
}

impl Store {
    /// This store handle, its stock batches written only for the shards in
    /// `shards` and fenced by their epochs.
    pub fn with_shards(mut self, shards: Arc<HeldShards>) -> Self {
        self.shards = Some(shards);
        self
    }

    /// False for a SKU of a shard this node does not (or no longer) hold
    /// in cluster mode; always true for a single node.
    pub fn may_write_stock(&self, sku: SkuId) -> bool {
        self.shards
            .as_ref()
            .is_none_or(|shards| shards.writes(sku).is_some())
    }

    /// False for a counter of a shard this node does not serve (any more)
    /// in cluster mode; always true for a single node.
    pub fn decides_counter(&self, target: Target) -> bool {
        self.shards
            .as_ref()
            .is_none_or(|shards| shards.serves_counter(target))
    }

    /// True unless this is a cluster node that does not hold shard 0: jobs
    /// that one node runs for all (the outbox relay, the mail jobs, the
    /// sale clock, pruning) run where shard 0 is, so that two never
    /// publish or send the same rows.
    pub fn leads(&self) -> bool {
        self.shards.as_ref().is_none_or(|shards| shards.leads())
    }

    /// Records that `node` owns `held.shard` from `held.epoch` on. Refused
    /// (`Fenced`) when a higher epoch is recorded already: a later owner
    /// took the shard in between.
    pub async fn record_shard_epoch(
        &self,
        held: ShardEpoch,
        node: &NodeId,
    ) -> Result<(), StoreError> {
        let shard = i64::from(held.shard.get());
        // The row first, so that the lock below always has one to take.
        sqlx::query(match self.backend {
            Backend::MySql => {
                "INSERT IGNORE INTO shard_epochs (shard, epoch, node, recorded_at) \
                 VALUES (?, 0, '', 0)"
            }
            Backend::Sqlite => {
                "INSERT OR IGNORE INTO shard_epochs (shard, epoch, node, recorded_at) \
                 VALUES (?, 0, '', 0)"
            }
        })
        .bind(shard)
        .execute(&self.pool)
        .await?;
        let mut tx = self.begin_write().await?;
        let current: i64 = sqlx::query_scalar(match self.backend {
            Backend::MySql => "SELECT epoch FROM shard_epochs WHERE shard = ? FOR UPDATE",
            Backend::Sqlite => "SELECT epoch FROM shard_epochs WHERE shard = ?",
        })
        .bind(shard)
        .fetch_one(&mut *tx)
        .await?;
        if current > held.epoch {
            return Err(fenced(held, Some(current)));
        }
        sqlx::query("UPDATE shard_epochs SET epoch = ?, node = ?, recorded_at = ? WHERE shard = ?")
            .bind(held.epoch)
            .bind(node.as_str().to_string())
            .bind(Timestamp::now().millis())
            .bind(shard)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The fence of a batch: run inside its transaction, first (the
    /// writers do), or at least before its commit. Fails (so the batch
    /// rolls back) unless every shard of `held` is still recorded under
    /// the epoch this node holds it by.
    pub async fn check_shards(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        held: &[ShardEpoch],
    ) -> Result<(), StoreError> {
        match self.stale_shard(tx, held).await? {
            None => Ok(()),
            Some((stale, recorded)) => {
                metrics::counter!(FENCED_BATCHES).increment(1);
                Err(fenced(stale, recorded))
            }
        }
    }

    /// The first shard of `held` recorded under another epoch, with the
    /// epoch recorded (none: never recorded).
    async fn stale_shard(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        held: &[ShardEpoch],
    ) -> Result<Option<(ShardEpoch, Option<i64>)>, StoreError> {
        if held.is_empty() {
            return Ok(None);
        }
        let marks = vec!["?"; held.len()].join(", ");
        let sql = match self.backend {
            Backend::MySql => format!(
                "SELECT shard, epoch FROM shard_epochs WHERE shard IN ({marks}) LOCK IN SHARE MODE"
            ),
            Backend::Sqlite => {
                format!("SELECT shard, epoch FROM shard_epochs WHERE shard IN ({marks})")
            }
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for h in held {
            q = q.bind(i64::from(h.shard.get()));
        }
        let rows = q.fetch_all(&mut **tx).await?;
        for h in held {
            let recorded = rows
                .iter()
                .find(|r| r.try_get::<i64, _>(0).ok() == Some(i64::from(h.shard.get())))
                .map(|r| r.try_get::<i64, _>(1))
                .transpose()?;
            if recorded != Some(h.epoch) {
                return Ok(Some((*h, recorded)));
            }
        }
        Ok(None)
    }

    /// The fence of a stock batch writing `skus`, in its transaction: the
    /// whole-store lease when this process holds one, and each SKU's shard
    /// epoch in cluster mode.
    pub(crate) async fn check_writer(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        skus: impl Iterator<Item = SkuId>,
    ) -> Result<(), StoreError> {
        self.check_owner(tx).await?;
        let Some(shards) = &self.shards else {
            return Ok(());
        };
        let count = shards.count();
        check_epochs(self, tx, shards, skus.map(|sku| count.of_sku(sku))).await
    }

    /// The fence of a counters batch, in its transaction: the whole-store
    /// lease, and in cluster mode each target's shard epoch.
    pub(crate) async fn check_counter_writer(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        targets: impl Iterator<Item = Target>,
    ) -> Result<(), StoreError> {
        self.check_owner(tx).await?;
        let Some(shards) = &self.shards else {
            return Ok(());
        };
        let count = shards.count();
        check_epochs(self, tx, shards, targets.map(|t| count.of_counter(t))).await
    }

    /// The fence of saga steps, in their batch's transaction: in cluster
    /// mode each order's shard epoch (a saga runs where its order's shard
    /// is), so a node that lost the shard while paused cannot write a step
    /// the next owner's saga did not take.
    pub(crate) async fn check_saga_writer(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        orders: impl Iterator<Item = OrderId>,
    ) -> Result<(), StoreError> {
        let Some(shards) = &self.shards else {
            return Ok(());
        };
        let count = shards.count();
        check_epochs(self, tx, shards, orders.map(|o| count.of_order(o))).await
    }
}

/// Fails unless every shard of `wanted` is held here and still recorded
/// under the epoch this node holds it by. A shard the database names a
/// later owner of is dropped from [`HeldShards`], so the batch's retry
/// leaves its writes out instead of failing again.
async fn check_epochs(
    store: &Store,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shards: &HeldShards,
    wanted: impl Iterator<Item = ShardId>,
) -> Result<(), StoreError> {
    let mut held: Vec<ShardEpoch> = Vec::new();
    for shard in wanted {
        let Some(epoch) = shards.writes_shard(shard) else {
            return Err(StoreError::Fenced(format!(
                "shard {shard} is not held by this node"
            )));
        };
        if !held.contains(&epoch) {
            held.push(epoch);
        }
    }
    match store.stale_shard(tx, &held).await? {
        None => Ok(()),
        Some((stale, recorded)) => {
            metrics::counter!(FENCED_BATCHES).increment(1);
            shards.lose(stale);
            Err(fenced(stale, recorded))
        }
    }
}

/// Batches a shard's fence refused: a stale owner's writes that never landed.
pub const FENCED_BATCHES: &str = "stampede_cluster_fenced_batches_total";
