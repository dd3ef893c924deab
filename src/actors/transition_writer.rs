//! Group commit for saga transitions. Each saga step must be durable before
//! the saga acts on it, but a storm of sagas committing one transaction per
//! step would drown the database (and, on SQLite, starve the inventory
//! engine's own batches). Sagas hand their transitions to this writer and
//! await the commit; whatever queued while one batch committed goes into
//! the next, in one transaction.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::persistence::{Store, StoreError, Transition};

/// Most transitions one batch holds.
const BATCH_MAX: usize = 512;
/// Transitions waiting before sagas wait to hand theirs over.
const QUEUE_MAX: usize = 65_536;

struct Job {
    order_id: String,
    transition: Transition,
    done: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Clone)]
pub struct TransitionWriter {
    jobs: mpsc::Sender<Job>,
}

impl TransitionWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store) -> (Self, JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel(QUEUE_MAX);
        (Self { jobs }, tokio::spawn(run(store, queue)))
    }

    /// Records one transition; returns once it is committed.
    pub async fn record(&self, order_id: &str, transition: Transition) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        let job = Job {
            order_id: order_id.to_string(),
            transition,
            done,
        };
        let gone = || StoreError::Unavailable("the transition writer has stopped".into());
        self.jobs.send(job).await.map_err(|_| gone())?;
        committed.await.map_err(|_| gone())?
    }
}

async fn run(store: Store, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while queue.recv_many(&mut batch, BATCH_MAX).await > 0 {
        let items: Vec<(&str, &Transition)> = batch
            .iter()
            .map(|j| (j.order_id.as_str(), &j.transition))
            .collect();
        match store.record_transitions(&items).await {
            Ok(()) => {
                for job in batch.drain(..) {
                    let _ = job.done.send(Ok(()));
                }
            }
            // One bad row must not fail its neighbours: each alone.
            Err(e) => {
                tracing::warn!(error = %e, size = batch.len(), "transition batch failed; writing one by one");
                for job in batch.drain(..) {
                    let result = store
                        .record_transition(&job.order_id, &job.transition)
                        .await;
                    let _ = job.done.send(result);
                }
            }
        }
    }
}
