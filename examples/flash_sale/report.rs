//! What a run measured and what it proved: throughput, latency
//! percentiles, answers by status and problem code, and the read-back from
//! the API that shows nothing was oversold and every 201 order exists.

use futures::{StreamExt, stream};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::drop::{Drop, Lot};
use crate::fire::{Answer, Burst};

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One drop's figures, as printed and as written to the results file.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub variant: String,
    pub label: String,
    /// Purchases (distinct Idempotency-Keys) pressed at the opening.
    pub purchases: usize,
    /// HTTP requests sent, copies and retries included.
    pub requests: usize,
    /// Purchases whose buyer sent the request more than once.
    pub retried: usize,
    pub connections: usize,
    pub warm_connections: usize,
    /// Purchases every copy of which got an HTTP answer.
    pub answered: usize,
    pub drained_ms: f64,
    /// HTTP requests answered per second, from the opening to the last.
    pub requests_per_sec: f64,
    /// Purchases answered per second (equal to `requests_per_sec` when
    /// nobody sends a purchase twice).
    pub purchases_per_sec: f64,
    /// From the opening to each answer (what a buyer saw).
    pub latency: Latency,
    /// From sending to each answer (the server's share).
    pub service: Latency,
    /// Per purchase: `"201"`, `"409 OUT_OF_STOCK"`, `"no answer: connect
    /// error"`, …; a purchase whose copies were answered differently counts
    /// under `"copies disagree"`.
    pub answers: BTreeMap<String, usize>,
    /// Purchases whose copies got different answers (status, code or order
    /// id), with what each copy got; at most ten are kept.
    pub disagreeing: usize,
    pub disagreements: Vec<String>,
    pub stock: i64,
    /// Distinct orders answered 201.
    pub created: usize,
    /// SKUs the stock was spread over (1 but for `--hot-skus`).
    #[serde(skip_serializing_if = "is_one")]
    pub skus: usize,
    /// SKUs whose reserved + sold went past their own stock.
    #[serde(skip_serializing_if = "is_zero")]
    pub skus_oversold: usize,
    /// Read back from `GET /skus/{id}/availability` (summed over the SKUs).
    pub reserved: i64,
    pub sold: i64,
    pub available: i64,
    /// Orders answered 201 that `GET /orders/{id}` still shows.
    pub orders_found: usize,
    pub oversold: bool,
}

impl Outcome {
    /// Every purchase answered, exactly the stock taken, no 201 lost, and
    /// every copy of a purchase answered alike.
    pub fn checks(&self) -> Vec<(String, bool)> {
        let taken = self.reserved + self.sold;
        let mut checks = vec![
            (
                format!("answered {}/{}", self.answered, self.purchases),
                self.answered == self.purchases,
            ),
            (
                format!("201s {} = stock {}", self.created, self.stock),
                i64::try_from(self.created).is_ok_and(|c| c == self.stock),
            ),
            (
                format!("taken (reserved+sold) {taken} = 201s {}", self.created),
                i64::try_from(self.created).is_ok_and(|c| c == taken),
            ),
            (
                format!("not oversold ({taken} <= {})", self.stock),
                !self.oversold,
            ),
            (
                format!("201 orders found {}/{}", self.orders_found, self.created),
                self.orders_found == self.created,
            ),
        ];
        if self.skus > 1 {
            checks.push((
                format!(
                    "no SKU oversold ({} of {} over their stock)",
                    self.skus_oversold, self.skus
                ),
                self.skus_oversold == 0,
            ));
        }
        if self.retried > 0 {
            checks.push((
                format!(
                    "sent twice or more, answered alike {}/{}",
                    self.retried - self.disagreeing.min(self.retried),
                    self.retried
                ),
                self.disagreeing == 0,
            ));
        }
        checks
    }
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub fn latency(samples: impl Iterator<Item = Duration>) -> anyhow::Result<Latency> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for d in samples {
        h.saturating_record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1));
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Latency {
        p50_ms: ms(h.value_at_quantile(0.50)),
        p90_ms: ms(h.value_at_quantile(0.90)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    })
}

/// How one answer is counted: `"201"`, `"409 OUT_OF_STOCK"`, `"no answer: …"`.
pub fn answer_key(a: &Answer) -> String {
    match (a.status, &a.code) {
        (Some(s), Some(code)) => format!("{s} {code}"),
        (Some(s), None) => s.to_string(),
        (None, code) => format!("no answer: {}", code.as_deref().unwrap_or("?")),
    }
}

/// The answers of one purchase (every copy), grouped by purchase index.
pub fn by_purchase(answers: &[Answer]) -> BTreeMap<usize, Vec<&Answer>> {
    let mut grouped: BTreeMap<usize, Vec<&Answer>> = BTreeMap::new();
    for a in answers {
        grouped.entry(a.purchase).or_default().push(a);
    }
    grouped
}

/// Whether every copy of a purchase got the same status, code and order id.
pub fn agree(copies: &[&Answer]) -> bool {
    copies.windows(2).all(|w| {
        w[0].status == w[1].status && w[0].code == w[1].code && w[0].order_id == w[1].order_id
    })
}

/// Reads the SKUs' levels and every 201 order back through the API.
pub async fn outcome(
    client: &reqwest::Client,
    base: &str,
    variant: (&str, &str),
    drop: &Drop,
    burst: &Burst,
    connections: usize,
) -> anyhow::Result<Outcome> {
    let purchases = by_purchase(&burst.answers);
    let mut answers = BTreeMap::new();
    let (mut retried, mut disagreeing, mut disagreements) = (0, 0, Vec::new());
    for (i, copies) in &purchases {
        retried += usize::from(copies.len() > 1);
        let key = if agree(copies) {
            answer_key(copies[0])
        } else {
            disagreeing += 1;
            if disagreements.len() < 10 {
                let got: Vec<String> = copies
                    .iter()
                    .map(|a| format!("{} {:?}", answer_key(a), a.order_id))
                    .collect();
                disagreements.push(format!("purchase {i}: {}", got.join(" | ")));
            }
            "copies disagree".into()
        };
        *answers.entry(key).or_insert(0) += 1;
    }
    // Distinct orders answered 201, with the buyer who may read each.
    let mut created: BTreeMap<&str, usize> = BTreeMap::new();
    for a in burst.answers.iter().filter(|a| a.status == Some(201)) {
        let id = a.order_id.as_deref().unwrap_or("201 without order_id");
        created.insert(id, a.buyer);
    }
    let levels: Vec<anyhow::Result<(Lot, serde_json::Value)>> = stream::iter(drop.skus.iter())
        .map(|lot| async move {
            let level: serde_json::Value = client
                .get(format!("{base}/api/v1/skus/{}/availability", lot.sku_id))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            anyhow::Ok((*lot, level))
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let (mut reserved, mut sold, mut available, mut skus_oversold) = (0, 0, 0, 0);
    for level in levels {
        let (lot, level) = level?;
        let field = |k: &str| level[k].as_i64().unwrap_or(-1);
        let (r, s) = (field("reserved"), field("sold"));
        reserved += r;
        sold += s;
        available += field("available");
        skus_oversold += usize::from(r + s > lot.stock || r < 0);
    }
    let found: Vec<bool> = stream::iter(created.iter())
        .map(|(id, buyer)| async move {
            client
                .get(format!("{base}/api/v1/orders/{id}"))
                .bearer_auth(&drop.buyers.tokens[*buyer])
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let answered = purchases
        .values()
        .filter(|copies| copies.iter().all(|a| a.status.is_some()))
        .count();
    let requests: usize = burst.answers.iter().map(|a| a.attempts as usize).sum();
    let secs = burst.drained.as_secs_f64().max(1e-9);
    Ok(Outcome {
        variant: variant.0.into(),
        label: variant.1.into(),
        purchases: purchases.len(),
        requests,
        retried,
        connections,
        warm_connections: burst.warm_connections,
        answered,
        drained_ms: burst.drained.as_secs_f64() * 1000.0,
        requests_per_sec: requests as f64 / secs,
        purchases_per_sec: purchases.len() as f64 / secs,
        latency: latency(burst.answers.iter().map(|a| a.since_open))?,
        service: latency(burst.answers.iter().map(|a| a.service))?,
        answers,
        disagreeing,
        disagreements,
        stock: drop.stock,
        created: created.len(),
        skus: drop.skus.len(),
        skus_oversold,
        reserved,
        sold,
        available,
        orders_found: found.into_iter().filter(|f| *f).count(),
        oversold: reserved + sold > drop.stock || reserved < 0 || skus_oversold > 0,
    })
}

pub fn print(o: &Outcome) {
    println!("\n== {} ({})", o.label, o.variant);
    println!(
        "   {} purchases, {} requests over {} connections ({} warm) | drained in {:.0} ms | {:.0} req/s, {:.0} purchases/s",
        o.purchases,
        o.requests,
        o.connections,
        o.warm_connections,
        o.drained_ms,
        o.requests_per_sec,
        o.purchases_per_sec
    );
    let l = &o.latency;
    println!(
        "   latency from opening: p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
    );
    let s = &o.service;
    println!(
        "   server time per request: p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms
    );
    for (answer, n) in &o.answers {
        println!("   {n:>7}  {answer}");
    }
    for d in &o.disagreements {
        println!("   copies disagree: {d}");
    }
    println!(
        "   stock {} | reserved {} sold {} available {} (read back from the API)",
        o.stock, o.reserved, o.sold, o.available
    );
    for (check, ok) in o.checks() {
        println!("   [{}] {check}", if ok { "ok" } else { "FAIL" });
    }
}

/// The comparison table, each variant against the baseline (first row
/// whose variant is `baseline`, else the first row).
pub fn table(outcomes: &[Outcome], baseline: &str) -> String {
    let base = outcomes
        .iter()
        .find(|o| o.variant == baseline)
        .or(outcomes.first())
        .map_or(1.0, |o| o.requests_per_sec);
    let mut t = String::from(
        "| stock decision | req/s | vs row lock | p50 ms | p99 ms | max ms | drained ms | 201s | oversold |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for o in outcomes {
        t.push_str(&format!(
            "| {} | {:.0} | {:.1}x | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} |\n",
            o.label,
            o.requests_per_sec,
            o.requests_per_sec / base,
            o.latency.p50_ms,
            o.latency.p99_ms,
            o.latency.max_ms,
            o.drained_ms,
            o.created,
            if o.oversold { "YES" } else { "no" },
        ));
    }
    t
}
