//! Sagas on a cluster: an order's saga runs on the node holding its
//! order's shard (`ShardCount::of_order`). [`ClusterSagas`] tells the
//! orders which sagas are this node's and hands a buyer's request for any
//! other to its node over NATS request-reply, one request per call (pay and
//! cancel are rare next to reserves; a saga start is one per accepted
//! order), through [`Owners`]. [`serve`] answers the requests other nodes
//! hand to this one, through the `Orders` attached once they exist.
//!
//! As with stock, no owner, no responder or no answer in time is
//! `Unavailable` (503): a retry reaches the shard's owner of that moment.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;

use super::owners::Owners;
use super::saga_wire::{Answer, Call, Refusal, Reply};
use crate::actors::orders::homes::{SagaHomes, SagaReply, SagaRequest};
use crate::actors::orders::{OrderError, Orders};
use crate::domain::ids::OrderId;

const SERVICE: &str = "saga";

/// The orders of this node, set once they are started (they are built on
/// the cluster's stock port, so after the node).
pub type OrdersSlot = Arc<OnceLock<Orders>>;

pub struct ClusterSagas {
    pub(super) owners: Arc<Owners>,
    pub(super) lease: Duration,
}

#[async_trait]
impl SagaHomes for ClusterSagas {
    fn here(&self, order: OrderId) -> bool {
        self.owners.held.serves_order(order)
    }

    fn sweep_every(&self) -> Duration {
        self.lease
    }

    async fn forward(&self, order: OrderId, request: SagaRequest) -> Result<SagaReply, OrderError> {
        let shard = self.owners.held.count().of_order(order);
        let node = self
            .owners
            .elsewhere(shard)
            .ok_or(OrderError::Unavailable)?;
        let reply: Reply = self
            .owners
            .ask(SERVICE, &node, &Call::new(order, request))
            .await
            .ok_or(OrderError::Unavailable)?;
        reply.map_err(OrderError::from)?.into_reply(order)
    }
}

/// Answers the saga requests other nodes send this one.
pub async fn serve(
    owners: &Owners,
    orders: OrdersSlot,
) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
    owners
        .serve(
            SERVICE,
            || Err(Refusal::Unavailable),
            move |call: Call| {
                let orders = Arc::clone(&orders);
                async move { answer(&orders, call).await }
            },
        )
        .await
}

async fn answer(orders: &OrdersSlot, call: Call) -> Reply {
    let Some((order, request)) = call.parse() else {
        tracing::warn!("a saga request carried a malformed order id");
        return Err(Refusal::Unavailable);
    };
    // Not started yet: the sender retries.
    let orders = orders.get().ok_or(Refusal::Unavailable)?;
    orders
        .answer_forwarded(order, request)
        .await
        .map(Answer::of)
        .map_err(|e| Refusal::from(&e))
}
