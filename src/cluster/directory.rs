//! Who owns each shard, as this node last read the leases: the keeper
//! writes it every round, the router reads it to send a SKU's calls to its
//! owner, and the admin view shows it. It may be a round behind: a call
//! sent to a node that gave the shard up is refused there and answered
//! `503 UNAVAILABLE`, and the caller's retry finds the new owner.

use std::sync::RwLock;
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::shard::{ShardCount, ShardId};

/// A shard's owner as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub node: String,
    /// The revision the key was at (the epoch while its owner renews).
    pub revision: u64,
    /// When this node first read that revision.
    pub since: Instant,
}

impl Seen {
    /// How long the key has stood still as seen from here.
    pub fn age(&self) -> Duration {
        self.since.elapsed()
    }
}

#[derive(Debug)]
pub struct ShardDirectory {
    count: ShardCount,
    owners: RwLock<Vec<Option<Seen>>>,
}

impl ShardDirectory {
    pub fn new(count: ShardCount) -> Self {
        Self {
            count,
            owners: RwLock::new(vec![None; count.get() as usize]),
        }
    }

    /// Records what `shard`'s key says now (`None`: free).
    pub fn record(&self, shard: ShardId, owner: Option<(String, u64)>) {
        let mut owners = self.owners.write().unwrap_or_else(|p| p.into_inner());
        let Some(slot) = owners.get_mut(shard.get() as usize) else {
            return;
        };
        *slot = match (slot.take(), owner) {
            (_, None) => None,
            (Some(seen), Some((node, revision)))
                if seen.node == node && seen.revision == revision =>
            {
                Some(seen)
            }
            (_, Some((node, revision))) => Some(Seen {
                node,
                revision,
                since: Instant::now(),
            }),
        };
    }

    /// The node that owns `shard`, as last read.
    pub fn owner(&self, shard: ShardId) -> Option<String> {
        let owners = self.owners.read().unwrap_or_else(|p| p.into_inner());
        owners
            .get(shard.get() as usize)
            .and_then(|s| s.as_ref().map(|s| s.node.clone()))
    }

    /// Every shard with its owner as last read.
    pub fn all(&self) -> Vec<(ShardId, Option<Seen>)> {
        let owners = self.owners.read().unwrap_or_else(|p| p.into_inner());
        self.count.all().zip(owners.iter().cloned()).collect()
    }
}
