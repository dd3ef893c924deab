//! The offers of SKUs (price, currency, product, seller) as placing an
//! order reads them, kept in memory: a drop places thousands of orders a
//! second on one SKU whose offer does not change between them.
//!
//! Every product write through the same [`Store`](super::Store) empties
//! the cache, and a generation counter keeps a read that overlapped such a
//! write from putting the old offer back. Entries also expire after
//! [`OFFER_TTL`], which bounds how long a price changed by another node
//! goes unseen here.

use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::orders::SkuOffer;
use crate::domain::ids::SkuId;

pub const OFFER_TTL: Duration = Duration::from_secs(1);
/// Beyond this many SKUs the cache starts over rather than grow.
const MAX_OFFERS: usize = 100_000;

#[derive(Debug, Default)]
pub struct OfferCache {
    generation: AtomicU64,
    entries: DashMap<SkuId, (Instant, SkuOffer)>,
}

impl OfferCache {
    /// Read before loading from the database; hand it back to `put`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, sku: SkuId) -> Option<SkuOffer> {
        let entry = self.entries.get(&sku)?;
        (entry.0.elapsed() < OFFER_TTL).then(|| entry.1.clone())
    }

    /// Keeps `offer` unless a product write happened since `seen`.
    pub fn put(&self, seen: u64, offer: SkuOffer) {
        if self.generation() != seen {
            return;
        }
        if self.entries.len() >= MAX_OFFERS {
            self.entries.clear();
        }
        let sku = offer.sku;
        self.entries.insert(sku, (Instant::now(), offer));
        // An invalidation that ran between the check and the insert wins.
        if self.generation() != seen {
            self.entries.remove(&sku);
        }
    }

    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }
}
