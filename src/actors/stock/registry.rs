//! Which SKU actors are alive, and their counters. The map is the only
//! shared structure on the hot path; guards are never held across `.await`.

use dashmap::DashMap;
use ractor::{ActorId, ActorRef};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};

use super::intake::Intake;
use super::live::SkuLive;
use super::sku::SkuMsg;
use crate::domain::ids::SkuId;

/// Counters of one SKU actor, shared by the actor, the persister and the
/// admin views. They survive restarts (not passivation).
#[derive(Debug, Default)]
pub struct SkuStats {
    /// Messages sent and not yet handled: the mailbox depth.
    pub in_flight: AtomicI64,
    /// Changes handed to the persister and not yet committed.
    pub unflushed: AtomicI64,
    pub restarts: AtomicU64,
    /// When this SKU's changes were last committed (ms since epoch, 0 = never).
    pub last_flush_ms: AtomicI64,
    /// How many of this SKU's changes that commit carried.
    pub last_flush_size: AtomicU64,
    pub activated_ms: AtomicI64,
    /// The store refuses this SKU's changes: the persister holds them apart
    /// and the actor refuses new decisions until they commit.
    pub held: AtomicBool,
    /// Levels, sale window and purchases by outcome, for the control room.
    pub live: SkuLive,
}

/// How SKU actor activations went, over every SKU: each one is a store
/// read, so an unknown id asked about again must not add one each time.
#[derive(Debug, Default)]
pub struct Activations {
    /// The SKU was found and its ledger loaded.
    pub loaded: AtomicU64,
    /// The store has no such SKU.
    pub unknown: AtomicU64,
    /// The load failed (store or persister unavailable).
    pub failed: AtomicU64,
}

#[derive(Clone)]
pub struct SkuEntry {
    pub actor: ActorRef<SkuMsg>,
    pub stats: Arc<SkuStats>,
    /// This incarnation's reserve queue.
    pub intake: Arc<Intake>,
}

#[derive(Clone, Default)]
pub struct Registry {
    skus: Arc<DashMap<SkuId, SkuEntry>>,
    activations: Arc<Activations>,
}

impl Registry {
    pub fn activations(&self) -> &Activations {
        &self.activations
    }

    pub fn get(&self, sku: SkuId) -> Option<SkuEntry> {
        self.skus.get(&sku).map(|e| e.value().clone())
    }

    /// Runs `f` on `sku`'s entry without cloning it (the hot path: no
    /// reference counts touched). `f` must not block or await.
    pub fn with<R>(&self, sku: SkuId, f: impl FnOnce(&SkuEntry) -> R) -> Option<R> {
        self.skus.get(&sku).map(|e| f(e.value()))
    }

    pub fn insert(&self, sku: SkuId, entry: SkuEntry) {
        self.skus.insert(sku, entry);
    }

    /// Removes `sku` only if `actor` still owns it, so a stale actor can
    /// never unregister its successor.
    pub fn remove_if_owner(&self, sku: SkuId, actor: ActorId) -> Option<SkuEntry> {
        self.skus
            .remove_if(&sku, |_, e| e.actor.get_id() == actor)
            .map(|(_, e)| e)
    }

    /// Forgets every actor (after the persister restarted and all SKU
    /// actors were stopped).
    pub fn clear(&self) {
        self.skus.clear();
    }

    pub fn len(&self) -> usize {
        self.skus.len()
    }

    pub fn is_empty(&self) -> bool {
        self.skus.is_empty()
    }

    /// Visits every active SKU (no guard is held by the caller afterwards).
    pub fn for_each(&self, mut visit: impl FnMut(SkuId, &SkuStats)) {
        for e in self.skus.iter() {
            visit(*e.key(), &e.value().stats);
        }
    }

    /// The active SKUs `pick` selects, with their entries.
    pub fn select(&self, pick: impl Fn(SkuId) -> bool) -> Vec<(SkuId, SkuEntry)> {
        self.skus
            .iter()
            .filter(|e| pick(*e.key()))
            .map(|e| (*e.key(), e.value().clone()))
            .collect()
    }

    /// Sums a counter over every active SKU.
    pub fn total(&self, pick: impl Fn(&SkuStats) -> i64) -> i64 {
        self.skus.iter().map(|e| pick(&e.value().stats)).sum()
    }
}
