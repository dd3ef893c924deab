//! Sagas on a cluster: an order's saga runs on the node holding its
//! order's shard (`ShardCount::of_order`). [`ClusterSagas`] tells the
//! orders which sagas are this node's and hands a buyer's request for any
//! other to its node over NATS request-reply, one request per call (pay and
//! cancel are rare next to reserves; a saga start is one per accepted
//! order). [`serve`] answers the requests other nodes hand to this one,
//! through the `Orders` attached once they exist.
//!
//! As with stock, no owner, no responder or no answer in time is
//! `Unavailable` (503): a retry reaches the shard's owner of that moment.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use super::directory::ShardDirectory;
use super::saga_wire::{Answer, Call, Refusal, Reply};
use crate::actors::orders::homes::{SagaHomes, SagaReply, SagaRequest};
use crate::actors::orders::{OrderError, Orders};
use crate::domain::ids::OrderId;
use crate::domain::shard::NodeId;
use crate::persistence::shard_fence::HeldShards;

/// The subject a node serves its sagas' requests on.
pub fn subject(prefix: &str, node: &str) -> String {
    format!("{prefix}_cluster.saga.{node}")
}

/// The orders of this node, set once they are started (they are built on
/// the cluster's stock port, so after the node).
pub type OrdersSlot = Arc<OnceLock<Orders>>;

pub struct ClusterSagas {
    pub(super) held: Arc<HeldShards>,
    pub(super) directory: Arc<ShardDirectory>,
    pub(super) me: NodeId,
    pub(super) nats: async_nats::Client,
    pub(super) prefix: String,
    pub(super) timeout: Duration,
    pub(super) lease: Duration,
}

#[async_trait]
impl SagaHomes for ClusterSagas {
    fn here(&self, order: OrderId) -> bool {
        self.held.serves_order(order)
    }

    fn sweep_every(&self) -> Duration {
        self.lease
    }

    async fn forward(&self, order: OrderId, request: SagaRequest) -> Result<SagaReply, OrderError> {
        let shard = self.held.count().of_order(order);
        let node = match self.directory.owner(shard) {
            Some(node) if node != self.me.as_str() => node,
            // Free, or ours and being handed over: nobody runs it now.
            _ => return Err(OrderError::Unavailable),
        };
        let payload = serde_json::to_vec(&Call::new(order, request)).map_err(|e| {
            tracing::error!(error = %e, "could not encode a saga request");
            OrderError::Unavailable
        })?;
        let answer = tokio::time::timeout(
            self.timeout,
            self.nats
                .request(subject(&self.prefix, &node), payload.into()),
        )
        .await
        .map_err(|_| OrderError::Unavailable)?
        .map_err(|e| {
            tracing::debug!(error = %e, %node, "a saga request got no answer");
            OrderError::Unavailable
        })?;
        let reply: Reply = serde_json::from_slice(&answer.payload).map_err(|e| {
            tracing::warn!(error = %e, %node, "a saga's node answered something unreadable");
            OrderError::Unavailable
        })?;
        reply.map_err(OrderError::from)?.into_reply(order)
    }
}

/// Answers the saga requests other nodes send this one until the
/// subscription ends (the client closes).
pub async fn serve(
    nats: async_nats::Client,
    prefix: &str,
    node: &str,
    orders: OrdersSlot,
) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
    let mut requests = nats.subscribe(subject(prefix, node)).await?;
    Ok(tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            let Some(reply_to) = message.reply.clone() else {
                continue;
            };
            let (nats, orders) = (nats.clone(), Arc::clone(&orders));
            tokio::spawn(async move {
                let reply = answer(&orders, &message.payload).await;
                match serde_json::to_vec(&reply) {
                    Ok(body) => {
                        if let Err(e) = nats.publish(reply_to, body.into()).await {
                            tracing::warn!(error = %e, "could not answer a saga request");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "could not encode a saga answer"),
                }
            });
        }
    }))
}

async fn answer(orders: &OrdersSlot, payload: &[u8]) -> Reply {
    let Some((order, request)) = serde_json::from_slice::<Call>(payload)
        .ok()
        .and_then(Call::parse)
    else {
        tracing::warn!("a saga request could not be read");
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
