//! Which shard a SKU or an order belongs to, and which live node should
//! own each shard (issue 16). Every node computes the same answers from the
//! same inputs, so placing needs no coordination; only taking a shard does
//! (`cluster::lease`).
//!
//! Owners are chosen by rendezvous hashing: each shard goes to the live
//! node with the highest score for it. When a node leaves, only its shards
//! move; when one joins, it takes about a share of 1/N from the others.

use std::fmt;
use std::num::NonZeroU32;

use sha2::{Digest, Sha256};

use super::ValidationError;
use super::counter::Target;
use super::ids::{OrderId, SkuId};

/// Shards are fixed for the life of a database: a SKU's shard must not
/// move when nodes come and go. 4096 is far beyond any sensible count.
const MAX_SHARDS: u32 = 4096;

/// How many shards there are (`STAMPEDE_CLUSTER_SHARDS`, default 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardCount(NonZeroU32);

impl Default for ShardCount {
    fn default() -> Self {
        Self(NonZeroU32::MIN.saturating_add(63))
    }
}

impl ShardCount {
    pub fn new(count: u32) -> Result<Self, ValidationError> {
        match NonZeroU32::new(count) {
            Some(n) if count <= MAX_SHARDS => Ok(Self(n)),
            _ => Err(ValidationError::new(
                "cluster_shards",
                format!("must be from 1 to {MAX_SHARDS}"),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// SKU ids are assigned in sequence, so the remainder spreads a
    /// product's SKUs over consecutive shards.
    pub fn of_sku(self, sku: SkuId) -> ShardId {
        ShardId(sku.get().rem_euclid(i64::from(self.get())) as u32)
    }

    /// Order ids are UUIDv5, uniformly spread already.
    pub fn of_order(self, order: OrderId) -> ShardId {
        ShardId((order.as_u128() % u128::from(self.get())) as u32)
    }

    /// A counter's target: each kind's ids spread over every shard like
    /// SKU ids, each kind shifted by its own offset so that post 7 and
    /// account 7 need not share a shard.
    pub fn of_counter(self, target: Target) -> ShardId {
        const SHIFT: i128 = 1_000_003;
        let (id, kind) = match target {
            Target::Post(id) => (id.get(), 0),
            Target::Comment(id) => (id.get(), 1),
            Target::Account(id) => (id.get(), 2),
        };
        let spread = (i128::from(id) + kind * SHIFT).rem_euclid(i128::from(self.get()));
        ShardId(spread as u32)
    }

    pub fn all(self) -> impl Iterator<Item = ShardId> {
        (0..self.get()).map(ShardId)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(u32);

impl ShardId {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A node's name (`STAMPEDE_NODE_ID`): it appears in NATS subjects and KV
/// keys, so only letters, digits, `-` and `_`, at most 64 of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(String);

impl NodeId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(ValidationError::new(
                "node_id",
                "1 to 64 letters, digits, '-' or '_'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A node's score for a shard: the first 8 bytes of SHA-256 over both, so
/// every build and platform agrees (std's hasher promises neither).
fn score(node: &NodeId, shard: ShardId) -> u64 {
    let mut h = Sha256::new();
    h.update(node.0.as_bytes());
    h.update([0]);
    h.update(shard.0.to_be_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first)
}

/// The live node that should own `shard`: the highest score, ties broken
/// by name. `None` when no node is live.
pub fn owner_of(shard: ShardId, live: &[NodeId]) -> Option<&NodeId> {
    live.iter().max_by(|a, b| {
        score(a, shard)
            .cmp(&score(b, shard))
            .then_with(|| a.0.cmp(&b.0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(names: &[&str]) -> Vec<NodeId> {
        names.iter().map(|n| NodeId::parse(n).unwrap()).collect()
    }

    fn assignment(count: ShardCount, live: &[NodeId]) -> Vec<NodeId> {
        count
            .all()
            .map(|s| owner_of(s, live).unwrap().clone())
            .collect()
    }

    #[test]
    fn shard_counts_out_of_range_are_refused() {
        assert!(ShardCount::new(0).is_err());
        assert!(ShardCount::new(MAX_SHARDS + 1).is_err());
        assert_eq!(ShardCount::new(64).unwrap(), ShardCount::default());
    }

    #[test]
    fn skus_and_orders_land_inside_the_count() {
        let count = ShardCount::new(7).unwrap();
        for id in [-9, -1, 0, 1, 6, 7, 1_000_003] {
            assert!(count.of_sku(SkuId::new(id)).get() < 7);
        }
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..200 {
            let order = OrderId::derive(crate::domain::ids::UserId::new(1), &k.to_string());
            let shard = count.of_order(order);
            assert!(shard.get() < 7);
            assert_eq!(shard, count.of_order(order), "the same every time");
            seen.insert(shard);
        }
        assert_eq!(seen.len(), 7, "200 orders reach every one of 7 shards");
    }

    #[test]
    fn counters_of_every_kind_reach_every_shard() {
        use crate::domain::ids::{CommentId, PostId, UserId};
        for n in [1, 3, 6, 64] {
            let count = ShardCount::new(n).unwrap();
            let kinds: [fn(i64) -> Target; 3] = [
                |i| Target::Post(PostId::new(i)),
                |i| Target::Comment(CommentId::new(i)),
                |i| Target::Account(UserId::new(i)),
            ];
            for kind in kinds {
                let seen: std::collections::BTreeSet<_> =
                    (-5..200).map(|i| count.of_counter(kind(i))).collect();
                assert_eq!(seen.len() as u32, n, "one kind over {n} shards");
            }
        }
    }

    #[test]
    fn node_ids_are_safe_in_subjects_and_keys() {
        for bad in ["", "a.b", "a b", "a*", "a>", &"x".repeat(65)] {
            assert!(NodeId::parse(bad).is_err(), "{bad:?}");
        }
        for good in ["node-1", "eu_west_2", "A9"] {
            assert_eq!(NodeId::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn no_live_node_owns_nothing() {
        assert_eq!(owner_of(ShardId(0), &[]), None);
    }

    #[test]
    fn the_owner_does_not_depend_on_the_order_nodes_are_listed_in() {
        let count = ShardCount::default();
        let a = nodes(&["n1", "n2", "n3"]);
        let b = nodes(&["n3", "n1", "n2"]);
        assert_eq!(assignment(count, &a), assignment(count, &b));
    }

    #[test]
    fn shards_spread_over_the_nodes() {
        let count = ShardCount::default();
        let live = nodes(&["n1", "n2", "n3"]);
        let owners = assignment(count, &live);
        for n in &live {
            let mine = owners.iter().filter(|o| *o == n).count();
            // 64 shards over 3 nodes: about 21 each.
            assert!((10..=32).contains(&mine), "{n} owns {mine} of 64");
        }
    }

    #[test]
    fn a_node_leaving_moves_only_its_own_shards() {
        let count = ShardCount::default();
        let before = assignment(count, &nodes(&["n1", "n2", "n3"]));
        let after = assignment(count, &nodes(&["n1", "n3"]));
        for (b, a) in before.iter().zip(&after) {
            if b.as_str() != "n2" {
                assert_eq!(a, b, "a shard of a node that stayed moved");
            }
        }
    }

    #[test]
    fn a_node_joining_takes_shards_only_for_itself() {
        let count = ShardCount::default();
        let before = assignment(count, &nodes(&["n1", "n2"]));
        let after = assignment(count, &nodes(&["n1", "n2", "n3"]));
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        assert!(moved > 0);
        for (b, a) in before.iter().zip(&after) {
            if b != a {
                assert_eq!(a.as_str(), "n3", "a shard moved between old nodes");
            }
        }
    }
}
