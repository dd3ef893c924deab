//! Group commit for the order side. Every new order and every saga step
//! must be durable before anyone acts on it, but a drop committing one
//! transaction per order and per step would drown the database (and, on
//! SQLite, starve the inventory engine's own batches). Placements and sagas
//! hand their writes to this writer and await the commit; whatever queued
//! while one batch committed goes into the next, in one transaction.
//!
//! The batching is [`group_commit`](crate::actors::group_commit)'s; this
//! module says how a batch of order writes is written: a new order whose
//! idempotency key is taken (a retry, a re-refusal) is skipped and its
//! caller hears `Duplicate` while the rest commit together, and a batch that
//! fails anyway is written again one write at a time. Batch size and queue bound
//! come from `[orders]` (`writer_batch_max`, `writer_queue_max`).

use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;

use crate::actors::group_commit::{
    Commit, Config, GroupCommit, NotDurable, OnFailure, Refused, Skipped, Trigger,
};
use crate::config::OrderSettings;
use crate::domain::ids::OrderId;
use crate::persistence::{NewOrder, OrderWrite, Store, StoreError, Transition};

/// How long shutdown waits for the last batch.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Called when a write handed over behind its answer could not land.
pub type Lost = Box<dyn FnOnce() + Send>;

#[derive(Debug, thiserror::Error)]
#[error("could not start the order writer: {0}")]
pub struct StartError(#[from] ractor::SpawnErr);

#[derive(Clone)]
pub struct OrderWriter {
    group: GroupCommit<OrderCommit>,
}

impl OrderWriter {
    /// Starts the writer on the current runtime. It runs until
    /// [`OrderWriter::shutdown`].
    pub async fn start(store: Store, settings: &OrderSettings) -> Result<Self, StartError> {
        let config = Config {
            trigger: Trigger::WhenFree,
            batch_max: settings.writer_batch_max,
            queue_max: settings.writer_queue_max,
        };
        Ok(Self {
            group: GroupCommit::start(OrderCommit { store }, config).await?,
        })
    }

    /// Records a new order; `Duplicate` if its idempotency key is taken.
    pub async fn insert(&self, order: NewOrder) -> Result<(), StoreError> {
        self.write(OrderWrite::Insert(order)).await
    }

    /// Hands a new order over without waiting for its commit (a refusal:
    /// it holds nothing, and its answer is already known). It waits only
    /// for room in the queue, so refusals are bounded like every write; a
    /// failure is logged (and `lost` called), and a taken key means a
    /// concurrent request with it was recorded first.
    pub async fn insert_behind(&self, order: NewOrder, lost: Option<Lost>) {
        self.group.room().await;
        self.group.write(
            OrderWrite::Insert(order),
            Some(Box::new(|result| match result {
                Ok(()) | Err(StoreError::Duplicate(_)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not record a refused order");
                    if let Some(lost) = lost {
                        lost();
                    }
                }
            })),
        );
    }

    /// Waits until every write handed over before is committed or answered.
    pub async fn sync(&self, timeout: Duration) -> Result<(), StoreError> {
        self.group.sync(None, timeout).await
    }

    /// Records one saga step; returns once it is committed.
    pub async fn record(&self, order_id: OrderId, step: Transition) -> Result<(), StoreError> {
        self.write(OrderWrite::Transition { order_id, step }).await
    }

    /// Writes handed over and not yet committed or answered.
    pub fn queued(&self) -> usize {
        usize::try_from(self.group.gauge().queued.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// New orders skipped since start because their key was taken: retries
    /// that reached the writer instead of being answered before it.
    pub fn skipped(&self) -> u64 {
        self.group.gauge().skipped.load(Ordering::Relaxed)
    }

    /// Batches whose transaction failed since start.
    pub fn failed_batches(&self) -> u64 {
        self.group.gauge().failures.load(Ordering::Relaxed)
    }

    /// Commits or answers every write handed over so far, then stops the
    /// writer; later writes get `Unavailable`.
    pub async fn shutdown(&self) -> Result<(), NotDurable> {
        let drained = self.group.drain(DRAIN_TIMEOUT).await;
        self.group.stop();
        drained
    }

    /// Hands `write` over, waiting while `writer_queue_max` writes wait, and
    /// returns once it is committed (or refused).
    async fn write(&self, write: OrderWrite) -> Result<(), StoreError> {
        self.group.room().await;
        let (done, committed) = oneshot::channel();
        self.group.write(
            write,
            Some(Box::new(move |result| {
                let _ = done.send(result);
            })),
        );
        committed
            .await
            .map_err(|_| OrderCommit::refusal(Refused::Unanswered))?
    }
}

struct OrderCommit {
    store: Store,
}

impl Commit for OrderCommit {
    type Write = OrderWrite;
    type Error = StoreError;
    const WRITER: &'static str = "orders";
    const ON_FAILURE: OnFailure = OnFailure::EachAlone;
    type Part = OrderId;

    fn part(write: &OrderWrite) -> OrderId {
        match write {
            OrderWrite::Insert(order) => order.id,
            OrderWrite::Transition { order_id, .. } => *order_id,
        }
    }

    async fn commit(&self, writes: &[&OrderWrite]) -> Result<Skipped, StoreError> {
        let taken = self.store.write_orders(writes).await?;
        Ok(taken
            .into_iter()
            .map(|i| (i, StoreError::Duplicate("idempotency key")))
            .collect())
    }

    fn refusal(why: Refused) -> StoreError {
        match why {
            Refused::Rejected(e) => e,
            Refused::Retrying => StoreError::Unavailable("the order batch is being retried".into()),
            Refused::Unanswered => StoreError::Unavailable("the order writer has stopped".into()),
        }
    }
}
