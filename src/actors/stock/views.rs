//! Read-only views of the actor system for operators (`/admin/actors`).

use serde::Serialize;
use utoipa::ToSchema;

use super::sku::SkuSnapshot;
use crate::actors::group_commit::Quarantined;
use crate::config::AckMode;
use crate::domain::ids::SkuId;
use crate::domain::time::Timestamp;

#[derive(Debug, Serialize, ToSchema)]
pub struct ActorsOverview {
    #[schema(value_type = String, example = "durable")]
    pub ack_mode: AckMode,
    /// SKU actors currently in memory.
    pub active_sku_actors: usize,
    /// Requests waiting in SKU mailboxes, summed.
    pub mailbox_depth: i64,
    /// SKU changes not yet committed, summed.
    pub unflushed_decisions: i64,
    /// Restarts after panics, summed over active SKU actors.
    pub restarts: u64,
    /// SKU actor activations since start, by how their load went.
    pub sku_activations: ActivationsView,
    pub persister: PersisterView,
}

/// Each activation is one store read; unknown ids are remembered, so
/// `unknown` grows once per unknown id, not once per request about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationsView {
    pub loaded: u64,
    pub unknown: u64,
    pub failed: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersisterView {
    /// Changes waiting to be committed.
    pub queued: i64,
    pub queue_max: usize,
    pub batches_committed: u64,
    pub changes_committed: u64,
    pub failed_flushes: u64,
    /// True while the last flush attempt failed.
    pub failing: bool,
    pub last_flush_at: Option<Timestamp>,
    pub last_flush_size: u64,
    pub last_flush_micros: u64,
    /// Restarts after a panic.
    pub restarts: u64,
    /// SKUs whose changes the store refuses, held apart while every other
    /// SKU's commit (their actors refuse new decisions meanwhile).
    pub quarantined: Vec<Quarantined>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SkuActorView {
    pub sku_id: SkuId,
    pub mailbox_depth: i64,
    pub unflushed_decisions: i64,
    pub restarts: u64,
    pub activated_at: Option<Timestamp>,
    pub last_flush_at: Option<Timestamp>,
    /// How many of this SKU's changes its last committed batch carried.
    pub last_flush_size: u64,
    /// The store refuses this SKU's changes; see the persister's `quarantined`.
    pub held: bool,
    /// Reservations in the actor's memory: live, committed, and the newest
    /// given-back ones (`inventory.finished_kept`).
    pub remembered_reservations: usize,
    pub stock: SkuSnapshot,
    /// In cluster mode, the node that owns the SKU's shard (the actor
    /// fields above are that node's only when it is this one); `null` for a
    /// single process.
    pub owner_node: Option<String>,
}

impl SkuActorView {
    /// The view of a SKU another node owns: its stock as the owner answered,
    /// and no actor here.
    pub fn elsewhere(stock: SkuSnapshot, owner: String) -> Self {
        Self {
            sku_id: stock.sku_id,
            mailbox_depth: 0,
            unflushed_decisions: 0,
            restarts: 0,
            activated_at: None,
            last_flush_at: None,
            last_flush_size: 0,
            held: false,
            remembered_reservations: 0,
            stock,
            owner_node: Some(owner),
        }
    }
}

pub(crate) fn instant(ms: i64) -> Option<Timestamp> {
    (ms > 0).then(|| Timestamp::from_millis(ms))
}
