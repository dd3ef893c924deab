//! The offers of SKUs (price, currency, product, seller) as placing an
//! order reads them, kept in memory: a drop places thousands of orders a
//! second on one SKU whose offer does not change between them.
//!
//! Every product write through the same [`Store`](super::Store) empties
//! the cache, and its generation keeps a read that overlapped such a write
//! from putting the old offer back (see [`guarded_cache`](super::guarded_cache)).
//! Entries also expire after [`OFFER_TTL`], which bounds how long a price
//! changed behind this process's back (by hand in SQL) goes unseen here.
//!
//! The TTL was 1 s: in a drop of 1,000 SKUs opening at once every SKU's
//! offer was read again each second, 1,000 joins a second on the purchase
//! path (0.48 statements per purchase against 0.02 on one SKU; the README's
//! "Half a second").

use std::time::Duration;

use super::guarded_cache::{Generation, GuardedCache};
use super::orders::SkuOffer;
use crate::domain::ids::SkuId;

pub const OFFER_TTL: Duration = Duration::from_secs(30);
/// Beyond this many SKUs a fill evicts another rather than grow.
const MAX_OFFERS: usize = 100_000;

#[derive(Debug)]
pub struct OfferCache {
    entries: GuardedCache<SkuId, SkuOffer>,
}

impl Default for OfferCache {
    fn default() -> Self {
        Self {
            entries: GuardedCache::new(MAX_OFFERS).expiring_after(OFFER_TTL),
        }
    }
}

impl OfferCache {
    /// Read before loading from the database; hand it back to `put`.
    pub fn generation(&self) -> Generation {
        self.entries.generation()
    }

    pub fn get(&self, sku: SkuId) -> Option<SkuOffer> {
        self.entries.get(&sku)
    }

    /// Keeps `offer` unless a product write happened since `seen`.
    pub fn put(&self, seen: Generation, offer: SkuOffer) {
        self.entries.put(seen, offer.sku, offer);
    }

    pub fn invalidate(&self) {
        self.entries.invalidate_all();
    }
}
