//! The watchers row (issue 12): the same drop fired with and without N
//! open control-room feeds (`GET /api/v1/admin/live`, read as a page reads
//! it), on one server, in alternating order over `--rounds` rounds. The
//! comparison is on medians: requests answered per second, purchases per
//! second and the buyers' p99, as ratios of the same run (the machine is
//! shared and noisy; absolutes drift between runs, ratios much less).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::paired;
use crate::report::Outcome;
use crate::{Args, prepare, run};

const SUFFIX: &str = "+watchers";

/// Open feeds, each read on a task of its own until [`Watchers::stop`].
pub struct Watchers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    snapshots: Arc<AtomicU64>,
}

impl Watchers {
    /// Signs in as the admin and opens `n` feeds; answers once every feed
    /// has its first bytes, so they are all open before the drop.
    pub async fn open(
        client: &reqwest::Client,
        base: &str,
        args: &Args,
        n: usize,
    ) -> anyhow::Result<Self> {
        let login: serde_json::Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": args.admin_email, "password": args.admin_password}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = login["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no admin token"))?
            .to_owned();
        let snapshots = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            // A client of its own: one connection per page, as browsers have.
            let mut res = crate::fire::client()?
                .get(format!("{base}/api/v1/admin/live"))
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?;
            let seen = Arc::clone(&snapshots);
            tasks.push(tokio::spawn(async move {
                while let Ok(Some(chunk)) = res.chunk().await {
                    let frames = chunk
                        .windows(15)
                        .filter(|w| *w == b"event: snapshot")
                        .count();
                    seen.fetch_add(frames as u64, Ordering::Relaxed);
                }
            }));
        }
        Ok(Self { tasks, snapshots })
    }

    /// Closes every feed; answers the snapshots they read.
    pub fn stop(self) -> u64 {
        for t in &self.tasks {
            t.abort();
        }
        self.snapshots.load(Ordering::Relaxed)
    }
}

pub fn slug(variant: &str) -> String {
    format!("{variant}{SUFFIX}")
}

pub fn label(variant: &str, args: &Args) -> String {
    format!("{variant}, {} control-room feeds open", args.watchers)
}

/// Fires `--rounds` pairs of drops on the running server of `variant`.
pub async fn compare(
    client: &reqwest::Client,
    base: &str,
    variant: (&str, &str),
    args: &Args,
) -> anyhow::Result<Vec<Outcome>> {
    let prepared = prepare(client, base, args).await?;
    let (plain, watched) = (
        (variant.0.to_string(), variant.1.to_string()),
        (slug(variant.0), label(variant.1, args)),
    );
    let mut outcomes = Vec::new();
    for round in 0..args.rounds.max(1) {
        for watching in paired::order(round) {
            let (slug, label) = if watching { &watched } else { &plain };
            let watchers = if watching {
                Some(Watchers::open(client, base, args, args.watchers).await?)
            } else {
                None
            };
            let o = run(client, &[base], (slug, label), &prepared, args, false).await;
            if let Some(w) = watchers {
                let read = w.stop();
                eprintln!(
                    "{slug}: {} feeds read {read} snapshots during the drop",
                    args.watchers
                );
            }
            outcomes.push(o?);
        }
    }
    Ok(outcomes)
}

/// Per variant: medians with and without watchers, and their ratios.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut t = String::from(
        "| stock decision | rounds | req/s without | req/s watched | ratio | \
         p99 ms without | p99 ms watched | ratio | drain ms without | drain ms watched |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut variants: Vec<&str> = Vec::new();
    for o in outcomes.iter().filter(|o| !o.variant.ends_with(SUFFIX)) {
        if !variants.contains(&o.variant.as_str()) {
            variants.push(&o.variant);
        }
    }
    for v in variants {
        let watched = slug(v);
        let pick = |name: &str, f: fn(&Outcome) -> f64| {
            paired::median(
                outcomes
                    .iter()
                    .filter(|o| o.variant == name)
                    .map(f)
                    .collect(),
            )
        };
        let rounds = outcomes.iter().filter(|o| o.variant == watched).count();
        let (rps, rps_w) = (
            pick(v, |o| o.requests_per_sec),
            pick(&watched, |o| o.requests_per_sec),
        );
        let (p99, p99_w) = (
            pick(v, |o| o.latency.p99_ms),
            pick(&watched, |o| o.latency.p99_ms),
        );
        let label = outcomes
            .iter()
            .find(|o| o.variant == v)
            .map_or(v, |o| o.label.as_str());
        let _ = writeln!(
            t,
            "| {label} | {rounds} | {rps:.0} | {rps_w:.0} | {:.2} | {p99:.0} | {p99_w:.0} | {:.2} | {:.0} | {:.0} |",
            rps_w / rps.max(1e-9),
            p99_w / p99.max(1e-9),
            pick(v, |o| o.drained_ms),
            pick(&watched, |o| o.drained_ms),
        );
    }
    t
}
