//! The request chart's data: a rolling window of the last few minutes, one
//! slot per wall-clock second, each counting requests and sorting their
//! latencies into fixed log-scale buckets (four per power of two, so a
//! percentile read from them is within 25%). Fed by the request middleware
//! (`http/metrics.rs`) on every request, so recording is a handful of
//! relaxed atomic adds: no lock, no allocation.
//!
//! A slot is reused every [`SECONDS`]: the first request of a new second
//! claims it with a compare-and-swap and clears it. A request racing that
//! claim may be cleared with the old second's counts; the chart can miss a
//! request at a second's edge, never invent one.

use serde::Serialize;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use utoipa::ToSchema;

/// Seconds kept: the chart's width.
pub const SECONDS: usize = 300;
/// Latency buckets: 0 to 3 µs one each, then four per power of two up to
/// about 67 s (2^26 µs); slower requests share the last one.
const BUCKETS: usize = 26 * 4;

struct Slot {
    /// Unix second this slot counts (0: never used).
    second: AtomicU64,
    requests: AtomicU64,
    server_errors: AtomicU64,
    latency: [AtomicU32; BUCKETS],
}

impl Slot {
    fn new() -> Self {
        Self {
            second: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    fn clear(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.server_errors.store(0, Ordering::Relaxed);
        for b in &self.latency {
            b.store(0, Ordering::Relaxed);
        }
    }
}

/// One second of the chart.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RequestSecond {
    /// Unix time, seconds.
    pub t: u64,
    pub requests: u64,
    /// Answers with a 5xx status.
    pub server_errors: u64,
    /// Latency percentiles in milliseconds (upper bound of the bucket);
    /// 0 when the second saw no request.
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The window; one per application.
pub struct RequestWindow {
    slots: Box<[Slot]>,
}

impl Default for RequestWindow {
    fn default() -> Self {
        Self {
            slots: (0..SECONDS).map(|_| Slot::new()).collect(),
        }
    }
}

/// The current Unix second.
pub fn unix_second() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl RequestWindow {
    /// Counts one answered request.
    pub fn record(&self, latency: Duration, server_error: bool) {
        self.record_at(unix_second(), latency, server_error);
    }

    fn record_at(&self, second: u64, latency: Duration, server_error: bool) {
        let slot = &self.slots[(second % SECONDS as u64) as usize];
        let seen = slot.second.load(Ordering::Acquire);
        if seen != second
            && slot
                .second
                .compare_exchange(seen, second, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            slot.clear();
        }
        slot.requests.fetch_add(1, Ordering::Relaxed);
        if server_error {
            slot.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        slot.latency[bucket(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// The `n` whole seconds before `now` (the current one is still
    /// filling), oldest first; seconds nobody asked anything are zeros.
    pub fn seconds_before(&self, now: u64, n: usize) -> Vec<RequestSecond> {
        let n = n.min(SECONDS - 1) as u64;
        (now.saturating_sub(n)..now)
            .map(|t| self.second(t))
            .collect()
    }

    fn second(&self, t: u64) -> RequestSecond {
        let slot = &self.slots[(t % SECONDS as u64) as usize];
        let empty = RequestSecond {
            t,
            requests: 0,
            server_errors: 0,
            p50_ms: 0.0,
            p99_ms: 0.0,
        };
        if slot.second.load(Ordering::Acquire) != t {
            return empty;
        }
        let counts: Vec<u64> = slot
            .latency
            .iter()
            .map(|b| u64::from(b.load(Ordering::Relaxed)))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return empty;
        }
        RequestSecond {
            requests: slot.requests.load(Ordering::Relaxed),
            server_errors: slot.server_errors.load(Ordering::Relaxed),
            p50_ms: percentile(&counts, total, 0.50),
            p99_ms: percentile(&counts, total, 0.99),
            ..empty
        }
    }
}

/// The bucket of a latency in microseconds.
fn bucket(micros: u64) -> usize {
    if micros < 4 {
        return micros as usize;
    }
    let log = 63 - u64::from(micros.leading_zeros());
    let sub = (micros >> (log - 2)) & 3;
    (((log - 1) * 4 + sub) as usize).min(BUCKETS - 1)
}

/// The exclusive upper bound of a bucket, in microseconds.
fn upper_micros(bucket: usize) -> u64 {
    if bucket < 4 {
        return bucket as u64 + 1;
    }
    let log = (bucket / 4) as u64 + 1;
    let sub = (bucket % 4) as u64;
    (5 + sub) << (log - 2)
}

fn percentile(counts: &[u64], total: u64, q: f64) -> f64 {
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return upper_micros(i) as f64 / 1000.0;
        }
    }
    upper_micros(BUCKETS - 1) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latency_falls_below_its_bucket_bound_within_a_quarter() {
        let mut last = 0;
        for micros in (0..20_000u64).chain([1 << 20, (1 << 26) - 1]) {
            let b = bucket(micros);
            assert!(b >= last || micros >= 1 << 20, "buckets grow with latency");
            last = b;
            let upper = upper_micros(b);
            assert!(micros < upper, "{micros} below bound {upper}");
            assert!(
                upper <= micros + micros / 4 + 1,
                "{micros}: bound {upper} too loose"
            );
        }
    }

    #[test]
    fn percentiles_per_second_and_gaps_as_zeros() {
        let w = RequestWindow::default();
        for _ in 0..99 {
            w.record_at(1_000, Duration::from_millis(2), false);
        }
        w.record_at(1_000, Duration::from_millis(800), true);
        w.record_at(1_002, Duration::from_micros(100), false);
        let s = w.seconds_before(1_003, 3);
        assert_eq!(
            s.iter().map(|p| p.t).collect::<Vec<_>>(),
            [1_000, 1_001, 1_002]
        );
        assert_eq!((s[0].requests, s[0].server_errors), (100, 1));
        assert!((2.0..=2.5).contains(&s[0].p50_ms), "{}", s[0].p50_ms);
        assert!((2.0..=2.5).contains(&s[0].p99_ms), "{}", s[0].p99_ms);
        assert_eq!(s[1].requests, 0);
        assert_eq!(s[2].requests, 1);
    }

    #[test]
    fn a_slot_is_cleared_when_its_second_comes_round_again() {
        let w = RequestWindow::default();
        w.record_at(10, Duration::from_millis(1), false);
        w.record_at(10 + SECONDS as u64, Duration::from_millis(1), false);
        assert_eq!(w.seconds_before(11, 1)[0].requests, 0);
        assert_eq!(w.seconds_before(11 + SECONDS as u64, 1)[0].requests, 1);
    }
}
