//! The actix ceiling (`--ceiling`): before a drop, on the same server, the
//! same burst (as many requests, over as many connections opened before,
//! all pressed at one instant, carrying the same buyers' tokens) at
//! `GET /api/v1/auth/whoami`, the cheapest authenticated route: it checks
//! the bearer token and says whose it is, nothing more. Its req/s is what
//! the HTTP stack, the auth extractor and the load tool allow on this
//! machine; the purchase burst's req/s as a fraction of it ("purchase /
//! ceiling") is how close the purchase path comes to that.

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

use crate::drop::Buyers;
use crate::fire::{self, Shape};
use crate::report::{self, Latency};

pub const PATH: &str = "/api/v1/auth/whoami";

/// One ceiling burst.
#[derive(Debug, Serialize)]
pub struct Ceiling {
    pub requests: usize,
    pub warm_connections: usize,
    /// From the instant to the last answer.
    pub drained_ms: f64,
    pub requests_per_sec: f64,
    pub latency: Latency,
    /// By status (and problem code): `"200"`, `"401 UNAUTHORIZED"`, …
    pub answers: BTreeMap<String, usize>,
}

impl Ceiling {
    /// A ceiling is one only if every request was answered 200.
    pub fn check(&self) -> (String, bool) {
        let ok = self.answers.get("200").copied().unwrap_or(0);
        (
            format!("ceiling: {PATH} answered 200 {ok}/{}", self.requests),
            ok == self.requests,
        )
    }
}

/// Fires `requests` whoami requests over `connections` connections opened
/// during `lead`, all at its end.
pub async fn measure(
    base: &str,
    buyers: &Buyers,
    requests: usize,
    connections: usize,
    lead: Duration,
) -> anyhow::Result<Ceiling> {
    let shape = Shape {
        purchases: requests,
        connections,
        retrying_buyers: 0,
        copies: 1,
        persist: None,
        progress: Default::default(),
    };
    let burst = fire::fire_get(base, buyers, PATH, &shape, Instant::now() + lead).await?;
    let mut answers = BTreeMap::new();
    for a in &burst.answers {
        *answers.entry(report::answer_key(a)).or_insert(0) += 1;
    }
    let ceiling = Ceiling {
        requests: burst.answers.len(),
        warm_connections: burst.warm_connections,
        drained_ms: burst.drained.as_secs_f64() * 1000.0,
        requests_per_sec: burst.answers.len() as f64 / burst.drained.as_secs_f64().max(1e-9),
        latency: report::latency(burst.answers.iter().map(|a| a.since_open))?,
        answers,
    };
    println!(
        "   ceiling ({PATH}): {} requests drained in {:.0} ms, {:.0} req/s, p50 {:.1} ms p99 {:.1} ms; {}",
        ceiling.requests,
        ceiling.drained_ms,
        ceiling.requests_per_sec,
        ceiling.latency.p50_ms,
        ceiling.latency.p99_ms,
        ceiling
            .answers
            .iter()
            .map(|(k, n)| format!("{n} x {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ceiling)
}
