//! The keeper's host: what a shard is on this node. A shard opened here is
//! served by this node's SKU and counter actors, loaded from the database
//! on first use (after the shard's epoch was recorded, so nothing an
//! earlier owner committed is missed), and its orders' sagas are started
//! by the orders' sweep. A shard closed here stops deciding, its sagas stop
//! at their recorded steps, its SKU and counter actors drain, and what they
//! decided is committed before the lease goes.

use std::sync::Arc;

use super::keeper::ShardHost;
use super::sagas::OrdersSlot;
use crate::actors::Inventory;
use crate::actors::counters::Counters;
use crate::domain::shard::ShardId;
use crate::persistence::shard_fence::HeldShards;

pub struct NodeHost {
    pub inventory: Inventory,
    pub orders: OrdersSlot,
    pub counters: Counters,
    pub held: Arc<HeldShards>,
}

impl NodeHost {
    /// Stops the shard's SKU and counter actors; the caller commits.
    async fn retire_actors(&self, shard: ShardId) {
        let count = self.held.count();
        self.inventory
            .retire(|sku| count.of_sku(sku) == shard)
            .await;
        self.counters
            .retire(|target| count.of_counter(target) == shard)
            .await;
    }
}

impl ShardHost for NodeHost {
    async fn open(&self, shard: ShardId, epoch: i64) {
        // Actors left from an earlier ownership remember stale state.
        self.retire_actors(shard).await;
        self.held.open(shard, epoch);
        tracing::info!(%shard, epoch, "serving a shard");
    }

    async fn close(&self, shard: ShardId) {
        self.held.start_closing(shard);
        // Sagas first: a step may still commit or release stock.
        if let Some(orders) = self.orders.get() {
            let count = self.held.count();
            orders.retire(|order| count.of_order(order) == shard).await;
        }
        self.retire_actors(shard).await;
        if let Err(e) = self.inventory.sync().await {
            // Left uncommitted: never acknowledged as durable, and the
            // next owner's epoch refuses it from now on.
            tracing::warn!(%shard, error = %e, "a handed-over shard's last decisions did not commit");
        }
        self.held.close(shard);
        tracing::info!(%shard, "handed a shard over");
    }
}
