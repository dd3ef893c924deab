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

use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::domain::shard::{NodeId, ShardId};
use crate::domain::time::Timestamp;

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

    /// The fence of a batch: run inside its transaction, before its commit.
    /// Fails (so the batch rolls back) unless every shard of `held` is
    /// still recorded under the epoch this node holds it by.
    pub async fn check_shards(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        held: &[ShardEpoch],
    ) -> Result<(), StoreError> {
        if held.is_empty() {
            return Ok(());
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
                metrics::counter!(FENCED_BATCHES).increment(1);
                return Err(fenced(*h, recorded));
            }
        }
        Ok(())
    }
}

/// Batches a shard's fence refused: a stale owner's writes that never landed.
pub const FENCED_BATCHES: &str = "stampede_cluster_fenced_batches_total";
