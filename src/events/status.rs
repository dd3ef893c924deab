//! What the relay knows about itself, kept in memory for the admin view,
//! the control room and `/metrics`: no database read per look.

use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use utoipa::ToSchema;

/// Where the relay stands with the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BrokerState {
    /// No `STAMPEDE_NATS_URL`: events stay in the outbox, read at the feed.
    Unconfigured,
    Connecting,
    Up,
    /// The last connect or publish failed; retrying with a backoff.
    Down,
}

impl BrokerState {
    fn from_u8(n: u8) -> Self {
        match n {
            1 => BrokerState::Connecting,
            2 => BrokerState::Up,
            3 => BrokerState::Down,
            _ => BrokerState::Unconfigured,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            BrokerState::Unconfigured => 0,
            BrokerState::Connecting => 1,
            BrokerState::Up => 2,
            BrokerState::Down => 3,
        }
    }
}

#[derive(Debug, Default)]
pub struct RelayStatus {
    broker: AtomicU8,
    pending: AtomicU64,
    lag_ms: AtomicI64,
    published: AtomicU64,
    last_published_seq: AtomicI64,
    last_error: Mutex<Option<String>>,
}

/// The outbox and its relay, as `GET /api/v1/admin/outbox` shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxView {
    pub broker: BrokerState,
    /// Events waiting to be published.
    pub pending: u64,
    /// Age of the oldest waiting event, in milliseconds (0 when none waits).
    pub lag_ms: i64,
    /// Events this process published since start.
    pub published: u64,
    /// Outbox `seq` of the last event published.
    pub last_published_seq: i64,
    /// The last failure to connect, publish or read, if any.
    pub last_error: Option<String>,
    /// The JetStream stream and subject prefix events go to.
    pub stream: String,
    pub subject_prefix: String,
}

impl RelayStatus {
    pub fn broker(&self) -> BrokerState {
        BrokerState::from_u8(self.broker.load(Ordering::Relaxed))
    }

    pub(super) fn set_broker(&self, state: BrokerState) {
        self.broker.store(state.as_u8(), Ordering::Relaxed);
    }

    pub(super) fn set_backlog(&self, pending: u64, lag_ms: i64) {
        self.pending.store(pending, Ordering::Relaxed);
        self.lag_ms.store(lag_ms, Ordering::Relaxed);
    }

    pub(super) fn published(&self, n: u64, last_seq: i64) {
        self.published.fetch_add(n, Ordering::Relaxed);
        self.last_published_seq.store(last_seq, Ordering::Relaxed);
    }

    pub(super) fn note_error(&self, why: &str) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(why.to_owned());
        }
    }

    pub fn view(&self, stream: &str, subject_prefix: &str) -> OutboxView {
        OutboxView {
            broker: self.broker(),
            pending: self.pending.load(Ordering::Relaxed),
            lag_ms: self.lag_ms.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            last_published_seq: self.last_published_seq.load(Ordering::Relaxed),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
            stream: stream.to_owned(),
            subject_prefix: subject_prefix.to_owned(),
        }
    }
}
