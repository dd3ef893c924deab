//! Group commit for the order side. Every new order and every saga step
//! must be durable before anyone acts on it, but a drop committing one
//! transaction per order and per step would drown the database (and, on
//! SQLite, starve the inventory engine's own batches). Placements and sagas
//! hand their writes to this writer and await the commit; whatever queued
//! while one batch committed goes into the next, in one transaction.

use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::domain::ids::OrderId;
use crate::persistence::{NewOrder, OrderWrite, Store, StoreError, Transition};
use crate::prometheus::{BATCH_SIZE, FLUSH_DURATION};

/// Most writes one batch holds.
const BATCH_MAX: usize = 512;
/// Writes waiting before callers wait to hand theirs over.
const QUEUE_MAX: usize = 65_536;

struct Job {
    write: OrderWrite,
    done: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Clone)]
pub struct OrderWriter {
    jobs: mpsc::Sender<Job>,
}

impl OrderWriter {
    /// Starts the writer task on the current runtime. It ends by itself
    /// once every handle is dropped.
    pub fn start(store: Store) -> (Self, JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel(QUEUE_MAX);
        (Self { jobs }, tokio::spawn(run(store, queue)))
    }

    /// Records a new order; `Duplicate` if its idempotency key is taken.
    pub async fn insert(&self, order: NewOrder) -> Result<(), StoreError> {
        self.write(OrderWrite::Insert(order)).await
    }

    /// Records one saga step; returns once it is committed.
    pub async fn record(&self, order_id: OrderId, step: Transition) -> Result<(), StoreError> {
        self.write(OrderWrite::Transition { order_id, step }).await
    }

    /// Writes handed over and not yet taken into a batch.
    pub fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    async fn write(&self, write: OrderWrite) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        let gone = || StoreError::Unavailable("the order writer has stopped".into());
        self.jobs
            .send(Job { write, done })
            .await
            .map_err(|_| gone())?;
        committed.await.map_err(|_| gone())?
    }
}

async fn run(store: Store, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while queue.recv_many(&mut batch, BATCH_MAX).await > 0 {
        let (started, size) = (Instant::now(), batch.len());
        let writes: Vec<&OrderWrite> = batch.iter().map(|j| &j.write).collect();
        match store.write_orders(&writes).await {
            Ok(()) => {
                for job in batch.drain(..) {
                    let _ = job.done.send(Ok(()));
                }
            }
            // One bad write (a taken idempotency key) must not fail its
            // neighbours: each is tried alone and gets its own answer.
            Err(e) => {
                if batch.len() > 1 {
                    tracing::debug!(error = %e, size = batch.len(), "order batch failed; writing one by one");
                }
                for job in batch.drain(..) {
                    let result = store.write_orders(&[&job.write]).await;
                    let _ = job.done.send(result);
                }
            }
        }
        // The one-by-one fallback is part of the flush: callers waited for it.
        metrics::histogram!(BATCH_SIZE, "writer" => "orders").record(size as f64);
        metrics::histogram!(FLUSH_DURATION, "writer" => "orders")
            .record(started.elapsed().as_secs_f64());
    }
}
