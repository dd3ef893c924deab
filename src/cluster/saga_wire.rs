//! What a request handed to the node running an order's saga looks like on
//! NATS, and its answer. Plain values only, parsed again on arrival (as in
//! `wire`): a malformed message is an error, never a guess.

use serde::{Deserialize, Serialize};

use crate::actors::orders::OrderError;
use crate::actors::orders::homes::{SagaReply, SagaRequest};
use crate::actors::orders::views::SagaView;
use crate::domain::ids::{OrderId, UserId};
use crate::domain::order::{OrderStatus, Step};
use crate::domain::time::Timestamp;

#[derive(Debug, Serialize, Deserialize)]
pub struct Call {
    pub order: String,
    pub request: Request,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    Start,
    AwaitPlaced,
    /// The token is a saved method's provider token: it travels only
    /// between the cluster's nodes.
    Pay {
        buyer: i64,
        token: Option<String>,
    },
    Cancel {
        buyer: i64,
    },
    View,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Answer {
    Done,
    View {
        status: String,
        step: String,
        live: bool,
        attempts: u32,
        last_error: Option<String>,
        restarts: u32,
        payment_due_ms: i64,
        updated_ms: i64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Refusal {
    NotFound,
    Conflict(String),
    Invalid(String),
    KeyReused,
    Unavailable,
}

pub type Reply = Result<Answer, Refusal>;

impl Call {
    pub fn new(order: OrderId, request: SagaRequest) -> Self {
        let request = match request {
            SagaRequest::Start => Request::Start,
            SagaRequest::AwaitPlaced => Request::AwaitPlaced,
            SagaRequest::Pay { buyer, token } => Request::Pay {
                buyer: buyer.get(),
                token,
            },
            SagaRequest::Cancel { buyer } => Request::Cancel { buyer: buyer.get() },
            SagaRequest::View => Request::View,
        };
        Self {
            order: order.to_string(),
            request,
        }
    }

    /// The order and the request, or `None` when the id is malformed.
    pub fn parse(self) -> Option<(OrderId, SagaRequest)> {
        let order = OrderId::parse(&self.order).ok()?;
        let request = match self.request {
            Request::Start => SagaRequest::Start,
            Request::AwaitPlaced => SagaRequest::AwaitPlaced,
            Request::Pay { buyer, token } => SagaRequest::Pay {
                buyer: UserId::new(buyer),
                token,
            },
            Request::Cancel { buyer } => SagaRequest::Cancel {
                buyer: UserId::new(buyer),
            },
            Request::View => SagaRequest::View,
        };
        Some((order, request))
    }
}

impl Answer {
    pub fn of(reply: SagaReply) -> Self {
        match reply {
            SagaReply::Done => Answer::Done,
            SagaReply::View(v) => Answer::View {
                status: v.status.as_str().to_string(),
                step: v.step.as_str().to_string(),
                live: v.live,
                attempts: v.attempts,
                last_error: v.last_error,
                restarts: v.restarts,
                payment_due_ms: v.payment_due_at.millis(),
                updated_ms: v.updated_at.millis(),
            },
        }
    }

    pub fn into_reply(self, order: OrderId) -> Result<SagaReply, OrderError> {
        match self {
            Answer::Done => Ok(SagaReply::Done),
            Answer::View {
                status,
                step,
                live,
                attempts,
                last_error,
                restarts,
                payment_due_ms,
                updated_ms,
            } => {
                let (Some(status), Some(step)) = (OrderStatus::parse(&status), Step::parse(&step))
                else {
                    tracing::warn!("a saga's node answered a view this node cannot read");
                    return Err(OrderError::Unavailable);
                };
                Ok(SagaReply::View(Box::new(SagaView {
                    order_id: order,
                    status,
                    step,
                    live,
                    attempts,
                    last_error,
                    restarts,
                    payment_due_at: Timestamp::from_millis(payment_due_ms),
                    updated_at: Timestamp::from_millis(updated_ms),
                })))
            }
        }
    }
}

impl From<&OrderError> for Refusal {
    fn from(e: &OrderError) -> Self {
        match e {
            OrderError::NotFound => Refusal::NotFound,
            OrderError::Conflict(why) => Refusal::Conflict(why.clone()),
            OrderError::Invalid(why) => Refusal::Invalid(why.clone()),
            OrderError::KeyReused => Refusal::KeyReused,
            // Not reached through a saga; and a store error stays in the
            // log of the node it happened on.
            OrderError::UnknownSku(_)
            | OrderError::NotOnSale(_)
            | OrderError::Unavailable
            | OrderError::Store(_) => Refusal::Unavailable,
        }
    }
}

impl From<Refusal> for OrderError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotFound => OrderError::NotFound,
            Refusal::Conflict(why) => OrderError::Conflict(why),
            Refusal::Invalid(why) => OrderError::Invalid(why),
            Refusal::KeyReused => OrderError::KeyReused,
            Refusal::Unavailable => OrderError::Unavailable,
        }
    }
}
