//! What every handler can reach: built once in `startup`, shared by workers.

use crate::actors::{Inventory, Orders};
use crate::http::auth::TokenKeys;
use crate::http::catalog_cache::CatalogCache;
use crate::http::rate_limit::RateLimits;
use crate::http::sessions::Sessions;
use crate::persistence::Store;
use metrics_exporter_prometheus::PrometheusHandle;

pub struct AppState {
    pub inventory: Inventory,
    pub orders: Orders,
    pub store: Store,
    pub tokens: TokenKeys,
    pub sessions: Sessions,
    pub limits: RateLimits,
    /// Catalog reads, invalidated by every catalog write.
    pub catalog: CatalogCache,
    /// The process-wide Prometheus recorder, rendered by `GET /metrics`.
    pub metrics: PrometheusHandle,
}
