//! Which counter actors are alive, and their counters. Guards are never
//! held across `.await`.

use dashmap::DashMap;
use ractor::{ActorId, ActorRef};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};

use super::counter::CounterMsg;
use crate::domain::counter::Target;

/// Counters of one target's actor, shared by the actor, the writer and the
/// admin view. They survive restarts (not passivation).
#[derive(Debug, Default)]
pub struct CounterStats {
    /// Requests sent and not yet handled: the mailbox depth.
    pub in_flight: AtomicI64,
    /// Changes handed to the writer and not yet committed.
    pub unflushed: AtomicI64,
    pub restarts: AtomicU64,
    /// The store refuses this target's changes: the writer holds them
    /// apart and the actor refuses new decisions until they commit.
    pub held: AtomicBool,
}

#[derive(Clone)]
pub struct CounterEntry {
    pub actor: ActorRef<CounterMsg>,
    pub stats: Arc<CounterStats>,
}

#[derive(Clone, Default)]
pub struct Registry {
    actors: Arc<DashMap<Target, CounterEntry>>,
}

impl Registry {
    pub fn get(&self, target: Target) -> Option<CounterEntry> {
        self.actors.get(&target).map(|e| e.value().clone())
    }

    pub fn insert(&self, target: Target, entry: CounterEntry) {
        self.actors.insert(target, entry);
    }

    /// Removes `target` only if `actor` still owns it, so a stale actor
    /// can never unregister its successor.
    pub fn remove_if_owner(&self, target: Target, actor: ActorId) -> Option<CounterEntry> {
        self.actors
            .remove_if(&target, |_, e| e.actor.get_id() == actor)
            .map(|(_, e)| e)
    }

    pub fn remove(&self, target: Target) -> Option<CounterEntry> {
        self.actors.remove(&target).map(|(_, e)| e)
    }

    /// Forgets every actor (after the writer restarted and all counter
    /// actors were stopped).
    pub fn clear(&self) {
        self.actors.clear();
    }

    /// The live actors of the targets `pick` selects.
    pub fn select(&self, pick: impl Fn(Target) -> bool) -> Vec<(Target, CounterEntry)> {
        self.actors
            .iter()
            .filter(|e| pick(*e.key()))
            .map(|e| (*e.key(), e.value().clone()))
            .collect()
    }

    /// The live actors of comments (a deleted post's comments must go).
    pub fn comment_actors(&self) -> Vec<ActorRef<CounterMsg>> {
        self.actors
            .iter()
            .filter(|e| matches!(e.key(), Target::Comment(_)))
            .map(|e| e.value().actor.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.actors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actors.is_empty()
    }

    /// Sums a counter over every active target.
    pub fn total(&self, pick: impl Fn(&CounterStats) -> i64) -> i64 {
        self.actors.iter().map(|e| pick(&e.value().stats)).sum()
    }
}
