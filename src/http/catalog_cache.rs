//! In-process cache of catalog reads: product records (without live
//! availability, which always comes from the SKU actors) and listing pages.
//!
//! Every catalog write invalidates after it commits. A read that raced a
//! write must not put the old rows back, so each fill carries the generation
//! it started in and is dropped if a write happened since; the check and the
//! insert happen under the same lock the write takes to invalidate.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

use crate::domain::catalog::{Product, ProductFilter};
use crate::domain::ids::ProductId;
use crate::domain::page::PageRequest;
use crate::persistence::ProductPage;

/// Bounds that keep memory small whatever the catalog size. Typical entries
/// take a few KB; even if every one were as large as the limits allow (5000
/// characters of description, 100 SKUs, 100-item pages) the cache would stay
/// near 100 MB. Drops are hot on a few products, which is what this serves.
const MAX_PRODUCTS: usize = 1_024;
const MAX_PAGES: usize = 256;

pub type PageKey = (ProductFilter, PageRequest);

/// A point in the cache's history; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

#[derive(Default)]
pub struct CatalogCache {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    products: HashMap<ProductId, Arc<Product>>,
    pages: HashMap<PageKey, Arc<ProductPage>>,
}

impl CatalogCache {
    /// Read before loading from the store; hand it back to `put_*`.
    pub fn generation(&self) -> Generation {
        Generation(self.read().generation)
    }

    pub fn product(&self, id: ProductId) -> Option<Arc<Product>> {
        self.read().products.get(&id).cloned()
    }

    pub fn page(&self, key: &PageKey) -> Option<Arc<ProductPage>> {
        self.read().pages.get(key).cloned()
    }

    pub fn put_product(&self, seen: Generation, product: Arc<Product>) {
        let mut inner = self.write();
        if inner.generation == seen.0 {
            insert_bounded(&mut inner.products, product.id, product, MAX_PRODUCTS);
        }
    }

    pub fn put_page(&self, seen: Generation, key: PageKey, page: Arc<ProductPage>) {
        let mut inner = self.write();
        if inner.generation == seen.0 {
            insert_bounded(&mut inner.pages, key, page, MAX_PAGES);
        }
    }

    /// Call after a write to `id` commits: forgets the product and every
    /// listing page (any of them may show it, or should now).
    pub fn invalidate(&self, id: ProductId) {
        let mut inner = self.write();
        inner.generation += 1;
        inner.products.remove(&id);
        inner.pages.clear();
    }

    /// Call after a new product commits: only listings can change.
    pub fn invalidate_listings(&self) {
        let mut inner = self.write();
        inner.generation += 1;
        inner.pages.clear();
    }

    // A panic while holding the lock cannot leave the maps half-updated in a
    // way that matters (every entry is a complete record), so poisoning is
    // ignored rather than turned into a panic per request.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Inserts, evicting an arbitrary entry when full: the cache only has to stay
/// bounded, and a hot entry evicted by chance is refilled by its next read.
fn insert_bounded<K: Eq + Hash + Clone, V>(map: &mut HashMap<K, V>, key: K, value: V, max: usize) {
    if map.len() >= max
        && !map.contains_key(&key)
        && let Some(victim) = map.keys().next().cloned()
    {
        map.remove(&victim);
    }
    map.insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UserId;
    use crate::domain::time::Timestamp;

    fn product(id: i64) -> Arc<Product> {
        Arc::new(Product {
            id: ProductId(id),
            seller_id: UserId(1),
            name: "Phone".into(),
            description: None,
            category: "phones".into(),
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            skus: Vec::new(),
        })
    }

    #[test]
    fn a_fill_that_raced_a_write_is_dropped() {
        let cache = CatalogCache::default();
        let before = cache.generation();
        cache.invalidate(ProductId(1));
        cache.put_product(before, product(1));
        assert!(cache.product(ProductId(1)).is_none());
        cache.put_product(cache.generation(), product(1));
        assert!(cache.product(ProductId(1)).is_some());
    }

    #[test]
    fn writes_forget_the_product_and_every_page() {
        let cache = CatalogCache::default();
        let key = (
            ProductFilter::default(),
            PageRequest::new(None, None).expect("page"),
        );
        let page = Arc::new(ProductPage {
            items: Vec::new(),
            total: 0,
        });
        cache.put_page(cache.generation(), key.clone(), page);
        cache.put_product(cache.generation(), product(2));
        cache.invalidate_listings();
        assert!(cache.page(&key).is_none());
        assert!(cache.product(ProductId(2)).is_some());
        cache.invalidate(ProductId(2));
        assert!(cache.product(ProductId(2)).is_none());
    }

    #[test]
    fn stays_bounded() {
        let cache = CatalogCache::default();
        for id in 0..(MAX_PRODUCTS as i64 + 50) {
            cache.put_product(cache.generation(), product(id));
        }
        assert_eq!(cache.read().products.len(), MAX_PRODUCTS);
    }
}
