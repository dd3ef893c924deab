//! A bounded in-memory map whose fills cannot undo an invalidation.
//!
//! A cache in front of the database is filled by a read that takes time,
//! while a write may commit and invalidate meanwhile; the read then holds
//! the old rows and must not put them back. So each invalidation moves a
//! [`Generation`] on, a reader notes the generation before it loads, and
//! [`GuardedCache::put`] keeps the value only if the generation has not
//! moved since. The check and the insert happen under the lock of the
//! entry's shard, the same lock the invalidation's removal then takes, so a
//! fill either lands before the invalidation (which then removes it) or sees
//! the moved generation and is dropped.
//!
//! Caches whose invalidations must guard each other's fills share one
//! counter ([`GuardedCache::sharing_generation_with`]). Entries can also
//! expire after a TTL, and the map never holds more than its bound (give or
//! take fills racing each other): a fill into a full map evicts an arbitrary
//! entry, which its next read refills if it was hot.

use dashmap::DashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A point in a cache's history of invalidations: read it before loading,
/// hand it back to [`GuardedCache::put`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

struct Slot<V> {
    filled_at: Instant,
    value: V,
}

pub struct GuardedCache<K, V> {
    generation: Arc<AtomicU64>,
    entries: DashMap<K, Slot<V>>,
    max_entries: usize,
    ttl: Option<Duration>,
}

impl<K: Eq + Hash + Clone, V: Clone> GuardedCache<K, V> {
    /// An empty cache of at most `max_entries` entries (at least one), with
    /// its own generation and no expiry.
    pub fn new(max_entries: usize) -> Self {
        Self {
            generation: Arc::default(),
            entries: DashMap::new(),
            max_entries: max_entries.max(1),
            ttl: None,
        }
    }

    /// Entries are no longer answered once `ttl` has passed since their fill.
    pub fn expiring_after(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Shares `other`'s generation: an invalidation of either cache drops
    /// the fills in flight of both.
    pub fn sharing_generation_with<K2, W>(mut self, other: &GuardedCache<K2, W>) -> Self {
        self.generation = Arc::clone(&other.generation);
        self
    }

    /// Read before loading from the store; hand it back to `put`.
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let slot = self.entries.get(key)?;
        let fresh = self.ttl.is_none_or(|ttl| slot.filled_at.elapsed() < ttl);
        fresh.then(|| slot.value.clone())
    }

    /// Keeps `value` under `key` unless an invalidation happened since
    /// `seen` was read.
    pub fn put(&self, seen: Generation, key: K, value: V) {
        if self.generation() != seen {
            return;
        }
        self.make_room_for(&key);
        // Checked again holding the shard's lock, which every removal takes
        // too: an invalidation either moved the generation before this check
        // (the fill is dropped) or removes the entry after it.
        let entry = self.entries.entry(key);
        if self.generation() == seen {
            entry.insert(Slot {
                filled_at: Instant::now(),
                value,
            });
        }
    }

    /// Forgets `key` and drops every fill in flight.
    pub fn remove(&self, key: &K) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(key);
    }

    /// Forgets everything and drops every fill in flight.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }

    /// Entries held, expired ones included until they are replaced.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Evicts an arbitrary entry when full and `key` is not already held.
    /// Runs before the fill takes its shard's lock: iterating while holding
    /// it could wait on that very lock.
    fn make_room_for(&self, key: &K) {
        if self.entries.len() < self.max_entries || self.entries.contains_key(key) {
            return;
        }
        let victim = self.entries.iter().next().map(|e| e.key().clone());
        if let Some(victim) = victim {
            self.entries.remove(&victim);
        }
    }
}

impl<K, V> fmt::Debug for GuardedCache<K, V>
where
    K: Eq + Hash,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedCache")
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .field("entries", &self.entries.len())
            .field("max_entries", &self.max_entries)
            .field("ttl", &self.ttl)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::thread;

    #[test]
    fn a_fill_that_raced_an_invalidation_is_dropped() {
        let cache = GuardedCache::new(8);
        let before = cache.generation();
        cache.invalidate_all();
        cache.put(before, 1, "old");
        assert_eq!(cache.get(&1), None);

        let before = cache.generation();
        cache.remove(&2);
        cache.put(before, 1, "old");
        assert_eq!(cache.get(&1), None);

        cache.put(cache.generation(), 1, "new");
        assert_eq!(cache.get(&1), Some("new"));
    }

    #[test]
    fn remove_forgets_one_key_and_invalidate_all_every_key() {
        let cache = GuardedCache::new(8);
        cache.put(cache.generation(), 1, "a");
        cache.put(cache.generation(), 2, "b");
        cache.remove(&1);
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&2), Some("b"));
        cache.invalidate_all();
        assert_eq!(cache.get(&2), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_shared_generation_guards_both_caches() {
        let products = GuardedCache::new(8);
        let pages = GuardedCache::new(8).sharing_generation_with(&products);
        let before = products.generation();
        assert_eq!(pages.generation(), before);
        pages.invalidate_all();
        products.put(before, 1, "stale");
        assert_eq!(products.get(&1), None);
        let before = pages.generation();
        products.remove(&7);
        pages.put(before, "page", 1);
        assert_eq!(pages.get(&"page"), None);
    }

    #[test]
    fn stays_bounded() {
        let cache = GuardedCache::new(10);
        for key in 0..60 {
            cache.put(cache.generation(), key, key);
            assert!(cache.len() <= 10);
        }
        assert_eq!(cache.len(), 10);
        // Replacing a held key evicts nothing.
        let held = (0..60).find(|k| cache.get(k).is_some()).expect("a key");
        cache.put(cache.generation(), held, -1);
        assert_eq!(cache.len(), 10);
        assert_eq!(cache.get(&held), Some(-1));
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let ttl = Duration::from_millis(50);
        let cache = GuardedCache::new(8).expiring_after(ttl);
        cache.put(cache.generation(), 1, "a");
        assert_eq!(cache.get(&1), Some("a"));
        thread::sleep(ttl + Duration::from_millis(10));
        assert_eq!(cache.get(&1), None);
        // A fresh fill is answered again.
        cache.put(cache.generation(), 1, "b");
        assert_eq!(cache.get(&1), Some("b"));
    }

    #[test]
    fn no_entry_is_forever_without_a_ttl() {
        let cache = GuardedCache::new(8);
        cache.put(cache.generation(), 1, "a");
        thread::sleep(Duration::from_millis(20));
        assert_eq!(cache.get(&1), Some("a"));
    }

    /// Readers fill with the version they loaded while a writer keeps
    /// publishing versions and invalidating: once everyone has stopped, the
    /// cache never answers a version older than the last one published.
    #[test]
    fn racing_fills_never_outlive_a_later_invalidation() {
        let cache = Arc::new(GuardedCache::new(4));
        let version = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (cache, version, stop) = (cache.clone(), version.clone(), stop.clone());
                thread::spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        let seen = cache.generation();
                        let loaded = version.load(Ordering::Acquire);
                        thread::yield_now();
                        cache.put(seen, 0, loaded);
                    }
                })
            })
            .collect();
        for round in 0..2_000u32 {
            version.fetch_add(1, Ordering::AcqRel);
            if round.is_multiple_of(2) {
                cache.remove(&0);
            } else {
                cache.invalidate_all();
            }
            if let Some(cached) = cache.get(&0) {
                assert_eq!(cached, version.load(Ordering::Acquire));
            }
        }
        stop.store(true, Ordering::Release);
        for reader in readers {
            reader.join().expect("reader");
        }
        if let Some(cached) = cache.get(&0) {
            assert_eq!(cached, version.load(Ordering::Acquire));
        }
    }
}
