//! What every handler can reach: built once in `startup`, shared by workers.

use crate::actors::counters::CounterError;
use crate::actors::{CommentWriter, Counters, Inventory, InventoryError, Orders, StockPort};
use crate::domain::counter::{Tally, Target, Toggle};
use crate::domain::ids::{PostId, SkuId};
use crate::domain::ledger::Levels;
use crate::domain::quantity::Quantity;
use crate::domain::rules::SaleRules;
use crate::events::Events;
use crate::http::account_budget::AccountBudget;
use crate::http::auth::TokenKeys;
use crate::http::catalog_cache::CatalogCache;
use crate::http::live::Live;
use crate::http::metrics_token::MetricsToken;
use crate::http::passwords::Passwords;
use crate::http::peers::Note;
use crate::http::rate_limit::RateLimits;
use crate::http::sessions::Sessions;
use crate::http::verification::Verifier;
use crate::mail::Mail;
use crate::media::Media;
use crate::persistence::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

pub struct AppState {
    /// The SKU actors: restock, sale rules and the admin views.
    pub inventory: Inventory,
    /// Where orders and buyers' availability reads get their stock answers.
    pub stock: Arc<dyn StockPort>,
    pub orders: Orders,
    /// The community's hot counters: likes and follows.
    pub counters: Counters,
    /// Comments, group-committed with their posts' counts.
    pub comments: CommentWriter,
    /// This node of a cluster; `None` for a single process.
    pub cluster: Option<crate::cluster::node::ClusterNode>,
    pub store: Store,
    pub tokens: TokenKeys,
    pub sessions: Sessions,
    pub limits: RateLimits,
    /// Password hashing, bounded to a few at once.
    pub passwords: Passwords,
    /// Password checks per account, whatever address they come from.
    pub accounts: AccountBudget,
    /// Catalog reads, invalidated by every catalog write.
    pub catalog: CatalogCache,
    /// The other nodes of a cluster, told what would leave their
    /// in-process state stale; `None` for a single process.
    pub peers: Option<crate::http::peers::Peers>,
    /// The process-wide Prometheus recorder, rendered by `GET /metrics`.
    pub metrics: PrometheusHandle,
    /// When set, `GET /metrics` answers only to this bearer token.
    pub metrics_token: Option<MetricsToken>,
    /// The outbox relay's status, for the admin views.
    pub events: Events,
    /// The control room's feed and the request window behind its chart.
    pub live: Live,
    /// Product images and profile pictures: processing and their store.
    pub media: Media,
    /// Refuse purchases until the buyer's email is verified.
    pub require_verified_email: bool,
    /// Verification codes and their resend budgets.
    pub verifier: Verifier,
    /// The mail queue's sender (woken when a request queues a mail).
    pub mail: Mail,
}

impl AppState {
    /// Adds units on the SKU's owner: this process, or in a cluster the
    /// node that owns the SKU's shard.
    pub async fn restock(&self, sku: SkuId, quantity: Quantity) -> Result<Levels, InventoryError> {
        match &self.cluster {
            Some(cluster) => cluster.stock().restock(sku, quantity).await,
            None => self.inventory.restock(sku, quantity).await,
        }
    }

    /// Likes, unlikes, follows or unfollows on the node deciding `target`:
    /// this process, or in a cluster the owner of the target's shard.
    pub async fn toggle(&self, target: Target, toggle: Toggle) -> Result<Tally, CounterError> {
        match &self.cluster {
            Some(cluster) => cluster.counters().toggle(target, toggle).await,
            None => self.counters.toggle(target, toggle).await,
        }
    }

    /// The target was deleted or hidden: its counter actor leaves memory,
    /// here and (in a cluster) on the node deciding it.
    pub fn forget_counter(&self, target: Target) {
        self.counters.forget(target);
        if let Some(peers) = &self.peers {
            peers.tell(Note::forget(target));
        }
    }

    /// The post was deleted or hidden: its actor and its comments' leave
    /// memory, on every node.
    pub fn forget_post(&self, post: PostId) {
        self.counters.forget_post(post);
        if let Some(peers) = &self.peers {
            peers.tell(Note::ForgetPost(post.get()));
        }
    }

    /// Sets the sale rules on the SKU's owner, like [`AppState::restock`].
    pub async fn set_rules(
        &self,
        sku: SkuId,
        rules: SaleRules,
    ) -> Result<SaleRules, InventoryError> {
        match &self.cluster {
            Some(cluster) => cluster.stock().set_rules(sku, rules).await,
            None => self.inventory.set_rules(sku, rules).await,
        }
    }
}
