//! Events out of the shop: the transactional outbox's other half.
//!
//! Writers append events in the transactions that make their changes
//! durable (`persistence/outbox.rs`; the group commits carry them, so the
//! purchase path gains no round trip). Here they leave: the [`relay`]
//! publishes them in order to NATS JetStream through the [`broker`], the
//! [`sale_clock`] appends the events that only time makes (a sale window
//! opening), and [`status`] keeps what both know in memory for the admin
//! views and `/metrics`. Without a broker configured the relay only keeps
//! the backlog figures; the outbox is read at `GET /api/v1/admin/events`.

pub mod broker;
mod relay;
pub mod sale_clock;
pub mod status;

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{NatsSettings, OutboxSettings};
use crate::persistence::Store;
use relay::Relay;
pub use status::{BrokerState, OutboxView, RelayStatus};

/// The running relay and sale clock; cheap to clone.
#[derive(Clone)]
pub struct Events {
    status: Arc<RelayStatus>,
    stream: String,
    subject_prefix: String,
    source: String,
    stop: CancellationToken,
    tasks: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Events {
    pub fn start(store: Store, nats: &NatsSettings, outbox: &OutboxSettings) -> Self {
        let status = Arc::new(RelayStatus::default());
        let stop = CancellationToken::new();
        let relay = Relay::new(
            store.clone(),
            nats.clone(),
            outbox.clone(),
            Arc::clone(&status),
            stop.clone(),
        );
        let tasks = vec![
            tokio::spawn(relay.run()),
            tokio::spawn(sale_clock::run(store, outbox.sale_clock(), stop.clone())),
        ];
        Self {
            status,
            stream: nats.stream.clone(),
            subject_prefix: nats.subject_prefix.clone(),
            source: outbox.source.clone(),
            stop,
            tasks: Arc::new(std::sync::Mutex::new(tasks)),
        }
    }

    pub fn view(&self) -> OutboxView {
        self.status.view(&self.stream, &self.subject_prefix)
    }

    /// The CloudEvents `source` of every event.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Stops the sale clock and lets the relay publish what the final
    /// drains appended (bounded), then returns.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let tasks = match self.tasks.lock() {
            Ok(mut tasks) => std::mem::take(&mut *tasks),
            Err(_) => Vec::new(),
        };
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "event task ended abnormally");
            }
        }
    }
}
