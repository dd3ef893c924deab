//! `Orders`: the handle through which HTTP handlers and tests place, pay,
//! cancel and inspect orders. Placing follows Stripe's idempotency rules:
//! the order row is keyed by `(buyer, Idempotency-Key)`, so of two
//! concurrent identical requests exactly one inserts (and reserves); the
//! other waits for the first answer and returns it verbatim.

use futures::StreamExt;
use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef, RpcReplyPort};
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::task::AbortHandle;

use super::answered::{self, Answered, Claim};
use super::error::OrderError;
use super::gauges::SagaReading;
use super::homes::{SagaHomes, SagaReply, SagaRequest};
use super::placing::{self, End, Placement};
use super::resume::Stuck;
use super::saga::{SagaDeps, SagaMsg};
use super::supervisor::{SagaRegistry, SagaSupervisor, SagaSupervisorMsg, Sagas};
use super::views::{SagaList, SagaView};
use crate::domain::address::Address;
use crate::domain::ids::{OrderId, SkuId, UserId};
use crate::domain::money::{Amount, Currency};
use crate::domain::order::{OrderStatus, Step};
use crate::domain::quantity::Quantity;
use crate::domain::time::Timestamp;
use crate::persistence::{NewOrder, OrderLine, OrderRecord, StoreError};
use crate::prometheus::SAGA_TRANSITIONS;

/// Orphaned holds given back at once at start.
const RELEASE_CONCURRENCY: usize = 64;

/// A validated order request. Fields added since the first release are
/// left out of the fingerprint when unset, so the retries of requests that
/// do not use them keep their fingerprint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlaceOrder {
    /// Distinct SKUs, sorted by id: the order every saga reserves in.
    pub items: Vec<(SkuId, Quantity)>,
    /// The address as text: given so, or the structured one on one line.
    pub shipping_address: String,
    /// The structured address, which the order keeps a copy of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Address>,
    /// Pay at once (the request carried `payment`).
    pub pay_now: bool,
    /// The saved payment method paying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<SavedMethod>,
}

/// A saved payment method chosen to pay: its id is part of the request's
/// fingerprint, its provider token goes to the provider, never elsewhere.
#[derive(Clone, serde::Serialize)]
pub struct SavedMethod {
    pub id: i64,
    #[serde(skip)]
    pub token: String,
}

/// Logs name the method, never its token.
impl std::fmt::Debug for SavedMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedMethod")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
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
    /// Live orders whose saga could not be resumed.
    stuck: Stuck,
    /// The task retrying them; stopped at shutdown.
    retrier: OnceLock<AbortHandle>,
    /// Keys placed moments ago, so their retries skip the writer.
    answered: Answered,
}

#[derive(Debug, thiserror::Error)]
pub enum OrdersStartError {
    #[error("could not start the saga supervisor: {0}")]
    Spawn(#[from] ractor::SpawnErr),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Orders {
    /// Starts the saga supervisor and resumes every order that was live
    /// when the process last stopped (or was killed). An order whose saga
    /// cannot start is skipped and retried later (see [`super::resume`]).
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
                stuck: Stuck::default(),
                retrier: OnceLock::new(),
                answered: Answered::default(),
            }),
        };
        let live = orders.ours(orders.inner.deps.store.live_order_ids().await?);
        if !live.is_empty() {
            tracing::info!(count = live.len(), "resuming live orders");
        }
        orders.resume(live).await;
        let retrier = tokio::spawn(orders.clone().retry_stuck());
        let _ = orders.inner.retrier.set(retrier.abort_handle());
        Ok(orders)
    }

    /// Gives back the units of purchases cut short before their order was
    /// written (a crash between the stock decision and the order's commit),
    /// which would otherwise stay held until the reservation TTL and
    /// under-sell the drop. Runs at start, before any request is served, so
    /// no purchase of this process is between its hold and its write. A
    /// late retry with the same key is judged again (see [`Orders::place`]).
    /// Only reservations shaped like order ids are the orders' to judge.
    /// Answers how many were given back.
    pub async fn release_orphaned_holds(&self) -> Result<usize, OrderError> {
        self.release_orphans_older_than(Duration::ZERO).await
    }

    /// Like [`Orders::release_orphaned_holds`], for holds last written
    /// more than `age` ago. A cluster's leading node runs it while others
    /// serve: a purchase still between its hold and its order's write is
    /// younger than `reserve_timeout`, past which it is given up anyway,
    /// so only holds older than that are orphans for sure. (One whose order
    /// is still written after would be cancelled `STOCK_LOST` when paid:
    /// never shipped unbacked.)
    pub async fn release_orphans_older_than(&self, age: Duration) -> Result<usize, OrderError> {
        let deps = &self.inner.deps;
        let before = Timestamp::now().minus(age).millis().saturating_add(1);
        let orphans: Vec<_> = deps
            .store
            .orphaned_reservations(before)
            .await?
            .into_iter()
            .filter(|(_, rid)| OrderId::parse(rid.as_str()).is_ok())
            .collect();
        let released = futures::stream::iter(orphans)
            .map(|(sku, rid)| async move {
                match deps.inventory.release(sku, rid.clone()).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(%sku, reservation = %rid.as_str(), error = %e,
                            "could not give back an orphaned hold; it lapses with its TTL");
                        false
                    }
                }
            })
            .buffer_unordered(RELEASE_CONCURRENCY)
            .filter(|released| futures::future::ready(*released))
            .count()
            .await;
        if released > 0 {
            tracing::warn!(
                released,
                "gave back holds of purchases cut short before their order was written"
            );
        }
        Ok(released)
    }

    /// Places an order, or replays the answer given to the same key.
    ///
    /// The key's row is not looked up first: the order id (and so the
    /// reservation id) comes from buyer and key, so a repeated request finds
    /// its reservation in the SKU actor, and its insert meets the existing
    /// row. A refusal the actor decides afresh is answered as such; within
    /// the idempotency window the actor remembers every id it answered.
    ///
    /// A key that no order carries is judged again even when its units were
    /// given back (a request cut short by a crash, or answered 503): only a
    /// final answer is ever stored, never a 503 (Stripe's rule).
    ///
    /// A retry of a key placed moments ago with the same body gets the first
    /// request's answer from memory (see [`answered`]), waiting for it if
    /// needed: it neither reserves nor hands the writer a duplicate.
    pub async fn place(
        &self,
        buyer: UserId,
        key: &str,
        request: PlaceOrder,
    ) -> Result<Placement, OrderError> {
        let deps = &self.inner.deps;
        let stock = &*deps.inventory;
        let fingerprint = request.fingerprint();
        let id = OrderId::derive(buyer, key);
        let publisher = match self.inner.answered.claim(id, &fingerprint) {
            Claim::First(publisher) => Some(publisher),
            Claim::Earlier(answer) => {
                let timeout = deps.settings.reply_timeout();
                if let Some(answer) = answered::earlier(answer, timeout).await {
                    return Ok(answer);
                }
                // The first try ended without an answer: judge it here.
                None
            }
            Claim::Elsewhere => None,
        };
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
        let mut order = NewOrder {
            id,
            buyer,
            idempotency_key: key.to_string(),
            request_hash: fingerprint.clone(),
            total,
            currency,
            shipping_address: request.shipping_address.clone(),
            shipping: request.shipping.clone(),
            payment_token: request.payment_method.as_ref().map(|m| m.token.clone()),
            pay_on_place: request.pay_now,
            payment_due_at: now.plus(deps.settings.payment_window()),
            lines,
            created_at: now,
            outcome: placing::accepted(request.pay_now),
        };
        let rid = id.reservation();
        let mut again = false;
        let attempt = loop {
            let attempt = placing::reserve_all(stock, &request.items, &rid, buyer, again).await;
            match attempt.end {
                End::Held => break attempt,
                End::Refused(reason, detail) => {
                    placing::give_back(stock, &attempt.taken, &rid).await;
                    if !attempt.replayed.is_empty() {
                        // An earlier request with this key holds lines: if
                        // its order exists, that order has the answer.
                        if let Some(existing) = self.settled(buyer, key).await? {
                            return self.replay(existing, &fingerprint).await;
                        }
                        // It was cut short before its order was written;
                        // nothing carries what it holds.
                        placing::give_back(stock, &attempt.replayed, &rid).await;
                    }
                    order.outcome = placing::refused(reason, detail);
                    count_transition(OrderStatus::Rejected);
                    // Nothing is held, so nothing waits on this write: the
                    // refusal is answered now and its record lands behind.
                    // A record that cannot land is forgotten here too, so
                    // that a retry writes it.
                    let answer = Placement::Refused(reason);
                    let lost = publisher.map(|p| {
                        let forget = p.forgetter();
                        p.publish(&answer);
                        forget
                    });
                    deps.writer.insert_behind(order, lost).await;
                    return Ok(answer);
                }
                End::KeyReused => {
                    placing::give_back(stock, &attempt.taken, &rid).await;
                    return Err(OrderError::KeyReused);
                }
                End::GivenBack => {
                    placing::give_back(stock, &attempt.taken, &rid).await;
                    if let Some(existing) = self.settled(buyer, key).await? {
                        return self.replay(existing, &fingerprint).await;
                    }
                    if again {
                        // Given back again while we judged: a concurrent
                        // request with this key; a retry gets its answer.
                        return Err(OrderError::Unavailable);
                    }
                    again = true;
                }
                // What is held stays held: a retry with the same key reuses it.
                End::Unavailable(e) => {
                    tracing::debug!(error = %e, "placing: stock undecided");
                    return Err(OrderError::Unavailable);
                }
            }
        };
        // The payment window runs from when the units were first held: a
        // retry that finds older holds gets what is left of it, so payment
        // never lands after the holds lapse.
        if let Some(lapses) = attempt.expires_at {
            let first_held = lapses.minus(deps.reservation_ttl);
            order.payment_due_at = order
                .payment_due_at
                .min(first_held.plus(deps.settings.payment_window()));
        }
        let record = OrderRecord::placed(order.clone());
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
                placing::give_back(stock, &ours, &rid).await;
                return self.replay(existing, &fingerprint).await;
            }
            Err(e) => return Err(e.into()),
        }
        count_transition(OrderStatus::AwaitingPayment);
        // The saga takes the order from what was just written.
        let answer = Placement::Accepted(Box::new(record.clone()));
        // Committed: from now on this is the key's answer, saga or not.
        if let Some(publisher) = publisher {
            publisher.publish(&answer);
        }
        self.start_saga(id, Some(record)).await?;
        Ok(answer)
    }

    /// The order that carries `key`, once every order write handed over
    /// before has landed (a refusal is recorded behind its answer). An order
    /// that ended without ever answering (a 503 of an earlier release) is
    /// forgotten: the key is judged again.
    async fn settled(&self, buyer: UserId, key: &str) -> Result<Option<OrderRecord>, OrderError> {
        let deps = &self.inner.deps;
        let existing = match deps.store.order_by_key(buyer, key).await? {
            Some(existing) => Some(existing),
            None => {
                deps.writer
                    .sync(deps.settings.reply_timeout())
                    .await
                    .map_err(|_| OrderError::Unavailable)?;
                deps.store.order_by_key(buyer, key).await?
            }
        };
        match existing {
            Some(o) if o.step == Step::Done && Placement::of(&o).is_none() => {
                deps.store.forget_unanswered_order(o.id).await?;
                Ok(None)
            }
            other => Ok(other),
        }
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
        if let Some(homes) = self.elsewhere(existing.id) {
            return self.replay_elsewhere(homes, existing).await;
        }
        let saga = self.saga(existing.id, None).await?;
        if let Some(answer) = Placement::of(&existing) {
            return Ok(answer);
        }
        self.call(&saga, SagaMsg::AwaitPlaced).await
    }

    /// Pays an `AWAITING_PAYMENT` order, with the saved method whose
    /// provider token is `token` if given; answers once payment succeeded
    /// or failed.
    pub async fn pay(
        &self,
        buyer: UserId,
        order_id: OrderId,
        token: Option<String>,
    ) -> Result<OrderRecord, OrderError> {
        let order = self.owned(buyer, order_id).await?;
        if order.status != OrderStatus::AwaitingPayment {
            return Err(OrderError::Conflict(format!(
                "a {} order cannot be paid",
                order.status
            )));
        }
        if let Some(homes) = self.elsewhere(order_id) {
            homes
                .forward(order_id, SagaRequest::Pay { buyer, token })
                .await?;
            return self.owned(buyer, order_id).await;
        }
        if let Some(token) = &token {
            // Written first, so a saga restarted mid-payment pays with it too.
            self.inner
                .deps
                .store
                .set_payment_token(order_id, token)
                .await?;
        }
        match self
            .ask(order_id, |reply| SagaMsg::Pay(token.clone(), reply))
            .await
        {
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
        if let Some(homes) = self.elsewhere(order_id) {
            homes
                .forward(order_id, SagaRequest::Cancel { buyer })
                .await?;
            return self.owned(buyer, order_id).await;
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
        if let Some(homes) = self.elsewhere(order_id) {
            return match homes.forward(order_id, SagaRequest::View).await? {
                SagaReply::View(view) => Ok(*view),
                SagaReply::Done => Err(OrderError::Unavailable),
            };
        }
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

    /// Every running saga, and every live order whose saga could not start.
    pub async fn sagas(&self) -> SagaList {
        SagaList {
            sagas: self.live_sagas().await,
            stuck: self.inner.stuck.list(),
        }
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

    /// Live sagas by status, compensations, payment answers and restarts,
    /// read from counters without asking any saga.
    pub fn saga_gauges(&self) -> SagaReading {
        self.inner.deps.gauges.read()
    }

    /// The ring of recent saga trouble (and whatever else reports there).
    pub fn incidents(&self) -> &crate::actors::incidents::Incidents {
        &self.inner.deps.incidents
    }

    /// Order writes waiting for the order writer's next batch.
    pub fn writes_queued(&self) -> usize {
        self.inner.deps.writer.queued()
    }

    /// Order-writer batches whose transaction failed (each then written
    /// one write at a time).
    pub fn writer_failed_batches(&self) -> u64 {
        self.inner.deps.writer.failed_batches()
    }

    /// New orders the order writer skipped as duplicates of their key.
    pub fn writer_skipped_writes(&self) -> u64 {
        self.inner.deps.writer.skipped()
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
        if let Some(retrier) = self.inner.retrier.get() {
            retrier.abort();
        }
        self.inner
            .supervisor
            .stop_children_and_wait(None, Some(Duration::from_secs(5)))
            .await;
        self.inner.supervisor.stop(None);
        self.inner.deps.behind.close();
        self.inner.deps.behind.wait().await;
    }

    /// The cluster's routing when `order`'s saga runs on another node.
    fn elsewhere(&self, order: OrderId) -> Option<&dyn SagaHomes> {
        self.inner.deps.homes.as_deref().filter(|h| !h.here(order))
    }

    /// Of the stored ids `raw`, those whose sagas this process runs (all of
    /// them outside a cluster; unreadable ones too, so they are listed as
    /// stuck).
    pub(super) fn ours(&self, raw: Vec<String>) -> Vec<String> {
        match &self.inner.deps.homes {
            None => raw,
            Some(homes) => raw
                .into_iter()
                .filter(|r| OrderId::parse(r).is_ok_and(|id| homes.here(id)))
                .collect(),
        }
    }

    /// Starts `id`'s saga where it runs: here, or on its shard's node.
    async fn start_saga(&self, id: OrderId, order: Option<OrderRecord>) -> Result<(), OrderError> {
        match self.elsewhere(id) {
            Some(homes) => homes.forward(id, SagaRequest::Start).await.map(|_| ()),
            None => self.saga(id, order).await.map(|_| ()),
        }
    }

    /// [`Orders::replay`] for an order whose saga runs on another node:
    /// started there, its first answer read from the store once it has one.
    async fn replay_elsewhere(
        &self,
        homes: &dyn SagaHomes,
        existing: OrderRecord,
    ) -> Result<Placement, OrderError> {
        if let Some(answer) = Placement::of(&existing) {
            homes.forward(existing.id, SagaRequest::Start).await?;
            return Ok(answer);
        }
        homes.forward(existing.id, SagaRequest::AwaitPlaced).await?;
        let order = self.inner.deps.store.order(existing.id).await?;
        order
            .as_ref()
            .and_then(Placement::of)
            .ok_or(OrderError::Unavailable)
    }

    /// Answers a request another node handed over for a saga run here.
    pub async fn answer_forwarded(
        &self,
        order: OrderId,
        request: SagaRequest,
    ) -> Result<SagaReply, OrderError> {
        if self.elsewhere(order).is_some() {
            // Not (or no longer) this node's: the sender's retry finds the owner.
            return Err(OrderError::Unavailable);
        }
        match request {
            SagaRequest::Start => self.saga(order, None).await.map(|_| SagaReply::Done),
            SagaRequest::AwaitPlaced => {
                let saga = self.saga(order, None).await?;
                self.call(&saga, SagaMsg::AwaitPlaced).await?;
                Ok(SagaReply::Done)
            }
            SagaRequest::Pay { buyer, token } => {
                self.pay(buyer, order, token).await.map(|_| SagaReply::Done)
            }
            SagaRequest::Cancel { buyer } => {
                self.cancel(buyer, order).await.map(|_| SagaReply::Done)
            }
            SagaRequest::View => self
                .saga_view(order)
                .await
                .map(|v| SagaReply::View(Box::new(v))),
        }
    }

    /// Stops the sagas of the orders `pick` selects (a cluster shard
    /// handed over), each after the message it is handling, then waits for
    /// their steps to commit: the next home resumes each from its recorded
    /// step.
    pub async fn retire(&self, pick: impl Fn(OrderId) -> bool) {
        let timeout = self.inner.deps.settings.reply_timeout();
        let picked: Vec<(OrderId, ActorRef<SagaMsg>)> = self
            .inner
            .registry
            .iter()
            .filter(|e| pick(*e.key()))
            .map(|e| (*e.key(), e.value().clone()))
            .collect();
        self.inner
            .stuck
            .forget_where(|raw| OrderId::parse(raw).is_ok_and(&pick));
        if picked.is_empty() {
            return;
        }
        futures::future::join_all(picked.iter().map(|(order, saga)| async move {
            if let Err(e) = saga
                .stop_and_wait(Some("handed over".into()), Some(timeout))
                .await
            {
                tracing::warn!(%order, error = %e, "a saga did not stop in time");
            }
        }))
        .await;
        if let Err(e) = self.inner.deps.writer.sync(timeout).await {
            tracing::warn!(error = %e, "a handed-over shard's last saga steps did not commit");
        }
    }

    /// True when `order`'s saga is running in this process.
    pub(super) fn runs(&self, order: OrderId) -> bool {
        self.inner.registry.contains_key(&order)
    }

    pub(super) fn deps(&self) -> &SagaDeps {
        &self.inner.deps
    }

    pub(super) fn stuck(&self) -> &Stuck {
        &self.inner.stuck
    }

    pub(super) async fn saga(
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
                    // Handed over meanwhile: a retry reaches its new home.
                    if self.elsewhere(order_id).is_some() {
                        return Err(OrderError::Unavailable.into());
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
