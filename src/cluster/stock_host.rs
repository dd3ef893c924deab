//! The keeper's host for stock: a shard opened here is served by this
//! node's SKU actors, loaded from the database on first use (after the
//! shard's epoch was recorded, so nothing an earlier owner committed is
//! missed); a shard closed here stops deciding, its actors drain, and what
//! they decided is committed before the lease goes.

use std::sync::Arc;

use super::keeper::ShardHost;
use crate::actors::Inventory;
use crate::domain::shard::ShardId;
use crate::persistence::shard_fence::HeldShards;

pub struct StockHost {
    pub inventory: Inventory,
    pub held: Arc<HeldShards>,
}

impl StockHost {
    async fn retire(&self, shard: ShardId) {
        let count = self.held.count();
        self.inventory
            .retire(|sku| count.of_sku(sku) == shard)
            .await;
    }
}

impl ShardHost for StockHost {
    async fn open(&self, shard: ShardId, epoch: i64) {
        // Actors left from an earlier ownership remember a stale ledger.
        self.retire(shard).await;
        self.held.open(shard, epoch);
        tracing::info!(%shard, epoch, "serving a shard");
    }

    async fn close(&self, shard: ShardId) {
        self.held.start_closing(shard);
        self.retire(shard).await;
        if let Err(e) = self.inventory.sync().await {
            // Left uncommitted: never acknowledged as durable, and the
            // next owner's epoch refuses it from now on.
            tracing::warn!(%shard, error = %e, "a handed-over shard's last decisions did not commit");
        }
        self.held.close(shard);
        tracing::info!(%shard, "handed a shard over");
    }
}
