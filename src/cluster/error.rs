//! What can go wrong with the cluster's state in NATS.

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Someone else wrote the key since this node's last write: the shard
    /// is no longer this node's.
    #[error("shard {shard} was taken over (its key moved past revision {ours})")]
    Lost { shard: u32, ours: u64 },
    #[error("the lease bucket could not be reached: {0}")]
    Nats(String),
    #[error("shard {shard}'s key holds no owner: {why}")]
    Unreadable { shard: u32, why: String },
}

pub(super) fn nats(e: impl std::fmt::Display) -> LeaseError {
    LeaseError::Nats(e.to_string())
}
