//! In-process cache of catalog reads: product records (without live
//! availability, which always comes from the SKU actors) and listing pages.
//!
//! Every catalog write invalidates after it commits. A read that raced a
//! write must not put the old rows back, so each fill carries the generation
//! it started in and is dropped if a write happened since. Products and
//! pages are two [`GuardedCache`]s sharing one generation, so any write
//! drops the fills in flight of both. On a cluster node every invalidation
//! is also told to the other nodes (`peers`).

use std::sync::Arc;

use super::peers::{Note, Peers};
use crate::domain::catalog::{Product, ProductFilter};
use crate::domain::ids::ProductId;
use crate::domain::page::PageRequest;
use crate::persistence::ProductPage;
pub use crate::persistence::guarded_cache::Generation;
use crate::persistence::guarded_cache::GuardedCache;

/// Bounds that keep memory small whatever the catalog size. Typical entries
/// take a few KB; even if every one were as large as the limits allow (5000
/// characters of description, 100 SKUs, 100-item pages) the cache would stay
/// near 100 MB. Drops are hot on a few products, which is what this serves.
const MAX_PRODUCTS: usize = 1_024;
const MAX_PAGES: usize = 256;

pub type PageKey = (ProductFilter, PageRequest);

pub struct CatalogCache {
    products: GuardedCache<ProductId, Arc<Product>>,
    pages: GuardedCache<PageKey, Arc<ProductPage>>,
    /// The other nodes of a cluster, told of every invalidation.
    peers: Option<Peers>,
}

impl Default for CatalogCache {
    fn default() -> Self {
        let products = GuardedCache::new(MAX_PRODUCTS);
        let pages = GuardedCache::new(MAX_PAGES).sharing_generation_with(&products);
        Self {
            products,
            pages,
            peers: None,
        }
    }
}

impl CatalogCache {
    /// A cache whose invalidations are told to the other nodes too.
    pub fn with_peers(peers: Option<Peers>) -> Self {
        Self {
            peers,
            ..Self::default()
        }
    }

    /// Read before loading from the store; hand it back to `put_*`.
    pub fn generation(&self) -> Generation {
        self.products.generation()
    }

    pub fn product(&self, id: ProductId) -> Option<Arc<Product>> {
        self.products.get(&id)
    }

    pub fn page(&self, key: &PageKey) -> Option<Arc<ProductPage>> {
        self.pages.get(key)
    }

    pub fn put_product(&self, seen: Generation, product: Arc<Product>) {
        self.products.put(seen, product.id, product);
    }

    pub fn put_page(&self, seen: Generation, key: PageKey, page: Arc<ProductPage>) {
        self.pages.put(seen, key, page);
    }

    /// Call after a write to `id` commits: forgets the product and every
    /// listing page (any of them may show it, or should now), here and on
    /// the other nodes of a cluster.
    pub fn invalidate(&self, id: ProductId) {
        self.forget(id);
        self.tell(Note::Product(id.get()));
    }

    /// Call after a write that may touch any product (a seller's
    /// withdrawal): forgets every product and every page, everywhere.
    pub fn invalidate_all(&self) {
        self.forget_all();
        self.tell(Note::Everything);
    }

    /// Call after a new product commits: only listings can change.
    pub fn invalidate_listings(&self) {
        self.forget_listings();
        self.tell(Note::Listings);
    }

    /// [`CatalogCache::invalidate`] on this node only (another node's note).
    pub fn forget(&self, id: ProductId) {
        self.products.remove(&id);
        self.pages.invalidate_all();
    }

    pub fn forget_all(&self) {
        self.products.invalidate_all();
        self.pages.invalidate_all();
    }

    pub fn forget_listings(&self) {
        self.pages.invalidate_all();
    }

    fn tell(&self, note: Note) {
        if let Some(peers) = &self.peers {
            peers.tell(note);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UserId;
    use crate::domain::time::Timestamp;

    fn product(id: i64) -> Arc<Product> {
        Arc::new(Product {
            id: ProductId::new(id),
            seller_id: UserId::new(1),
            name: "Phone".into(),
            description: None,
            category: "phones".into(),
            category_id: None,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            skus: Vec::new(),
            images: Vec::new(),
            rating: Default::default(),
        })
    }

    #[test]
    fn a_fill_that_raced_a_write_is_dropped() {
        let cache = CatalogCache::default();
        let before = cache.generation();
        cache.invalidate(ProductId::new(1));
        cache.put_product(before, product(1));
        assert!(cache.product(ProductId::new(1)).is_none());
        cache.put_product(cache.generation(), product(1));
        assert!(cache.product(ProductId::new(1)).is_some());
    }

    #[test]
    fn a_new_listing_drops_fills_of_both_kinds_in_flight() {
        let cache = CatalogCache::default();
        let key = (
            ProductFilter::default(),
            PageRequest::new(None, None).expect("page"),
        );
        let before = cache.generation();
        cache.invalidate_listings();
        cache.put_product(before, product(3));
        cache.put_page(
            before,
            key.clone(),
            Arc::new(ProductPage {
                items: Vec::new(),
                total: 0,
            }),
        );
        assert!(cache.product(ProductId::new(3)).is_none());
        assert!(cache.page(&key).is_none());
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
        assert!(cache.product(ProductId::new(2)).is_some());
        cache.invalidate(ProductId::new(2));
        assert!(cache.product(ProductId::new(2)).is_none());
    }

    #[test]
    fn invalidate_all_forgets_products_and_pages() {
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
        cache.put_product(cache.generation(), product(4));
        let before = cache.generation();
        cache.invalidate_all();
        assert!(cache.page(&key).is_none());
        assert!(cache.product(ProductId::new(4)).is_none());
        cache.put_product(before, product(4));
        assert!(cache.product(ProductId::new(4)).is_none(), "a raced fill");
    }

    #[test]
    fn stays_bounded() {
        let cache = CatalogCache::default();
        for id in 0..(MAX_PRODUCTS as i64 + 50) {
            cache.put_product(cache.generation(), product(id));
        }
        assert_eq!(cache.products.len(), MAX_PRODUCTS);
    }
}
