//! The control room's live feed (`GET /api/v1/admin/live`, Server-Sent
//! Events). One pulse task per application builds a [`LiveSnapshot`] from
//! in-memory counters about twice a second, serialises it once, and hands
//! the frame to every open stream through a `watch` channel: ten open pages
//! cost one snapshot, not ten, and a slow page skips frames instead of
//! queueing them. Nothing here reads the database.
//!
//! - [`window`]: the rolling per-second request window the chart draws,
//!   fed by the request middleware;
//! - [`hot`]: which SKUs are shown and their purchase rates;
//! - `outbox`: the relay's backlog, from its in-memory status;
//! - [`snapshot`]: the message and its schema;
//! - [`pulse`]: the task that builds it;
//! - [`stream`]: one subscriber's event stream, ended at shutdown.

pub mod hot;
mod outbox;
pub mod pulse;
pub mod snapshot;
pub mod stream;
pub mod window;

use actix_web::web::Bytes;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use pulse::{OutboxGauge, Sources};
pub use snapshot::LiveSnapshot;
pub use window::RequestWindow;

/// The feed of one application: the latest frame, the request window the
/// middleware feeds, and the signal that ends every stream at shutdown.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    frames: watch::Sender<Bytes>,
    requests: Arc<RequestWindow>,
    closing: CancellationToken,
}

impl Live {
    /// Starts the pulse on the current runtime.
    pub fn start(sources: Sources) -> Self {
        let (frames, _) = watch::channel(Bytes::new());
        let live = Self {
            inner: Arc::new(Inner {
                frames,
                requests: Arc::new(RequestWindow::default()),
                closing: CancellationToken::new(),
            }),
        };
        tokio::spawn(pulse::run(live.clone(), sources));
        live
    }

    /// The window the request middleware records into.
    pub fn requests(&self) -> &RequestWindow {
        &self.inner.requests
    }

    /// Ends every open stream and the pulse; new streams end at once.
    pub fn close(&self) {
        self.inner.closing.cancel();
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closing.is_cancelled()
    }

    fn subscribe(&self) -> watch::Receiver<Bytes> {
        self.inner.frames.subscribe()
    }

    fn closing(&self) -> CancellationToken {
        self.inner.closing.clone()
    }

    /// Whether any stream is open (the pulse builds nothing otherwise).
    fn watched(&self) -> bool {
        self.inner.frames.receiver_count() > 0
    }

    fn publish(&self, frame: Bytes) {
        self.inner.frames.send_replace(frame);
    }
}
