//! Prometheus metrics: the names of every metric family, their histogram
//! buckets, and the process-wide recorder that `GET /metrics` renders.
//!
//! The `metrics` facade has one global recorder per process, while tests run
//! several apps in one process: [`install`] sets ours up once and hands every
//! caller a handle to that same recorder.

use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// HTTP requests by `method`, matched `route` pattern and `status`.
pub const HTTP_REQUESTS: &str = "stampede_http_requests_total";
/// HTTP request latency, same labels as [`HTTP_REQUESTS`].
pub const HTTP_DURATION: &str = "stampede_http_request_duration_seconds";
/// Messages or writes waiting, by actor `kind`; sampled at scrape time.
pub const MAILBOX_DEPTH: &str = "stampede_mailbox_depth";
/// Live actors by `kind`; sampled at scrape time.
pub const ACTORS: &str = "stampede_actors";
/// Reserve decisions taken by SKU actors, by `outcome`.
pub const RESERVES: &str = "stampede_reserves_total";
/// Reserves a SKU actor decided in one turn (taken from its intake).
pub const INTAKE_BATCH: &str = "stampede_reserve_intake_batch";
/// Writes per committed group-commit batch, by `writer`.
pub const BATCH_SIZE: &str = "stampede_batch_size";
/// Time to commit one batch, by `writer`.
pub const FLUSH_DURATION: &str = "stampede_flush_duration_seconds";
/// Batches whose transaction failed, by `writer`.
pub const BATCH_FAILURES: &str = "stampede_batch_failures_total";
/// Parts of a failing batch the store refused alone and that were held
/// apart (for stock, a SKU), by `writer`.
pub const BATCH_QUARANTINES: &str = "stampede_batch_quarantines_total";
/// Parts held apart right now, by `writer`.
pub const QUARANTINED_PARTS: &str = "stampede_quarantined_parts";
/// SKU actor activations (each one a store read), by `outcome`: `loaded`,
/// `unknown`, `failed`; sampled at scrape time.
pub const SKU_ACTIVATIONS: &str = "stampede_sku_activations_total";
/// Order status transitions recorded by sagas, by `from` and `to` status.
pub const SAGA_TRANSITIONS: &str = "stampede_saga_transitions_total";
/// Password hashes and checks running right now (bounded by a semaphore).
pub const PASSWORD_HASHES_IN_FLIGHT: &str = "stampede_password_hashes_in_flight";

/// Events waiting in the outbox to be published.
pub const OUTBOX_PENDING: &str = "stampede_outbox_pending";
/// Age of the oldest event waiting in the outbox (0 when none waits).
pub const OUTBOX_LAG: &str = "stampede_outbox_lag_seconds";
/// Events the broker acknowledged (`duplicate` = "true" when it already
/// had the id: a publish repeated after a crash or a lost answer).
pub const OUTBOX_PUBLISHED: &str = "stampede_outbox_published_total";
/// Publish attempts that failed (broker down, slow or refusing).
pub const OUTBOX_FAILURES: &str = "stampede_outbox_publish_failures_total";

/// Mails in the queue by `status` (`queued`, `failed`); sampled by the sender.
pub const MAIL_QUEUE: &str = "stampede_mail_queue";
/// Mails handed to the relay (or written to the mail directory).
pub const MAIL_SENT: &str = "stampede_mail_sent_total";
/// Send attempts that failed, by `final` ("true" when the mail was given up).
pub const MAIL_FAILURES: &str = "stampede_mail_send_failures_total";

/// Seconds: sub-millisecond in-memory answers up to stuck database calls.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Writes per batch, up to the largest batches the writers allow.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
];
/// How often histogram samples are folded into their buckets between
/// scrapes, so an unscraped process does not keep every sample.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, thiserror::Error)]
pub enum RecorderError {
    #[error("invalid histogram buckets: {0}")]
    Buckets(String),
    /// Something other than this module installed a recorder first.
    #[error("another metrics recorder is already installed in this process")]
    Taken,
}

static RECORDER: OnceLock<Result<PrometheusHandle, RecorderError>> = OnceLock::new();

/// Installs the Prometheus recorder on first call; later calls answer the
/// same handle (or the same error).
pub fn install() -> Result<PrometheusHandle, RecorderError> {
    RECORDER.get_or_init(build).clone()
}

fn build() -> Result<PrometheusHandle, RecorderError> {
    let buckets =
        |e: metrics_exporter_prometheus::BuildError| RecorderError::Buckets(e.to_string());
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS)
        .map_err(buckets)?
        .set_buckets_for_metric(Matcher::Full(FLUSH_DURATION.into()), LATENCY_BUCKETS)
        .map_err(buckets)?
        .set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), BATCH_BUCKETS)
        .map_err(buckets)?
        .set_buckets_for_metric(Matcher::Full(INTAKE_BATCH.into()), BATCH_BUCKETS)
        .map_err(buckets)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| RecorderError::Taken)?;
    describe();
    // Scrapes fold samples too, so a missing upkeep thread only costs memory.
    let upkeep = handle.clone();
    if let Err(e) = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        })
    {
        tracing::warn!(error = %e, "no metrics upkeep thread; histograms fold only on scrape");
    }
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        Unit::Count,
        "HTTP requests by method, matched route pattern and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by method, matched route pattern and status."
    );
    describe_gauge!(
        MAILBOX_DEPTH,
        Unit::Count,
        "Requests or writes waiting, by actor kind (sku, persister, order_writer)."
    );
    describe_gauge!(ACTORS, Unit::Count, "Live actors by kind (sku, saga).");
    describe_gauge!(
        MAIL_QUEUE,
        Unit::Count,
        "Mails in the queue by status (queued: waiting or retrying; failed: given up)."
    );
    describe_counter!(
        MAIL_SENT,
        Unit::Count,
        "Mails handed to the SMTP relay or written to the mail directory."
    );
    describe_counter!(
        MAIL_FAILURES,
        Unit::Count,
        "Mail send attempts that failed; final=true when the mail was given up."
    );
    describe_gauge!(
        OUTBOX_PENDING,
        Unit::Count,
        "Events waiting in the outbox to be published to the broker."
    );
    describe_gauge!(
        OUTBOX_LAG,
        Unit::Seconds,
        "Age of the oldest event waiting in the outbox (0 when none waits)."
    );
    describe_counter!(
        OUTBOX_PUBLISHED,
        Unit::Count,
        "Events the broker acknowledged; duplicate=true when it already had the id."
    );
    describe_counter!(
        OUTBOX_FAILURES,
        Unit::Count,
        "Outbox publish attempts that failed (broker down, slow or refusing)."
    );
    describe_counter!(
        RESERVES,
        Unit::Count,
        "Reserve decisions taken by SKU actors, by outcome."
    );
    describe_histogram!(
        INTAKE_BATCH,
        Unit::Count,
        "Reserves a SKU actor decided in one turn, taken from its intake at once."
    );
    describe_histogram!(
        BATCH_SIZE,
        Unit::Count,
        "Writes per committed batch, by writer (inventory, orders)."
    );
    describe_histogram!(
        FLUSH_DURATION,
        Unit::Seconds,
        "Time to commit one batch, by writer (inventory, orders)."
    );
    describe_gauge!(
        PASSWORD_HASHES_IN_FLIGHT,
        Unit::Count,
        "Password hashes and checks running on the blocking pool right now."
    );
    describe_counter!(
        BATCH_FAILURES,
        Unit::Count,
        "Batches whose transaction failed, by writer (inventory, orders)."
    );
    describe_counter!(
        BATCH_QUARANTINES,
        Unit::Count,
        "Parts of a failing batch (SKUs, for inventory) that the store refused alone and that were held apart while the rest committed, by writer."
    );
    describe_gauge!(
        QUARANTINED_PARTS,
        Unit::Count,
        "Parts held apart right now, by writer; see /admin/actors for which and why."
    );
    describe_counter!(
        SKU_ACTIVATIONS,
        Unit::Count,
        "SKU actor activations (one store read each), by outcome (loaded, unknown, failed)."
    );
    describe_counter!(
        SAGA_TRANSITIONS,
        Unit::Count,
        "Order transitions recorded by sagas, by from and to status."
    );
}
