//! Peak resident memory of this process during a burst. The server runs in
//! this process beside the load tool, so the figure is of both together.
//! The kernel's high-water mark (`VmHWM` in `/proc/self/status`) is reset
//! before the burst by writing `5` to `/proc/self/clear_refs` and read after
//! it; where that write is refused, `VmRSS` is sampled every 10 ms during
//! the burst instead (which can miss a peak shorter than that). Either way
//! the allocator may keep what earlier bursts freed, so a later burst starts
//! from a higher floor: `before_mib` says where each one started.

use anyhow::Context;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// How the peak was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// `VmHWM` after a reset through `/proc/self/clear_refs`.
    HighWaterMark,
    /// The largest `VmRSS` of samples every 10 ms.
    Sampled,
}

impl Method {
    pub fn describe(self) -> &'static str {
        match self {
            Method::HighWaterMark => {
                "VmHWM of /proc/self/status, reset before each burst through /proc/self/clear_refs"
            }
            Method::Sampled => {
                "largest VmRSS of /proc/self/status sampled every 10 ms during each burst \
                 (resetting VmHWM through /proc/self/clear_refs was refused)"
            }
        }
    }
}

/// The memory of one burst.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Peak {
    /// Resident when the burst's watch started.
    pub before_mib: f64,
    pub peak_mib: f64,
    pub method: Method,
}

/// Watches the process's resident memory from [`Watch::start`] to
/// [`Watch::finish`].
pub struct Watch {
    before_kib: u64,
    sampler: Option<(tokio::task::JoinHandle<()>, Arc<AtomicU64>)>,
}

impl Watch {
    pub fn start() -> anyhow::Result<Self> {
        let before_kib = status_kib("VmRSS:")?;
        if std::fs::write("/proc/self/clear_refs", "5").is_ok() {
            return Ok(Self {
                before_kib,
                sampler: None,
            });
        }
        let peak = Arc::new(AtomicU64::new(before_kib));
        let seen = Arc::clone(&peak);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                if let Ok(kib) = status_kib("VmRSS:") {
                    seen.fetch_max(kib, Ordering::Relaxed);
                }
            }
        });
        Ok(Self {
            before_kib,
            sampler: Some((task, peak)),
        })
    }

    pub fn finish(self) -> anyhow::Result<Peak> {
        let mib = |kib: u64| kib as f64 / 1024.0;
        let (peak_kib, method) = match self.sampler {
            None => (status_kib("VmHWM:")?, Method::HighWaterMark),
            Some((task, peak)) => {
                task.abort();
                let last = status_kib("VmRSS:")?;
                (peak.load(Ordering::Relaxed).max(last), Method::Sampled)
            }
        };
        Ok(Peak {
            before_mib: mib(self.before_kib),
            peak_mib: mib(peak_kib),
            method,
        })
    }
}

/// A `kB` line of `/proc/self/status`, e.g. `VmHWM:`.
fn status_kib(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("/proc/self/status has no {field} line"))
}
