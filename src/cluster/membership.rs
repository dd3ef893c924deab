//! Which nodes are live. Each node writes its own key `node.<id>` every
//! third of a lease (its heartbeat), and the key `roster` lists the nodes
//! that joined (changed only by compare-and-set, so no join or removal is
//! lost). A node is live, as this node sees it, until its heartbeat has not
//! moved for a whole lease on this node's clock; then any node removes it
//! from the roster. A node that stops cleanly leaves the roster itself, and
//! its shards move at once.
//!
//! The roster spares listing the bucket's keys: listing needs a consumer,
//! and every call used here is a plain read or a conditional write.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;

use super::bucket;
use super::error::{LeaseError, nats};
use super::sightings::Sightings;
use crate::domain::shard::NodeId;

const ROSTER: &str = "roster";

pub struct Membership {
    kv: kv::Store,
    me: NodeId,
    lease: Duration,
    heartbeats: Sightings<NodeId>,
}

impl Membership {
    pub async fn open(
        js: &jetstream::Context,
        bucket_name: &str,
        me: NodeId,
        lease: Duration,
    ) -> Result<Self, LeaseError> {
        Ok(Self {
            kv: bucket::open(js, bucket_name).await?,
            me,
            lease,
            heartbeats: Sightings::default(),
        })
    }

    fn key(node: &NodeId) -> String {
        format!("node.{node}")
    }

    /// Beats once and puts this node on the roster.
    pub async fn join(&mut self) -> Result<(), LeaseError> {
        self.heartbeat().await?;
        let me = self.me.clone();
        self.change_roster(|nodes| nodes.insert(me.clone())).await
    }

    /// Writes this node's heartbeat.
    pub async fn heartbeat(&self) -> Result<(), LeaseError> {
        let lease_ms = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX);
        self.kv
            .put(Self::key(&self.me), Bytes::from(lease_ms.to_string()))
            .await
            .map(drop)
            .map_err(nats)
    }

    /// The live nodes, this one included, in name order. Nodes whose
    /// heartbeat lapsed are taken off the roster on the way.
    pub async fn live(&mut self) -> Result<Vec<NodeId>, LeaseError> {
        let (roster, _) = self.roster().await?;
        // Taken off while it was slow to beat: back on, it is alive.
        if !roster.contains(&self.me) {
            let me = self.me.clone();
            self.change_roster(|nodes| nodes.insert(me.clone())).await?;
        }
        let mut live = Vec::new();
        let mut dead = Vec::new();
        for node in roster {
            if node == self.me {
                live.push(node);
                continue;
            }
            let beat = self.kv.entry(Self::key(&node)).await.map_err(nats)?;
            let alive = match beat {
                Some(e) if e.operation == kv::Operation::Put => {
                    let lease = std::str::from_utf8(&e.value)
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .map_or(self.lease, Duration::from_millis);
                    self.heartbeats.still_for(node.clone(), e.revision) < lease
                }
                _ => false,
            };
            if alive {
                live.push(node);
            } else {
                dead.push(node);
            }
        }
        if !dead.is_empty() {
            for node in &dead {
                tracing::warn!(%node, "a node's heartbeat lapsed: its shards move");
                self.heartbeats.forget(node);
            }
            self.change_roster(|nodes| {
                let mut changed = false;
                for node in &dead {
                    changed |= nodes.remove(node);
                }
                changed
            })
            .await?;
        }
        if !live.contains(&self.me) {
            live.push(self.me.clone());
            live.sort();
        }
        Ok(live)
    }

    /// Takes this node off the roster and deletes its heartbeat: the
    /// others move its shards at once.
    pub async fn leave(&self) -> Result<(), LeaseError> {
        let me = self.me.clone();
        self.change_roster(|nodes| nodes.remove(&me)).await?;
        self.kv.delete(Self::key(&self.me)).await.map_err(nats)
    }

    async fn roster(&self) -> Result<(BTreeSet<NodeId>, u64), LeaseError> {
        match self.kv.entry(ROSTER).await.map_err(nats)? {
            Some(e) if e.operation == kv::Operation::Put => {
                let names: Vec<String> = serde_json::from_slice(&e.value).map_err(nats)?;
                let nodes = names
                    .iter()
                    .map(|n| NodeId::parse(n).map_err(nats))
                    .collect::<Result<_, _>>()?;
                Ok((nodes, e.revision))
            }
            Some(e) => Ok((BTreeSet::new(), e.revision)),
            None => Ok((BTreeSet::new(), 0)),
        }
    }

    /// Applies `change` to the roster by compare-and-set, again on a
    /// conflict; nothing is written when it changes nothing.
    async fn change_roster(
        &self,
        change: impl Fn(&mut BTreeSet<NodeId>) -> bool,
    ) -> Result<(), LeaseError> {
        loop {
            let (mut nodes, revision) = self.roster().await?;
            if !change(&mut nodes) {
                return Ok(());
            }
            let names: Vec<&str> = nodes.iter().map(NodeId::as_str).collect();
            let value = Bytes::from(serde_json::to_vec(&names).map_err(nats)?);
            match self.kv.update(ROSTER, value, revision).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(nats(e)),
            }
        }
    }
}
