//! The stock port of a cluster node: a SKU whose shard this node serves is
//! decided by its own SKU actors; any other goes to the shard's owner over
//! NATS request-reply. Calls bound for one node queue on one link, and the
//! link sends whatever queued while it was sending in one request (the
//! same shape as a SKU actor's intake), so a drop forwards batches, not one
//! message per purchase. Several batches may be in flight at once.
//!
//! A call that finds no owner, no responder, or no answer in time is
//! answered `Unavailable` (503): not known to be decided, and safe to retry
//! with the same reservation id on any node.

use async_trait::async_trait;
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

use super::owners::Owners;
use super::wire::{Answer, Call, Refusal, Reply};
use crate::actors::stock::{Hold, Inventory, InventoryError, SkuSnapshot, StockPort};
use crate::domain::ids::{ReservationId, SkuId, UserId};
use crate::domain::ledger::Levels;
use crate::domain::quantity::Quantity;
use crate::domain::rules::SaleRules;

/// Calls sent in one request at most.
const BATCH_MAX: usize = 512;
/// Calls waiting for one link before callers are told `Overloaded`.
const LINK_QUEUE: usize = 16_384;

pub const FORWARDED_CALLS: &str = "stampede_cluster_forwarded_calls_total";
pub const FORWARD_BATCHES: &str = "stampede_cluster_forward_batches_total";
pub const FORWARD_FAILURES: &str = "stampede_cluster_forward_failures_total";

/// The service stock calls are sent to (see [`Owners::subject`]).
pub const SERVICE: &str = "stock";

/// Counts shown by the admin view.
#[derive(Debug, Default)]
pub struct ForwardStats {
    pub calls: AtomicU64,
    pub batches: AtomicU64,
    pub failed_batches: AtomicU64,
    pub served_calls: AtomicU64,
    pub served_batches: AtomicU64,
}

pub(super) struct Pending {
    call: Call,
    answer: oneshot::Sender<Reply>,
}

pub struct ClusterStock {
    pub(super) local: Inventory,
    pub(super) owners: Arc<Owners>,
    pub(super) links: DashMap<String, mpsc::Sender<Pending>>,
    pub(super) stats: Arc<ForwardStats>,
}

/// Where a SKU's calls go.
enum Route {
    Here,
    To(String),
}

impl ClusterStock {
    fn route(&self, sku: SkuId) -> Result<Route, InventoryError> {
        let held = &self.owners.held;
        if held.serves(sku) {
            return Ok(Route::Here);
        }
        self.owners
            .elsewhere(held.count().of_sku(sku))
            .map(Route::To)
            .ok_or(InventoryError::Unavailable)
    }

    async fn forward(&self, node: String, call: Call) -> Result<Answer, InventoryError> {
        let sku = call.sku();
        let link = self.link(node);
        let (answer, answered) = oneshot::channel();
        link.try_send(Pending { call, answer })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => InventoryError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => InventoryError::Unavailable,
            })?;
        match tokio::time::timeout(self.owners.timeout, answered).await {
            Ok(Ok(reply)) => reply.map_err(|refused| refused.into_error(sku)),
            _ => Err(InventoryError::Unavailable),
        }
    }

    fn link(&self, node: String) -> mpsc::Sender<Pending> {
        if let Some(link) = self.links.get(&node) {
            return link.clone();
        }
        self.links
            .entry(node.clone())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::channel(LINK_QUEUE);
                tokio::spawn(run_link(
                    rx,
                    Arc::clone(&self.owners),
                    node.clone(),
                    Arc::clone(&self.stats),
                ));
                tx
            })
            .clone()
    }
}

/// Sends what queued for one node, a batch per request, until every
/// sender is gone.
async fn run_link(
    mut queue: mpsc::Receiver<Pending>,
    owners: Arc<Owners>,
    node: String,
    stats: Arc<ForwardStats>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        tokio::spawn(send_batch(
            batch,
            Arc::clone(&owners),
            node.clone(),
            Arc::clone(&stats),
        ));
    }
}

async fn send_batch(
    batch: Vec<Pending>,
    owners: Arc<Owners>,
    node: String,
    stats: Arc<ForwardStats>,
) {
    let n = batch.len() as u64;
    stats.calls.fetch_add(n, Ordering::Relaxed);
    stats.batches.fetch_add(1, Ordering::Relaxed);
    metrics::counter!(FORWARDED_CALLS).increment(n);
    metrics::counter!(FORWARD_BATCHES).increment(1);
    let (calls, answers): (Vec<Call>, Vec<_>) =
        batch.into_iter().map(|p| (p.call, p.answer)).unzip();
    let asked: Option<Vec<Reply>> = owners.ask(SERVICE, &node, &calls).await;
    let replies = match asked {
        Some(replies) if replies.len() == answers.len() => replies,
        Some(replies) => {
            tracing::warn!(
                sent = answers.len(),
                answered = replies.len(),
                "a shard's owner answered a batch with the wrong count"
            );
            vec![Err(Refusal::Unavailable); answers.len()]
        }
        // Why is logged by `ask`.
        None => {
            stats.failed_batches.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(FORWARD_FAILURES).increment(1);
            vec![Err(Refusal::Unavailable); answers.len()]
        }
    };
    for (answer, reply) in answers.into_iter().zip(replies) {
        let _ = answer.send(reply);
    }
}

impl ClusterStock {
    /// Adds units to `sku`'s stock, on its owner.
    pub async fn restock(&self, sku: SkuId, quantity: Quantity) -> Result<Levels, InventoryError> {
        match self.route(sku)? {
            Route::Here => self.local.restock(sku, quantity).await,
            Route::To(node) => {
                let call = Call::Restock {
                    sku: sku.get(),
                    quantity: quantity.get(),
                };
                self.forward(node, call).await?.into_levels()
            }
        }
    }

    /// Sets `sku`'s sale rules, on its owner.
    pub async fn set_rules(
        &self,
        sku: SkuId,
        rules: SaleRules,
    ) -> Result<SaleRules, InventoryError> {
        match self.route(sku)? {
            Route::Here => self.local.set_rules(sku, rules).await,
            Route::To(node) => {
                let call = Call::SetRules {
                    sku: sku.get(),
                    rules,
                };
                self.forward(node, call).await?.into_rules()
            }
        }
    }
}

#[async_trait]
impl StockPort for ClusterStock {
    async fn reserve(
        &self,
        sku: SkuId,
        id: ReservationId,
        user: UserId,
        quantity: Quantity,
        again: bool,
    ) -> Result<Hold, InventoryError> {
        match self.route(sku)? {
            Route::Here => StockPort::reserve(&self.local, sku, id, user, quantity, again).await,
            Route::To(node) => {
                let call = Call::Reserve {
                    sku: sku.get(),
                    id: id.as_str().to_string(),
                    user: user.get(),
                    quantity: quantity.get(),
                    again,
                };
                self.forward(node, call).await?.into_hold()
            }
        }
    }

    async fn commit(&self, sku: SkuId, id: ReservationId) -> Result<(), InventoryError> {
        match self.route(sku)? {
            Route::Here => StockPort::commit(&self.local, sku, id).await,
            Route::To(node) => {
                let call = Call::Commit {
                    sku: sku.get(),
                    id: id.as_str().to_string(),
                };
                self.forward(node, call).await?.into_done()
            }
        }
    }

    async fn release(&self, sku: SkuId, id: ReservationId) -> Result<(), InventoryError> {
        match self.route(sku)? {
            Route::Here => StockPort::release(&self.local, sku, id).await,
            Route::To(node) => {
                let call = Call::Release {
                    sku: sku.get(),
                    id: id.as_str().to_string(),
                };
                self.forward(node, call).await?.into_done()
            }
        }
    }

    /// Live levels come from the owner only: a stale copy is never shown
    /// as live.
    async fn snapshot(&self, sku: SkuId) -> Result<SkuSnapshot, InventoryError> {
        match self.route(sku)? {
            Route::Here => StockPort::snapshot(&self.local, sku).await,
            Route::To(node) => self
                .forward(node, Call::Snapshot { sku: sku.get() })
                .await?
                .into_snapshot(sku),
        }
    }
}
