//! The mixed day (`--browse-rate R`): while a drop is fired, shoppers keep
//! browsing. A set of connections of its own (not the burst's) sends reads
//! at a steady R per second, in rotation: the product listing, the drop's
//! product detail (with live availability per SKU) and a SKU's availability.
//! The reads start 1 s before the opening and stop being sent when the
//! burst drains. Each read's latency runs from the time it was scheduled,
//! not from when a connection took it, so a read that waited behind a slow
//! one counts its wait (no coordinated omission). The target is a
//! p99 under 100 ms for the reads sent after the opening.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::drop::Drop;
use crate::fire;
use crate::report::{self, Latency};

/// The bar for the reads during the drop.
pub const TARGET_P99_MS: f64 = 100.0;

/// The three reads, in rotation.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Listing,
    Detail,
    Availability,
}

impl Kind {
    fn of(k: usize) -> Self {
        match k % 3 {
            0 => Kind::Listing,
            1 => Kind::Detail,
            _ => Kind::Availability,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Listing => "GET /products",
            Kind::Detail => "GET /products/{id}",
            Kind::Availability => "GET /skus/{id}/availability",
        }
    }
}

/// One read and what it got.
struct Read {
    kind: Kind,
    scheduled: Instant,
    /// The status, or the transport error when no answer came.
    status: Result<u16, String>,
    /// From the scheduled send time to the end of the answer's body.
    latency: Duration,
}

/// What the reads of one drop got.
#[derive(Debug, Serialize)]
pub struct BrowseOutcome {
    pub rate: f64,
    pub connections: usize,
    /// Every read, from 1 s before the opening to the drain.
    pub reads: usize,
    pub latency: Latency,
    /// The reads scheduled from the opening on (the burst's time).
    pub reads_after_opening: usize,
    pub latency_after_opening: Latency,
    /// Reads answered 2xx, by kind.
    pub ok: BTreeMap<String, usize>,
    /// Reads not answered 2xx, by kind and status (or `no answer`).
    pub not_ok: BTreeMap<String, usize>,
}

impl BrowseOutcome {
    pub fn not_ok_count(&self) -> usize {
        self.not_ok.values().sum()
    }

    /// Every read answered 2xx: a refused or failed read is a failure of
    /// the service, not a slow one.
    pub fn check(&self) -> (String, bool) {
        (
            format!(
                "browse reads answered 2xx {}/{}",
                self.reads - self.not_ok_count(),
                self.reads
            ),
            self.not_ok.is_empty(),
        )
    }

    /// The target (reported, not a failing check: it is a
    /// latency goal on a shared machine, not a correctness property).
    pub fn meets_target(&self) -> bool {
        self.latency_after_opening.p99_ms < TARGET_P99_MS
    }
}

/// Reads running until [`Browsing::stop`].
pub struct Browsing {
    rate: f64,
    connections: usize,
    open: Instant,
    end: watch::Sender<Option<Instant>>,
    workers: Vec<tokio::task::JoinHandle<Vec<Read>>>,
}

/// Starts `connections` readers that send `rate` reads per second in all,
/// scheduled from `start` on, about `drop`'s products and SKUs.
pub fn start(
    base: &str,
    drop: &Drop,
    rate: f64,
    connections: usize,
    start: Instant,
    open: Instant,
) -> anyhow::Result<Browsing> {
    anyhow::ensure!(rate > 0.0, "--browse-rate must be above 0");
    anyhow::ensure!(
        !drop.products.is_empty() && !drop.skus.is_empty(),
        "nothing to browse"
    );
    // Its readers share the pool: a connection some reader opened may
    // wait seconds for the next read.
    let client = fire::client_keeping_idle(fire::SHORT_IDLE)?;
    let paths: Arc<Paths> = Arc::new(Paths {
        listing: format!("{base}/api/v1/products?category=drops&page=1&page_size=20"),
        details: drop
            .products
            .iter()
            .map(|p| format!("{base}/api/v1/products/{p}"))
            .collect(),
        availabilities: drop
            .skus
            .iter()
            .map(|lot| format!("{base}/api/v1/skus/{}/availability", lot.sku_id))
            .collect(),
    });
    let (end, ends) = watch::channel(None);
    let next = Arc::new(AtomicUsize::new(0));
    let every = 1.0 / rate;
    let health = format!("{base}/health/live");
    let workers = (0..connections.max(1))
        .map(|_| {
            let (client, paths, next, health) = (
                client.clone(),
                Arc::clone(&paths),
                Arc::clone(&next),
                health.clone(),
            );
            let mut ends = ends.clone();
            tokio::spawn(async move {
                // Opens this reader's connection before its first read.
                let _ = client.get(&health).send().await;
                let mut reads = Vec::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let scheduled = start + Duration::from_secs_f64(k as f64 * every);
                    if !due(scheduled, &mut ends).await {
                        break;
                    }
                    let kind = Kind::of(k);
                    let url = paths.of(kind, k / 3);
                    let status = match client.get(url).send().await {
                        // The whole body: the connection is free only then.
                        Ok(res) => {
                            let status = res.status().as_u16();
                            res.bytes().await.map(|_| status)
                        }
                        Err(e) => Err(e),
                    }
                    .map_err(|e| fire::transport_error(&e));
                    reads.push(Read {
                        kind,
                        scheduled,
                        status,
                        latency: Instant::now().saturating_duration_since(scheduled),
                    });
                }
                reads
            })
        })
        .collect();
    Ok(Browsing {
        rate,
        connections: connections.max(1),
        open,
        end,
        workers,
    })
}

/// Waits for `at`; false when the reads ended (at `end`) before it.
async fn due(at: Instant, ends: &mut watch::Receiver<Option<Instant>>) -> bool {
    loop {
        if let Some(end) = *ends.borrow_and_update()
            && at > end
        {
            return false;
        }
        if Instant::now() >= at {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep_until(at) => return true,
            changed = ends.changed() => {
                if changed.is_err() {
                    return false;
                }
            }
        }
    }
}

struct Paths {
    listing: String,
    details: Vec<String>,
    availabilities: Vec<String>,
}

impl Paths {
    /// The `n`-th read of `kind`: products and SKUs in turn.
    fn of(&self, kind: Kind, n: usize) -> &str {
        match kind {
            Kind::Listing => &self.listing,
            Kind::Detail => &self.details[n % self.details.len()],
            Kind::Availability => &self.availabilities[n % self.availabilities.len()],
        }
    }
}

impl Browsing {
    /// Sends no read scheduled after `end` and waits for those in flight.
    pub async fn stop(self, end: Instant) -> anyhow::Result<BrowseOutcome> {
        // The readers hold receivers; a send error means they are all gone.
        let _ = self.end.send(Some(end));
        let mut reads = Vec::new();
        for worker in self.workers {
            reads.extend(worker.await?);
        }
        let mut ok = BTreeMap::new();
        let mut not_ok = BTreeMap::new();
        for r in &reads {
            match &r.status {
                Ok(s) if (200..300).contains(s) => {
                    *ok.entry(r.kind.name().to_string()).or_insert(0) += 1;
                }
                Ok(s) => *not_ok.entry(format!("{} {s}", r.kind.name())).or_insert(0) += 1,
                Err(e) => {
                    *not_ok
                        .entry(format!("{} no answer: {e}", r.kind.name()))
                        .or_insert(0) += 1;
                }
            }
        }
        let after: Vec<&Read> = reads.iter().filter(|r| r.scheduled >= self.open).collect();
        Ok(BrowseOutcome {
            rate: self.rate,
            connections: self.connections,
            reads: reads.len(),
            latency: report::latency(reads.iter().map(|r| r.latency))?,
            reads_after_opening: after.len(),
            latency_after_opening: report::latency(after.iter().map(|r| r.latency))?,
            ok,
            not_ok,
        })
    }
}

pub fn print(b: &BrowseOutcome) {
    println!(
        "   browse at {:.0}/s over {} connections: {} reads, p50 {:.1} ms p99 {:.1} ms; \
         after the opening {} reads, p50 {:.1} ms p99 {:.1} ms max {:.1} ms (target p99 < {TARGET_P99_MS:.0} ms: {})",
        b.rate,
        b.connections,
        b.reads,
        b.latency.p50_ms,
        b.latency.p99_ms,
        b.reads_after_opening,
        b.latency_after_opening.p50_ms,
        b.latency_after_opening.p99_ms,
        b.latency_after_opening.max_ms,
        if b.meets_target() { "met" } else { "missed" }
    );
    for (what, n) in &b.not_ok {
        println!("   {n:>7}  browse {what}");
    }
}
