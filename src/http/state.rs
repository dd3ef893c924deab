//! What every handler can reach: built once in `startup`, shared by workers.

use crate::actors::Inventory;
use crate::http::auth::TokenKeys;
use crate::http::catalog_cache::CatalogCache;
use crate::persistence::Store;

pub struct AppState {
    pub inventory: Inventory,
    pub store: Store,
    pub tokens: TokenKeys,
    /// Catalog reads, invalidated by every catalog write.
    pub catalog: CatalogCache,
}
