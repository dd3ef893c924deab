//! How long a key has stood still, on this node's own clock. Nodes share
//! no clock, so a lease or a heartbeat lapses when its key's revision has
//! not moved for a whole lease since this node first saw that revision.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

pub struct Sightings<K> {
    seen: HashMap<K, (u64, Instant)>,
}

impl<K> Default for Sightings<K> {
    fn default() -> Self {
        Self {
            seen: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq> Sightings<K> {
    /// How long `key` has been at `revision` as seen from here: zero the
    /// first time this revision is seen.
    pub fn still_for(&mut self, key: K, revision: u64) -> Duration {
        match self.seen.get(&key) {
            Some(&(seen, at)) if seen == revision => at.elapsed(),
            _ => {
                self.seen.insert(key, (revision, Instant::now()));
                Duration::ZERO
            }
        }
    }

    pub fn forget(&mut self, key: &K) {
        self.seen.remove(key);
    }
}
