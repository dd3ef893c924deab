//! The shards this node holds, kept in line with the live nodes. Every
//! round (a tenth of a lease) the keeper beats, reads who is live, renews
//! its leases, hands over the shards another live node should own (the
//! host drains and flushes them, then the lease is released), and takes
//! the shards that are now its own: the lease, then the epoch recorded in
//! the database, then the host loads the shard. The host is what owns the
//! shards' actors; the keeper only says when.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::directory::ShardDirectory;
use super::lease::{Claim, Held, LeaseError, ShardLeases};
use super::membership::Membership;
use crate::domain::shard::{NodeId, ShardCount, ShardId, owner_of};
use crate::persistence::shard_fence::ShardEpoch;
use crate::persistence::{Store, StoreError};

/// What the keeper drives: whoever holds the shards' actors.
pub trait ShardHost: Send + Sync {
    /// `shard` is this node's under `epoch` (recorded in the database
    /// already): load its state and serve it.
    fn open(&self, shard: ShardId, epoch: i64) -> impl Future<Output = ()> + Send;
    /// `shard` is no longer this node's: stop deciding for it, and flush
    /// what was decided before returning (its lease goes after).
    fn close(&self, shard: ShardId) -> impl Future<Output = ()> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    #[error(transparent)]
    Lease(#[from] LeaseError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Keeper<H> {
    me: NodeId,
    count: ShardCount,
    /// Stop acting this long before a lease that could not be renewed ends.
    margin: Duration,
    leases: ShardLeases,
    members: Membership,
    store: Store,
    host: H,
    held: BTreeMap<ShardId, Held>,
    /// Every shard's owner as this keeper last read it.
    directory: Arc<ShardDirectory>,
}

impl<H: ShardHost> Keeper<H> {
    pub fn new(
        me: NodeId,
        count: ShardCount,
        leases: ShardLeases,
        members: Membership,
        store: Store,
        host: H,
    ) -> Self {
        Self {
            me,
            count,
            margin: leases.lease() / 6,
            leases,
            members,
            store,
            host,
            held: BTreeMap::new(),
            directory: Arc::new(ShardDirectory::new(count)),
        }
    }

    /// Who owns each shard, kept up to date by every round.
    pub fn directory(&self) -> Arc<ShardDirectory> {
        Arc::clone(&self.directory)
    }

    /// How often to call [`Keeper::round`]: a tenth of a lease, so a dead
    /// node's shards move within a lease and two rounds of its last write.
    pub fn every(&self) -> Duration {
        self.leases.lease() / 10
    }

    pub async fn join(&mut self) -> Result<(), KeeperError> {
        Ok(self.members.join().await?)
    }

    pub async fn round(&mut self) -> Result<(), KeeperError> {
        self.members.heartbeat().await?;
        // The others' shards are read before their owners' heartbeats, so
        // that when an owner is found dead its leases are seen to have
        // stood still at least as long, and are taken in the same round.
        let others: Vec<ShardId> = self
            .count
            .all()
            .filter(|s| !self.held.contains_key(s))
            .collect();
        for shard in others {
            let owner = self.leases.observe(shard.get()).await?;
            self.directory.record(shard, owner);
        }
        let live = self.members.live().await?;
        self.renew().await;
        let mine = |s: ShardId| owner_of(s, &live) == Some(&self.me);
        let handing: Vec<ShardId> = self.held.keys().copied().filter(|s| !mine(*s)).collect();
        let taking: Vec<ShardId> = self
            .count
            .all()
            .filter(|s| mine(*s) && !self.held.contains_key(s))
            .collect();
        for shard in handing {
            self.hand_over(shard).await;
        }
        for shard in taking {
            self.take(shard).await?;
        }
        Ok(())
    }

    /// Hands every shard back and leaves the roster (a clean stop).
    pub async fn leave(mut self) -> Result<(), KeeperError> {
        let all: Vec<ShardId> = self.held.keys().copied().collect();
        for shard in all {
            self.hand_over(shard).await;
        }
        Ok(self.members.leave().await?)
    }

    /// Renews every lease held. A lease taken over, or one that could not
    /// be renewed before it ends, stops being acted for.
    async fn renew(&mut self) {
        let lease = self.leases.lease();
        let shards: Vec<ShardId> = self.held.keys().copied().collect();
        for shard in shards {
            let Some(held) = self.held.get_mut(&shard) else {
                continue;
            };
            let dropped = match self.leases.renew(held).await {
                Ok(()) => false,
                Err(LeaseError::Lost { .. }) => {
                    tracing::warn!(%shard, "lost a shard's lease to another node");
                    true
                }
                Err(e) => {
                    let over = held.valid_until(lease, self.margin) <= Instant::now();
                    tracing::warn!(%shard, error = %e, over, "could not renew a shard's lease");
                    over
                }
            };
            if dropped {
                self.held.remove(&shard);
                self.directory.record(shard, None);
                self.host.close(shard).await;
            }
        }
    }

    async fn hand_over(&mut self, shard: ShardId) {
        let Some(held) = self.held.remove(&shard) else {
            return;
        };
        self.host.close(shard).await;
        self.directory.record(shard, None);
        if let Err(e) = self.leases.release(held).await {
            tracing::warn!(%shard, error = %e, "could not release a shard; it moves once its lease lapses");
        }
    }

    async fn take(&mut self, shard: ShardId) -> Result<(), KeeperError> {
        let held = match self.leases.claim(shard.get()).await? {
            Claim::Taken(held) => held,
            // Its owner hands it over on its own round, or its lease lapses;
            // a raced shard is taken on the next round.
            Claim::HeldBy { .. } | Claim::Raced => return Ok(()),
        };
        let epoch = i64::try_from(held.epoch).map_err(|_| LeaseError::Unreadable {
            shard: shard.get(),
            why: format!("revision {} is past what the database records", held.epoch),
        })?;
        if let Err(e) = self
            .store
            .record_shard_epoch(ShardEpoch { shard, epoch }, &self.me)
            .await
        {
            tracing::warn!(%shard, error = %e, "could not record a shard's epoch; giving it back");
            // It must not be served without its record.
            if let Err(release) = self.leases.release(held).await {
                tracing::warn!(%shard, error = %release, "could not release it either; it lapses");
            }
            return Err(e.into());
        }
        self.host.open(shard, epoch).await;
        self.directory
            .record(shard, Some((self.me.as_str().to_string(), held.epoch)));
        self.held.insert(shard, held);
        Ok(())
    }
}
