//! Where an order's saga runs. A single process runs every saga itself; a
//! cluster node (issue 16) runs only the sagas of the order shards it
//! holds, and hands a buyer's request for any other order to the node that
//! holds its shard. Placing is not handed over: the stock decisions are the
//! SKU owners' already, and the order's row (keyed by its id) may be
//! written by whichever node took the request; only its saga has one home.

use async_trait::async_trait;
use std::time::Duration;

use super::error::OrderError;
use super::views::SagaView;
use crate::domain::ids::{OrderId, UserId};

/// What a node asks of the saga of an order it does not run.
#[derive(Debug, Clone)]
pub enum SagaRequest {
    /// Start it if it is not running (an order just written elsewhere).
    Start,
    /// Answer once the order has its first answer.
    AwaitPlaced,
    /// The buyer pays, with a saved method's provider token if given.
    Pay {
        buyer: UserId,
        token: Option<String>,
    },
    /// The buyer cancels.
    Cancel { buyer: UserId },
    /// The operator's view of it.
    View,
}

/// What the saga's node answered. Pay, cancel and the rest answer `Done`
/// once their outcome is committed: the asking node reads the order then.
#[derive(Debug, Clone)]
pub enum SagaReply {
    Done,
    View(Box<SagaView>),
}

/// The cluster's routing of sagas.
#[async_trait]
pub trait SagaHomes: Send + Sync {
    /// True when `order`'s saga runs in this process now.
    fn here(&self, order: OrderId) -> bool;

    /// How often to look for live orders of this node's shards that have
    /// no saga running (a shard just taken over).
    fn sweep_every(&self) -> Duration;

    /// Hands `request` to the node running `order`'s saga. `Unavailable`
    /// when no node holds its shard now, or none answered in time.
    async fn forward(&self, order: OrderId, request: SagaRequest) -> Result<SagaReply, OrderError>;
}
