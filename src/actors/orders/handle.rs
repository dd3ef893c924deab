//! `Orders`: the handle through which HTTP handlers and tests place, pay,
//! cancel and inspect orders. Placing follows Stripe's idempotency rules:
//! the order row is keyed by `(buyer, Idempotency-Key)`, so of two
//! concurrent identical requests exactly one inserts (and reserves); the
//! other waits for the first answer and returns it verbatim.

use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef, RpcReplyPort};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

use super::error::OrderError;
use super::placing::{self, Placement, Reserved};
use super::saga::{SagaDeps, SagaMsg};
use super::supervisor::{SagaRegistry, SagaSupervisor, SagaSupervisorMsg, Sagas};
use super::views::SagaView;
use crate::domain::ids::{OrderId, SkuId, UserId};
use crate::domain::money::{Amount, Currency};
use crate::domain::order::{OrderStatus, Step};
use crate::domain::quantity::Quantity;
use crate::domain::time::Timestamp;
use crate::persistence::{NewOrder, OrderLine, OrderRecord, StoreError};
use crate::prometheus::SAGA_TRANSITIONS;

/// A validated order request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlaceOrder {
    /// Distinct SKUs, sorted by id: the order every saga reserves in.
    pub items: Vec<(SkuId, Quantity)>,
    pub shipping_address: String,
    /// Pay at once (the request carried `payment`).
    pub pay_now: bool,
}

impl PlaceOrder {
    /// SHA-256 of the canonical request: what "the same body" means.
    fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&canonical)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Why asking a saga gave no answer.
#[derive(Debug, thiserror::Error)]
enum Asked {
    #[error("the order ended before the request reached its saga")]
    Finished,
    #[error(transparent)]
    Failed(#[from] OrderError),
}

impl From<Asked> for OrderError {
    fn from(a: Asked) -> Self {
        match a {
            Asked::Finished => OrderError::Conflict("the order has already ended".into()),
            Asked::Failed(e) => e,
        }
    }
}

#[derive(Clone)]
pub struct Orders {
    inner: Arc<Inner>,
}

struct Inner {
    deps: Arc<SagaDeps>,
    registry: SagaRegistry,
    supervisor: ActorRef<SagaSupervisorMsg>,
}

#[derive(Debug, thiserror::Error)]
pub enum OrdersStartError {
    #[error("could not start the saga supervisor: {0}")]
    Spawn(#[from] ractor::SpawnErr),
    #[error("could not resume live orders: {0}")]
    Resume(#[from] OrderError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Orders {
    /// Starts the saga supervisor and resumes every order that was live
    /// when the process last stopped (or was killed).
    pub async fn start(deps: SagaDeps) -> Result<Self, OrdersStartError> {
        let deps = Arc::new(deps);
        let registry = SagaRegistry::default();
        let (supervisor, _) = Actor::spawn(
            None,
            SagaSupervisor::default(),
            Sagas {
                deps: Arc::clone(&deps),
                registry: Arc::clone(&registry),
            },
        )
        .await?;
        let orders = Self {
            inner: Arc::new(Inner {
                deps,
                registry,
                supervisor,
            }),
        };
        let live = orders.inner.deps.store.live_order_ids().await?;
        if !live.is_empty() {
            tracing::info!(count = live.len(), "resuming live orders");
        }
        for id in live {
            orders.saga(id, None).await?;
        }
        Ok(orders)
    }

    /// Places an order, or replays the answer given to the same key.
    ///
    /// The key's row is not looked up first: the order id (and so the
    /// reservation id) comes from buyer and key, so a repeated request finds
    /// its reservation in the SKU actor, and its insert meets the existing
    /// row. A refusal the actor decides afresh is answered as such; within
    /// the idempotency window the actor remembers every id it answered.
    pub async fn place(
        &self,
        buyer: UserId,
        key: &str,
        request: PlaceOrder,
    ) -> Result<Placement, OrderError> {
        let deps = &self.inner.deps;
        let fingerprint = request.fingerprint();
        let (lines, total, currency) = match self.price(&request).await {
            Ok(priced) => priced,
            // Not for sale (any more): an order placed with this key while
            // it was still answers as it did then.
            Err(e @ (OrderError::UnknownSku(_) | OrderError::NotOnSale(_))) => {
                return match deps.store.order_by_key(buyer, key).await? {
                    Some(existing) => self.replay(existing, &fingerprint).await,
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        let now = Timestamp::now();
        let id = OrderId::derive(buyer, key);
        let mut order = NewOrder {
            id,
            buyer,
            idempotency_key: key.to_string(),
            request_hash: fingerprint.clone(),
            total,
            currency,
            shipping_address: request.shipping_address,
            pay_on_place: request.pay_now,
            payment_due_at: now.plus(deps.settings.payment_window()),
            lines,
            created_at: now,
            outcome: placing::accepted(request.pay_now),
        };
        let rid = id.reservation();
        let record = match placing::reserve_all(&*deps.inventory, &request.items, &rid, buyer).await
        {
            Reserved::Held => OrderRecord::placed(order.clone()),
            Reserved::Refused(reason, detail) => {
                order.outcome = placing::refused(reason, detail);
                // Nothing is held, so nothing waits on this write: the
                // refusal is answered now and its record lands behind,
                // on a task shutdown waits for.
                count_transition(OrderStatus::Rejected);
                let writer = deps.writer.clone();
                deps.behind.spawn(async move {
                    match writer.insert(order).await {
                        Ok(()) | Err(StoreError::Duplicate(_)) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "could not record a refused order")
                        }
                    }
                });
                return Ok(Placement::Refused(reason));
            }
            // Only an earlier request with this key explains this.
            Reserved::GivenBack => {
                return match deps.store.order_by_key(buyer, key).await? {
                    Some(existing) => self.replay(existing, &fingerprint).await,
                    None => Err(OrderError::Unavailable),
                };
            }
            Reserved::KeyReused => return Err(OrderError::KeyReused),
            // What is held stays held: a retry with the same key reuses it.
            Reserved::Unavailable(e) => {
                tracing::debug!(error = %e, "placing: stock undecided");
                return Err(OrderError::Unavailable);
            }
        };
        match deps.writer.insert(order).await {
            Ok(()) => {}
            // An earlier or concurrent request with this key has the order.
            Err(StoreError::Duplicate(_)) => {
                let existing = deps
                    .store
                    .order_by_key(buyer, key)
                    .await?
                    .ok_or(OrderError::Unavailable)?;
                // Both reserved under the same id: what the existing order
                // holds is held once. Anything else we took is given back.
                let holds = !matches!(
                    existing.status,
                    OrderStatus::Rejected | OrderStatus::Cancelled
                );
                let ours: Vec<_> = request
                    .items
                    .iter()
                    .filter(|(sku, _)| !holds || !existing.lines.iter().any(|l| l.sku == *sku))
                    .copied()
                    .collect();
                placing::give_back(&*deps.inventory, &ours, &rid).await;
                return self.replay(existing, &fingerprint).await;
            }
            Err(e) => return Err(e.into()),
        }
        count_transition(OrderStatus::AwaitingPayment);
        // The saga takes the order from what was just written.
        let answer = Placement::Accepted(Box::new(record.clone()));
        self.saga(id, Some(record)).await?;
        Ok(answer)
    }

    /// Prices the request at the offers of the moment: its lines, total and
    /// currency.
    async fn price(
        &self,
        request: &PlaceOrder,
    ) -> Result<(Vec<OrderLine>, Amount, Currency), OrderError> {
        let skus: Vec<SkuId> = request.items.iter().map(|(s, _)| *s).collect();
        let offers = self.inner.deps.store.sku_offers(&skus).await?;
        let mut lines = Vec::with_capacity(request.items.len());
        let mut currency = None;
        let mut total = Amount::ZERO;
        for (sku, qty) in &request.items {
            let offer = offers
                .iter()
                .find(|o| o.sku == *sku)
                .ok_or(OrderError::UnknownSku(*sku))?;
            if offer.seller_withdrawn {
                return Err(OrderError::NotOnSale(*sku));
            }
            if *currency.get_or_insert(offer.currency) != offer.currency {
                return Err(OrderError::Invalid(
                    "items: all items of one order must share a currency".into(),
                ));
            }
            total = offer
                .price
                .times(*qty)
                .and_then(|line| total.checked_add(line))
                .ok_or_else(|| OrderError::Invalid("items: the total is too large".into()))?;
            lines.push(OrderLine {
                sku: *sku,
                product_id: offer.product_id,
                seller_id: offer.seller_id,
                quantity: *qty,
                unit_price: offer.price,
            });
        }
        // Validation lets no order without items through.
        let currency =
            currency.ok_or_else(|| OrderError::Invalid("items: must not be empty".into()))?;
        Ok((lines, total, currency))
    }

    /// The first answer of an existing order, waiting for it if needed.
    /// A live order's saga is (re)started, so a retry after a crash or an
    /// outage also sets its order moving again.
    async fn replay(
        &self,
        existing: OrderRecord,
        fingerprint: &str,
    ) -> Result<Placement, OrderError> {
        if existing.request_hash != fingerprint {
            return Err(OrderError::KeyReused);
        }
        if existing.step == Step::Done
            && let Some(answer) = Placement::of(&existing)
        {
            return Ok(answer);
        }
        let saga = self.saga(existing.id, None).await?;
        if let Some(answer) = Placement::of(&existing) {
            return Ok(answer);
        }
        self.call(&saga, SagaMsg::AwaitPlaced).await
    }

    /// Pays an `AWAITING_PAYMENT` order; answers once payment succeeded
    /// or failed.
    pub async fn pay(&self, buyer: UserId, order_id: OrderId) -> Result<OrderRecord, OrderError> {
        let order = self.owned(buyer, order_id).await?;
        if order.status != OrderStatus::AwaitingPayment {
            return Err(OrderError::Conflict(format!(
                "a {} order cannot be paid",
                order.status
            )));
        }
        match self.ask(order_id, SagaMsg::Pay).await {
            Err(Asked::Finished) => self.owned(buyer, order_id).await,
            other => other?,
        }
    }

    /// Cancels an order before it ships; answers once it is CANCELLED.
    pub async fn cancel(
        &self,
        buyer: UserId,
        order_id: OrderId,
    ) -> Result<OrderRecord, OrderError> {
        let order = self.owned(buyer, order_id).await?;
        if !order.status.buyer_may_cancel() {
            return Err(OrderError::Conflict(format!(
                "a {} order cannot be cancelled",
                order.status
            )));
        }
        match self.ask(order_id, SagaMsg::Cancel).await {
            // Ended on its own before our request reached it.
            Err(Asked::Finished) => {
                let order = self.owned(buyer, order_id).await?;
                match order.status {
                    OrderStatus::Cancelled => Ok(order),
                    status => Err(OrderError::Conflict(format!(
                        "a {status} order cannot be cancelled"
                    ))),
                }
            }
            other => other?,
        }
    }

    /// The order if `buyer` placed it; others' orders do not exist for them.
    pub async fn owned(&self, buyer: UserId, order_id: OrderId) -> Result<OrderRecord, OrderError> {
        self.inner
            .deps
            .store
            .order(order_id)
            .await?
            .filter(|o| o.buyer == buyer)
            .ok_or(OrderError::NotFound)
    }

    /// The saga of an order: live state if it runs, stored state if not.
    pub async fn saga_view(&self, order_id: OrderId) -> Result<SagaView, OrderError> {
        let live = self.inner.registry.get(&order_id).map(|a| a.clone());
        if let Some(saga) = live
            && let Ok(view) = self.call(&saga, SagaMsg::View).await
        {
            return Ok(view);
        }
        let order = self
            .inner
            .deps
            .store
            .order(order_id)
            .await?
            .ok_or(OrderError::NotFound)?;
        Ok(SagaView::at_rest(&order))
    }

    /// Every running saga.
    pub async fn live_sagas(&self) -> Vec<SagaView> {
        let actors: Vec<ActorRef<SagaMsg>> = self
            .inner
            .registry
            .iter()
            .map(|e| e.value().clone())
            .collect();
        let mut views = Vec::with_capacity(actors.len());
        for saga in actors {
            if let Ok(view) = self.call(&saga, SagaMsg::View).await {
                views.push(view);
            }
        }
        views.sort_by_key(|v| v.order_id);
        views
    }

    /// Sagas running right now; cheap enough for every scrape.
    pub fn live_saga_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Order writes waiting for the order writer's next batch.
    pub fn writes_queued(&self) -> usize {
        self.inner.deps.writer.queued()
    }

    /// Makes the saga of `order_id` panic (fault injection for tests).
    pub fn inject_panic(&self, order_id: OrderId) -> bool {
        self.inner
            .registry
            .get(&order_id)
            .is_some_and(|a| a.send_message(SagaMsg::InjectPanic).is_ok())
    }

    /// Stops every saga (each resumes from its recorded step next start),
    /// then waits for the writes still landing behind their answers.
    pub async fn shutdown(&self) {
        self.inner
            .supervisor
            .stop_children_and_wait(None, Some(Duration::from_secs(5)))
            .await;
        self.inner.supervisor.stop(None);
        self.inner.deps.behind.close();
        self.inner.deps.behind.wait().await;
    }

    async fn saga(
        &self,
        id: OrderId,
        order: Option<OrderRecord>,
    ) -> Result<ActorRef<SagaMsg>, OrderError> {
        if let Some(actor) = self.inner.registry.get(&id) {
            return Ok(actor.clone());
        }
        match self
            .inner
            .supervisor
            .call(
                |reply| SagaSupervisorMsg::Get(id, order, reply),
                Some(self.inner.deps.settings.reply_timeout()),
            )
            .await
        {
            Ok(CallResult::Success(result)) => result,
            _ => Err(OrderError::Unavailable),
        }
    }

    /// Asks the saga of a live order, following it if it is restarted.
    /// `Finished` means the order ended before the request was handled.
    async fn ask<T: Send + 'static>(
        &self,
        order_id: OrderId,
        msg: impl Fn(RpcReplyPort<T>) -> SagaMsg,
    ) -> Result<T, Asked> {
        let timeout = self.inner.deps.settings.reply_timeout();
        for _ in 0..3 {
            let saga = self.saga(order_id, None).await?;
            match saga.call(&msg, Some(timeout)).await {
                Ok(CallResult::Success(answer)) => return Ok(answer),
                Ok(CallResult::Timeout) => return Err(OrderError::Unavailable.into()),
                // The saga stopped: finished, or crashed and restarting.
                Ok(CallResult::SenderError) | Err(_) => {
                    let order = self
                        .inner
                        .deps
                        .store
                        .order(order_id)
                        .await
                        .map_err(OrderError::from)?;
                    if order.is_none_or(|o| o.step == Step::Done) {
                        return Err(Asked::Finished);
                    }
                }
            }
        }
        Err(OrderError::Unavailable.into())
    }

    async fn call<T: Send + 'static>(
        &self,
        saga: &ActorRef<SagaMsg>,
        msg: impl FnOnce(RpcReplyPort<T>) -> SagaMsg,
    ) -> Result<T, OrderError> {
        let timeout = self.inner.deps.settings.reply_timeout();
        match saga.call(msg, Some(timeout)).await {
            Ok(CallResult::Success(answer)) => Ok(answer),
            // Timed out, or the saga stopped (finished or crashed) first.
            _ => Err(OrderError::Unavailable),
        }
    }
}

/// Counts the transition out of PENDING that placing an order decided.
fn count_transition(to: OrderStatus) {
    metrics::counter!(SAGA_TRANSITIONS, "from" => OrderStatus::Pending.as_str(), "to" => to.as_str())
        .increment(1);
}
