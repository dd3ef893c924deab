//! The pulse: one task per application that, while anyone watches, builds
//! a [`LiveSnapshot`] every [`EVERY`] from the actors' counters (SKU
//! mirrors, the persister's and order writer's gauges, the sagas' counts,
//! the incident ring, the request window) and publishes it as one SSE
//! frame. It also turns failure counters that moved since the last pulse
//! into incidents (a failed batch, a restarted actor).

use actix_web::web::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Live;
use super::hot::HotSkus;
use super::snapshot::{
    EngineLive, LiveSnapshot, OrdersLive, OutboxLive, PaymentTally, Restarts, StatusCount,
};
use super::window::{SECONDS, unix_second};
use crate::actors::{Inventory, Orders};
use crate::domain::order::OrderStatus;
use crate::domain::time::Timestamp;

/// How often a snapshot is built.
pub const EVERY: Duration = Duration::from_millis(500);
/// Seconds of requests each snapshot carries for the chart.
const CHART_SECONDS: usize = 180;
const _: () = assert!(CHART_SECONDS < SECONDS);

/// How far the event outbox relay is behind, read from the relay's own
/// in-memory status (`http/live/outbox.rs`); `startup` hands it over.
pub trait OutboxGauge: Send + Sync + 'static {
    fn read(&self) -> OutboxLive;
}

/// What the pulse reads.
pub struct Sources {
    pub inventory: Inventory,
    pub orders: Orders,
    /// `None`: no outbox relay runs (tools that build the pulse alone).
    pub outbox: Option<Arc<dyn OutboxGauge>>,
}

/// Failure counters as of the last pulse, to report what moved.
#[derive(Default)]
struct Seen {
    persister_failures: u64,
    persister_restarts: u64,
    sku_restarts: u64,
    writer_failures: u64,
}

pub(super) async fn run(live: Live, sources: Sources) {
    let closing = live.closing();
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut hot = HotSkus::default();
    let mut seen = Seen::default();
    let mut last = Instant::now();
    let mut seq = 0u64;
    loop {
        tokio::select! {
            () = closing.cancelled() => return,
            _ = every.tick() => {}
        }
        if !live.watched() {
            continue;
        }
        let elapsed = last.elapsed().as_secs_f64();
        last = Instant::now();
        seq += 1;
        let snapshot = build(&live, &sources, &mut hot, &mut seen, seq, elapsed);
        match serde_json::to_string(&snapshot) {
            Ok(json) => live.publish(Bytes::from(format!(
                "event: snapshot\nid: {seq}\ndata: {json}\n\n"
            ))),
            Err(e) => tracing::warn!(error = %e, "could not serialise the live snapshot"),
        }
    }
}

fn build(
    live: &Live,
    sources: &Sources,
    hot: &mut HotSkus,
    seen: &mut Seen,
    seq: u64,
    elapsed: f64,
) -> LiveSnapshot {
    let now = Timestamp::now();
    let overview = sources.inventory.overview();
    let p = &overview.persister;
    let sagas = sources.orders.saga_gauges();
    report(sources, seen, &overview);
    let counts = |values: &[i64]| -> Vec<StatusCount> {
        OrderStatus::ALL
            .iter()
            .zip(values)
            .map(|(s, n)| StatusCount {
                status: s.as_str(),
                count: *n,
            })
            .collect()
    };
    let ended: Vec<i64> = sagas
        .ended
        .iter()
        .map(|n| i64::try_from(*n).unwrap_or(i64::MAX))
        .collect();
    LiveSnapshot {
        at: now,
        seq,
        skus: hot.take(&sources.inventory, now, elapsed),
        engine: EngineLive {
            active_sku_actors: overview.active_sku_actors,
            sku_mailbox_depth: overview.mailbox_depth,
            persister_queue: p.queued,
            persister_queue_max: p.queue_max,
            last_batch_size: p.last_flush_size,
            last_flush_ms: p.last_flush_micros as f64 / 1000.0,
            batches_committed: p.batches_committed,
            persister_failing: p.failing,
            order_writer_queue: sources.orders.writes_queued(),
            restarts: Restarts {
                sku_actors: overview.restarts,
                persister: p.restarts,
                sagas: sagas.restarts,
            },
            outbox: sources.outbox.as_ref().map(|o| o.read()),
        },
        orders: OrdersLive {
            live: counts(&sagas.live),
            live_total: sagas.live.iter().sum(),
            compensating: sagas.compensating,
            ended: counts(&ended)
                .into_iter()
                .filter(|c| OrderStatus::parse(c.status).is_some_and(OrderStatus::is_final))
                .collect(),
            payments: PaymentTally {
                authorised: sagas.authorised,
                declined: sagas.declined,
                timed_out: sagas.timed_out,
                unreachable: sagas.unreachable,
            },
        },
        incidents: sources.orders.incidents().newest_first(),
        requests: live.requests().seconds_before(unix_second(), CHART_SECONDS),
    }
}

/// Turns failure counters that moved since the last pulse into incidents.
fn report(
    sources: &Sources,
    seen: &mut Seen,
    overview: &crate::actors::stock::views::ActorsOverview,
) {
    let incidents = sources.orders.incidents();
    let p = &overview.persister;
    let moved = |now: u64, before: &mut u64| {
        let n = now.saturating_sub(*before);
        *before = now.max(*before);
        n
    };
    let n = moved(p.failed_flushes, &mut seen.persister_failures);
    if n > 0 {
        incidents.error(
            "persister",
            format!("{n} stock batch(es) failed to commit; retrying"),
        );
    }
    let n = moved(p.restarts, &mut seen.persister_restarts);
    if n > 0 {
        incidents.error(
            "persister",
            format!("the persister was restarted {n} time(s)"),
        );
    }
    let n = moved(overview.restarts, &mut seen.sku_restarts);
    if n > 0 {
        incidents.error(
            "sku_actor",
            format!("{n} SKU actor restart(s) after a panic"),
        );
    }
    let n = moved(
        sources.orders.writer_failed_batches(),
        &mut seen.writer_failures,
    );
    if n > 0 {
        incidents.error(
            "order_writer",
            format!("{n} order batch(es) failed; written one by one"),
        );
    }
}
