//! The other half of forwarding: this node answers the stock calls other
//! nodes send for the shards it owns, each batch's calls at once (so a
//! batch of reserves joins the SKU's intake together), answers in order.
//! A call for a shard this node does not serve (given up, or never its
//! own) is answered `Unavailable`: the sender's retry finds the owner.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::forward::{ForwardStats, SERVICE};
use super::owners::Owners;
use super::wire::{Answer, Call, Refusal, Reply};
use crate::actors::stock::{Inventory, StockPort};
use crate::domain::ids::{ReservationId, UserId};
use crate::domain::quantity::Quantity;
use crate::persistence::shard_fence::HeldShards;

pub struct Server {
    pub inventory: Inventory,
    pub held: Arc<HeldShards>,
    pub stats: Arc<ForwardStats>,
}

impl Server {
    /// Answers the stock batches other nodes send this one until the
    /// subscription ends (the client closes).
    pub async fn run(
        self,
        owners: &Owners,
    ) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
        let this = Arc::new(self);
        owners
            .serve(SERVICE, Vec::new, move |calls: Vec<Call>| {
                let this = Arc::clone(&this);
                async move { this.answer_batch(calls).await }
            })
            .await
    }

    async fn answer_batch(&self, calls: Vec<Call>) -> Vec<Reply> {
        self.stats
            .served_calls
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
        self.stats.served_batches.fetch_add(1, Ordering::Relaxed);
        futures::future::join_all(calls.into_iter().map(|call| self.answer(call))).await
    }

    async fn answer(&self, call: Call) -> Reply {
        let sku = call.sku();
        if !self.held.serves(sku) {
            return Err(Refusal::Unavailable);
        }
        let inventory = &self.inventory;
        let result = match call {
            Call::Reserve {
                id,
                user,
                quantity,
                again,
                ..
            } => {
                let (id, quantity) = (reservation(id)?, units(quantity)?);
                StockPort::reserve(inventory, sku, id, UserId::new(user), quantity, again)
                    .await
                    .map(Answer::held)
            }
            Call::Commit { id, .. } => StockPort::commit(inventory, sku, reservation(id)?)
                .await
                .map(|()| Answer::Done),
            Call::Release { id, .. } => StockPort::release(inventory, sku, reservation(id)?)
                .await
                .map(|()| Answer::Done),
            Call::Snapshot { .. } => StockPort::snapshot(inventory, sku)
                .await
                .map(|s| Answer::snapshot(&s)),
            Call::Restock { quantity, .. } => inventory
                .restock(sku, units(quantity)?)
                .await
                .map(Answer::levels),
            Call::SetRules { rules, .. } => {
                inventory.set_rules(sku, rules).await.map(Answer::Rules)
            }
        };
        result.map_err(|e| Refusal::from(&e))
    }
}

fn reservation(raw: String) -> Result<ReservationId, Refusal> {
    ReservationId::parse(raw).map_err(|_| {
        tracing::warn!("a forwarded call carried a malformed reservation id");
        Refusal::Unavailable
    })
}

fn units(quantity: u32) -> Result<Quantity, Refusal> {
    Quantity::new(i64::from(quantity)).map_err(|_| {
        tracing::warn!("a forwarded call carried a malformed quantity");
        Refusal::Unavailable
    })
}
