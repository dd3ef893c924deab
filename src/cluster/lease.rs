//! Shard leases in a JetStream KV bucket: one key per shard, whose value
//! names the node that owns it. A node takes a free shard with a create
//! (it fails when the key exists), keeps it by updating the key with the
//! revision it last wrote (it fails once anyone else wrote), and gives it
//! back by deleting it at that revision. The revision of the write that
//! took the shard is the owner's **epoch**: JetStream revisions only grow,
//! so whoever takes a shard next holds a higher one, which the database
//! fence compares.
//!
//! A lease lapses without any clock shared between nodes (nats-server 2.9
//! has no per-key TTL): a contender remembers when *it* first saw the key
//! at its current revision, and takes the shard over (an update at that
//! revision) only once the revision has not moved for a whole lease on its
//! own clock. The holder, for its part, counts its lease from the moment it
//! *sent* its last successful write, and stops acting a margin before that
//! lease ends; since the contender's count starts after that write landed,
//! the holder has stopped before anyone may take over.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::bucket;
pub use super::error::LeaseError;
use super::error::nats;
use super::sightings::Sightings;

/// What the key of a shard holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub node: String,
    /// The holder's lease length: contenders wait this long.
    pub lease_ms: u64,
}

/// A shard this node holds.
#[derive(Debug, Clone)]
pub struct Held {
    pub shard: u32,
    /// The revision of the write that took the shard.
    pub epoch: u64,
    /// The revision of this node's last write (renewals move it).
    revision: u64,
    /// When the last successful write was sent.
    sent_at: Instant,
}

impl Held {
    /// Until when this node may act for the shard: its lease from the last
    /// successful write's sending, less `margin`.
    pub fn valid_until(&self, lease: Duration, margin: Duration) -> Instant {
        self.sent_at + lease.saturating_sub(margin)
    }
}

/// The answer to a claim.
#[derive(Debug, Clone)]
pub enum Claim {
    Taken(Held),
    /// Another node holds it and its lease has not lapsed as seen from here.
    HeldBy {
        node: String,
        revision: u64,
    },
    /// Another node wrote the key between this node's read and write, and
    /// it was released again since: free, for the next claim to take.
    Raced,
}

/// The owner a shard's key names.
fn owner_in(shard: u32, entry: &kv::Entry) -> Result<Owner, LeaseError> {
    serde_json::from_slice(&entry.value).map_err(|why| LeaseError::Unreadable {
        shard,
        why: why.to_string(),
    })
}

/// The shard leases as one node sees them.
pub struct ShardLeases {
    kv: kv::Store,
    me: Owner,
    lease: Duration,
    /// Shards held by someone else: how long each key has stood still.
    seen: Sightings<u32>,
}

impl ShardLeases {
    /// Opens (creating if missing) `bucket` for node `node`.
    pub async fn open(
        js: &jetstream::Context,
        bucket: &str,
        node: &str,
        lease: Duration,
    ) -> Result<Self, LeaseError> {
        let kv = bucket::open(js, bucket).await?;
        Ok(Self {
            kv,
            me: Owner {
                node: node.to_string(),
                lease_ms: u64::try_from(lease.as_millis()).unwrap_or(u64::MAX),
            },
            lease,
            seen: Sightings::default(),
        })
    }

    fn key(shard: u32) -> String {
        format!("shard.{shard}")
    }

    fn value(&self) -> Bytes {
        // An `Owner` always serialises.
        Bytes::from(serde_json::to_vec(&self.me).unwrap_or_default())
    }

    /// Takes `shard` if it is free or its holder's lease lapsed as seen
    /// from here; else says who holds it. Call it again to let a lapse be
    /// noticed: the first sighting of a revision starts its count.
    pub async fn claim(&mut self, shard: u32) -> Result<Claim, LeaseError> {
        let key = Self::key(shard);
        let sent_at = Instant::now();
        let entry = self.kv.entry(key.as_str()).await.map_err(nats)?;
        let (expected, taking_over) = match entry {
            None => (0, false),
            Some(e) if e.operation != kv::Operation::Put => (e.revision, false),
            Some(e) => {
                let owner = owner_in(shard, &e)?;
                let lapsed =
                    self.seen.still_for(shard, e.revision) >= Duration::from_millis(owner.lease_ms);
                // Even a key naming this node waits for the lapse: a twin
                // with the same id may be alive.
                if !lapsed {
                    return Ok(Claim::HeldBy {
                        node: owner.node,
                        revision: e.revision,
                    });
                }
                (e.revision, true)
            }
        };
        // Revision 0 expects no value at all: a create.
        let written = self
            .kv
            .update(key.as_str(), self.value(), expected)
            .await
            .map(Some)
            .or_else(|e| match e.kind() {
                kv::UpdateErrorKind::WrongLastRevision => Ok(None),
                _ => Err(nats(e)),
            })?;
        match written {
            Some(revision) => {
                self.seen.forget(&shard);
                if taking_over {
                    tracing::info!(
                        shard,
                        epoch = revision,
                        "took over a shard whose lease lapsed"
                    );
                }
                Ok(Claim::Taken(Held {
                    shard,
                    epoch: revision,
                    revision,
                    sent_at,
                }))
            }
            // Someone wrote between our read and our write: read again to
            // say who.
            None => match self.kv.entry(key.as_str()).await.map_err(nats)? {
                Some(e) if e.operation == kv::Operation::Put => {
                    let owner = owner_in(shard, &e)?;
                    self.seen.still_for(shard, e.revision);
                    Ok(Claim::HeldBy {
                        node: owner.node,
                        revision: e.revision,
                    })
                }
                _ => Ok(Claim::Raced),
            },
        }
    }

    /// Reads `shard`'s key so that a lapse of its holder is counted from
    /// here on (a shard this node may have to take once its owner dies),
    /// and answers who holds it at which revision (`None`: free).
    pub async fn observe(&mut self, shard: u32) -> Result<Option<(String, u64)>, LeaseError> {
        match self.kv.entry(Self::key(shard)).await.map_err(nats)? {
            Some(e) if e.operation == kv::Operation::Put => {
                self.seen.still_for(shard, e.revision);
                Ok(Some((owner_in(shard, &e)?.node, e.revision)))
            }
            _ => Ok(None),
        }
    }

    /// Writes the key again at the revision this node last wrote, which
    /// restarts its lease; `Lost` once anyone else wrote it.
    pub async fn renew(&self, held: &mut Held) -> Result<(), LeaseError> {
        let sent_at = Instant::now();
        match self
            .kv
            .update(Self::key(held.shard).as_str(), self.value(), held.revision)
            .await
        {
            Ok(revision) => {
                held.revision = revision;
                held.sent_at = sent_at;
                Ok(())
            }
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Err(LeaseError::Lost {
                shard: held.shard,
                ours: held.revision,
            }),
            Err(e) => Err(nats(e)),
        }
    }

    /// Gives the shard back (a delete at this node's revision), so the next
    /// owner need not wait for the lease to lapse.
    pub async fn release(&self, held: Held) -> Result<(), LeaseError> {
        self.kv
            .delete_expect_revision(Self::key(held.shard).as_str(), Some(held.revision))
            .await
            .map_err(|e| match e.kind() {
                kv::DeleteErrorKind::WrongLastRevision => LeaseError::Lost {
                    shard: held.shard,
                    ours: held.revision,
                },
                _ => nats(e),
            })
    }

    /// This node's lease length.
    pub fn lease(&self) -> Duration {
        self.lease
    }
}
