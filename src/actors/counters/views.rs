//! What operators see of the counters (`/admin/actors`).

use serde::Serialize;
use utoipa::ToSchema;

use crate::actors::group_commit::Quarantined;

#[derive(Debug, Serialize, ToSchema)]
pub struct CountersOverview {
    /// Counter actors (posts, comments, accounts) in memory.
    pub active_counter_actors: usize,
    /// Requests waiting in counter mailboxes, summed.
    pub mailbox_depth: i64,
    /// Changes not yet committed, summed.
    pub unflushed_changes: i64,
    /// Restarts after panics, summed over active counter actors.
    pub restarts: u64,
    /// The `relations` writer.
    pub writer: CounterWriterView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CounterWriterView {
    pub queued: i64,
    pub batches_committed: u64,
    pub changes_committed: u64,
    pub failed_flushes: u64,
    pub failing: bool,
    pub last_flush_size: u64,
    pub restarts: u64,
    /// Targets whose changes the store refuses, held apart.
    pub quarantined: Vec<Quarantined>,
}
