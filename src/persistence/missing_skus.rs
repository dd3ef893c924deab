//! SKU ids the store has answered "no such SKU" for, remembered so that a
//! client asking about an unknown id again and again costs neither an actor
//! activation nor a database read each time.
//!
//! Creating a SKU through the [`Store`](super::Store) forgets its id at
//! once, and the cache's generation keeps a lookup that overlapped the
//! creation from remembering the id as missing (see
//! [`guarded_cache`](super::guarded_cache)). Entries also expire after
//! [`MISSING_TTL`], which bounds how long a SKU written by other means (a
//! restored backup, another node) stays unseen here.

use std::time::Duration;

use super::guarded_cache::{Generation, GuardedCache};
use crate::domain::ids::SkuId;

pub const MISSING_TTL: Duration = Duration::from_secs(30);
/// Beyond this many ids a new one evicts another rather than grow.
const MAX_MISSING: usize = 100_000;

#[derive(Debug)]
pub struct MissingSkus {
    ids: GuardedCache<SkuId, ()>,
}

impl Default for MissingSkus {
    fn default() -> Self {
        Self {
            ids: GuardedCache::new(MAX_MISSING).expiring_after(MISSING_TTL),
        }
    }
}

impl MissingSkus {
    /// Read before looking the SKU up; hand it back to `put`.
    pub fn generation(&self) -> Generation {
        self.ids.generation()
    }

    /// True when the store recently said `sku` does not exist.
    pub fn contains(&self, sku: SkuId) -> bool {
        self.ids.get(&sku).is_some()
    }

    /// Remembers `sku` as missing unless a SKU was created since `seen`.
    pub fn put(&self, seen: Generation, sku: SkuId) {
        self.ids.put(seen, sku, ());
    }

    /// Call after `sku` was created (committed).
    pub fn forget(&self, sku: SkuId) {
        self.ids.remove(&sku);
    }

    /// Call when SKUs may have been created elsewhere (another node).
    pub fn forget_all(&self) {
        self.ids.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_sku_is_forgotten_and_a_racing_lookup_dropped() {
        let missing = MissingSkus::default();
        let sku = SkuId::new(7);
        missing.put(missing.generation(), sku);
        assert!(missing.contains(sku));
        missing.forget(sku);
        assert!(!missing.contains(sku));
        // A lookup that began before the creation found nothing, but must
        // not remember that.
        let before = missing.generation();
        missing.forget(SkuId::new(8));
        missing.put(before, SkuId::new(8));
        assert!(!missing.contains(SkuId::new(8)));
    }
}
