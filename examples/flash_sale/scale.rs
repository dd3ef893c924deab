//! Bursts of growing size (issue 15, "half a second"): does the drop stay
//! fast and correct as it grows? On one server per variant, buyers are
//! prepared once; then for each N of `--bursts` a fresh product with stock
//! N/10 opens and N purchases are pressed at its opening. `--hot-skus K`
//! adds a drop of the largest N spread over K SKUs that all open at once;
//! `--ceiling` fires the same burst at a trivial authenticated route before
//! each drop (`ceiling.rs`); `--browse-rate R` keeps catalog reads going
//! during each drop (`browse.rs`).
//!
//! Per drop: drain time (opening to last answer), percentiles, req/s, 5xx
//! and transport errors, and the process's peak resident memory
//! (`rss.rs`); per variant, whether the drain grows at most linearly with
//! N. The book checks of every drop are those of `report.rs`. Writes
//! `bursts.md`, `bursts.json` and `bursts.svg` into `--out`.

use futures::{StreamExt, stream};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;
use tokio::time::Instant;

use crate::browse::{self, BrowseOutcome};
use crate::ceiling::{self, Ceiling};
use crate::drop;
use crate::fire::{self, Burst, Shape};
use crate::report::{self, Outcome};
use crate::rss::{self, Peak};
use crate::server::{self, ServerConfig};
use crate::{Args, Prepared, chart, prepare};

/// The drain of a burst of N may take at most this much more per purchase
/// than the smallest burst's: linear growth with room for a noisy machine
/// (the default of `--linear-tolerance`).
pub const LINEAR_TOLERANCE: f64 = 1.25;
/// Units on sale per purchase pressed: stock N/10.
const STOCK_SHARE: usize = 10;
/// The reads start this long before the opening.
const BROWSE_BEFORE: Duration = Duration::from_secs(1);

/// One drop of the run.
#[derive(Debug, Clone, Copy)]
struct Step {
    purchases: usize,
    /// 1 for a burst of `--bursts`, K for the `--hot-skus` drop.
    skus: usize,
}

impl Step {
    fn stock(self) -> usize {
        self.purchases / STOCK_SHARE
    }

    fn name(self) -> String {
        match self.skus {
            1 => format!("{} purchases", thousands(self.purchases)),
            k => format!(
                "{} purchases over {} SKUs",
                thousands(self.purchases),
                thousands(k)
            ),
        }
    }
}

/// One drop's figures, as printed and as written to `bursts.json`.
#[derive(Debug, Serialize)]
pub struct Row {
    pub variant: String,
    pub label: String,
    /// "10,000 purchases", "100,000 purchases over 1,000 SKUs".
    pub drop: String,
    pub purchases: usize,
    pub skus: usize,
    pub stock: usize,
    /// From the opening to the last answer.
    pub drained_ms: f64,
    pub drained_ms_per_10k: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests_per_sec: f64,
    /// Purchases answered with a 5xx.
    pub server_errors: usize,
    /// Purchases that got no HTTP answer.
    pub transport_errors: usize,
    /// What the purchases answered 5xx or not at all got when sent again
    /// with the same Idempotency-Key after the drain (as a shop front
    /// retries): a 201 there is a unit the burst reserved but did not
    /// confirm in time.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub resent: BTreeMap<String, usize>,
    /// Not measured against `--target` (the server is not in this process).
    pub memory: Option<Peak>,
    pub ceiling: Option<Ceiling>,
    pub browse: Option<BrowseOutcome>,
    /// The burst's full figures and the books read back.
    pub books: Outcome,
}

impl Row {
    fn checks(&self) -> Vec<(String, bool)> {
        let mut checks = self.books.checks();
        checks.push((
            format!("no 5xx ({})", self.server_errors),
            self.server_errors == 0,
        ));
        checks.push((
            format!("no transport errors ({})", self.transport_errors),
            self.transport_errors == 0,
        ));
        if let Some(b) = &self.browse {
            checks.push(b.check());
        }
        if let Some(c) = &self.ceiling {
            checks.push(c.check());
        }
        checks
    }

    /// The purchase burst's req/s over the ceiling's.
    fn of_ceiling(&self) -> Option<f64> {
        self.ceiling
            .as_ref()
            .map(|c| self.requests_per_sec / c.requests_per_sec.max(1e-9))
    }
}

/// What `bursts.json` holds.
#[derive(Serialize)]
struct Results<'a> {
    rows: &'a [Row],
    /// `drain(N)/N <= tolerance * drain(smallest)/smallest`.
    linear_tolerance: f64,
    checks: Vec<Check>,
}

#[derive(Serialize)]
struct Check {
    check: String,
    ok: bool,
}

/// Whether any of the scale measurements was asked for.
pub fn asked(args: &Args) -> bool {
    !args.bursts.is_empty() || args.hot_skus.is_some() || args.browse_rate > 0.0 || args.ceiling
}

/// Runs every step on each variant's server (or `--target`), writes the
/// results, and fails when a check failed.
pub async fn run(args: &Args) -> anyhow::Result<()> {
    let client = &client()?;
    let steps = plan(args)?;
    if args.browse_rate > 0.0 {
        anyhow::ensure!(
            Duration::from_millis(args.lead_ms) >= BROWSE_BEFORE * 2,
            "--browse-rate starts reading 1 s before the opening: --lead-ms must be at least 2000"
        );
    }
    let mut rows = Vec::new();
    match args.target.first() {
        Some(base) => {
            anyhow::ensure!(
                args.target.len() == 1,
                "--bursts and --hot-skus take one --target"
            );
            let prepared = prepare(client, base, args).await?;
            for step in &steps {
                let variant = ("external", base.as_str());
                rows.push(drop_once(client, base, variant, &prepared, *step, args, false).await?);
            }
        }
        None => {
            // Every buyer's share of every drop this server sees.
            let per_buyer = steps
                .iter()
                .map(|s| s.purchases.div_ceil(args.buyers))
                .sum();
            let cfg = ServerConfig {
                mysql_url: &args.mysql_url,
                redis_url: &args.redis_url,
                row_lock_connections: args.row_lock_connections,
                db_connections: args.db_connections,
                buyers: args.buyers,
                requests_per_buyer: per_buyer,
                public_reads_per_second: args.browse_rate.ceil() as u32,
            };
            for variant in &args.variants {
                let running = server::start(*variant, &cfg).await?;
                let v = (variant.slug(), variant.label());
                let result = async {
                    let prepared = prepare(client, &running.address, args).await?;
                    let mut rows = Vec::new();
                    for step in &steps {
                        let row =
                            drop_once(client, &running.address, v, &prepared, *step, args, true);
                        rows.push(row.await?);
                    }
                    anyhow::Ok(rows)
                }
                .await;
                running.stop().await?;
                rows.extend(result?);
                // Let the last variant's connections and write-behind settle.
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
    let mut checks: Vec<(String, bool)> = rows
        .iter()
        .flat_map(|r| {
            r.checks()
                .into_iter()
                .map(|(c, ok)| (format!("{}, {}: {c}", r.variant, r.drop), ok))
        })
        .collect();
    checks.extend(linear_checks(&rows, args.linear_tolerance));
    let tables = markdown(&rows, &checks, args);
    println!("\n{tables}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("bursts.md"), &tables)?;
    let results = Results {
        rows: &rows,
        linear_tolerance: args.linear_tolerance,
        checks: checks
            .iter()
            .map(|(check, ok)| Check {
                check: check.clone(),
                ok: *ok,
            })
            .collect(),
    };
    std::fs::write(
        args.out.join("bursts.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    chart::draw_bursts(&rows, &args.out.join("bursts.svg"))?;
    println!("results written to {}", args.out.display());
    let failed = checks.iter().filter(|(_, ok)| !ok).count();
    anyhow::ensure!(failed == 0, "{failed} checks failed");
    Ok(())
}

/// The client of everything but the bursts and the reads (preparing,
/// listing, reading the books back): see [`fire::SHORT_IDLE`].
fn client() -> reqwest::Result<reqwest::Client> {
    fire::client_keeping_idle(fire::SHORT_IDLE)
}

/// The drops to fire, in order: every `--bursts` size (or `--purchases`),
/// then the `--hot-skus` drop of the largest.
fn plan(args: &Args) -> anyhow::Result<Vec<Step>> {
    anyhow::ensure!(
        args.retry_share == 0.0 && args.watchers == 0,
        "--bursts, --hot-skus, --browse-rate and --ceiling are a run of their own: \
         drop --retry-share and --watchers"
    );
    let sizes = if args.bursts.is_empty() {
        vec![args.purchases]
    } else {
        args.bursts.clone()
    };
    let mut steps: Vec<Step> = sizes
        .iter()
        .map(|&purchases| Step { purchases, skus: 1 })
        .collect();
    if let Some(skus) = args.hot_skus {
        let purchases = sizes.iter().copied().max().unwrap_or(args.purchases);
        steps.push(Step { purchases, skus });
    }
    for step in &steps {
        anyhow::ensure!(
            step.skus > 0 && step.stock() >= step.skus,
            "{} has stock {}: too little to give each of {} SKUs a unit",
            step.name(),
            step.stock(),
            step.skus
        );
    }
    Ok(steps)
}

/// The ceiling (when asked), then the drop with the reads beside it (when
/// asked), then its books.
async fn drop_once(
    client: &reqwest::Client,
    base: &str,
    variant: (&str, &str),
    prepared: &Prepared,
    step: Step,
    args: &Args,
    in_process: bool,
) -> anyhow::Result<Row> {
    let lead = Duration::from_millis(args.lead_ms);
    let name = step.name();
    println!("\n== {}: {name}", variant.1);
    let ceiling = if args.ceiling {
        let c = ceiling::measure(
            base,
            &prepared.buyers,
            step.purchases,
            args.connections,
            lead,
        );
        Some(c.await?)
    } else {
        None
    };
    let stock = i64::try_from(step.stock())?;
    let (opens_at, listed) = (chrono::Utc::now() + lead, Instant::now());
    let buyers = prepared.buyers.clone();
    let drop = match step.skus {
        1 => {
            drop::list_product(
                client,
                base,
                &prepared.seller,
                buyers,
                stock,
                None,
                opens_at,
            )
            .await?
        }
        k => {
            drop::list_hot_skus(client, base, &prepared.seller, buyers, k, stock, opens_at).await?
        }
    };
    // Fire a few ms after the opening so no purchase lands before it.
    let open = listed + lead + Duration::from_millis(5);
    let browsing = if args.browse_rate > 0.0 {
        let start = open - BROWSE_BEFORE;
        anyhow::ensure!(
            Instant::now() < start,
            "listing {name} took past the reads' start: raise --lead-ms"
        );
        let b = browse::start(
            base,
            &drop,
            args.browse_rate,
            args.browse_connections,
            start,
            open,
        );
        Some(b?)
    } else {
        None
    };
    eprintln!("{}: {name} opening in {} ms", variant.0, args.lead_ms);
    let memory = if in_process {
        Some(rss::Watch::start()?)
    } else {
        None
    };
    let shape = Shape {
        purchases: step.purchases,
        connections: args.connections,
        retrying_buyers: 0,
        copies: 1,
        persist: None,
        progress: Default::default(),
    };
    let burst = fire::fire(&[base], &drop, &shape, open).await;
    let memory = memory.map(rss::Watch::finish).transpose()?;
    // The reads stop at the drain, or now if the burst failed.
    let end = burst
        .as_ref()
        .map_or_else(|_| Instant::now(), |b| open + b.drained);
    let browse = match browsing {
        Some(b) => Some(b.stop(end).await?),
        None => None,
    };
    let burst = burst?;
    let label = format!("{}: {name}", variant.1);
    let books = report::outcome(
        client,
        base,
        (variant.0, &label),
        &drop,
        &burst,
        args.connections,
    )
    .await?;
    report::print(&books);
    if let Some(m) = &memory {
        println!(
            "   peak RSS {:.0} MiB (from {:.0} MiB at the start), {:?}",
            m.peak_mib, m.before_mib, m.method
        );
    }
    if let Some(b) = &browse {
        browse::print(b);
    }
    let (server_errors, transport_errors) = errors(&burst);
    let resent = resend_unanswered(base, &drop, &burst).await?;
    if !resent.is_empty() {
        println!(
            "   sent again with the same key after the drain: {}",
            counts(&resent)
        );
    }
    let row = Row {
        variant: variant.0.into(),
        label: variant.1.into(),
        drop: name,
        purchases: step.purchases,
        skus: step.skus,
        stock: step.stock(),
        drained_ms: books.drained_ms,
        drained_ms_per_10k: books.drained_ms / step.purchases as f64 * 10_000.0,
        p50_ms: books.latency.p50_ms,
        p99_ms: books.latency.p99_ms,
        requests_per_sec: books.requests_per_sec,
        server_errors,
        transport_errors,
        resent,
        memory,
        ceiling,
        browse,
        books,
    };
    if let Some(ratio) = row.of_ceiling() {
        println!("   purchase / ceiling: {ratio:.2}");
    }
    for (check, ok) in row.checks().iter().skip(row.books.checks().len()) {
        println!("   [{}] {check}", if *ok { "ok" } else { "FAIL" });
    }
    Ok(row)
}

/// Requests answered 5xx, and requests that got no answer.
fn errors(burst: &Burst) -> (usize, usize) {
    let server = burst
        .answers
        .iter()
        .filter(|a| a.status.is_some_and(|s| s >= 500))
        .count();
    let transport = burst.answers.iter().filter(|a| a.status.is_none()).count();
    (server, transport)
}

/// Sends every purchase that got a 5xx or no answer once more, same key,
/// same buyer, same SKU; answers what they got, by status and code.
async fn resend_unanswered(
    base: &str,
    drop: &drop::Drop,
    burst: &Burst,
) -> anyhow::Result<BTreeMap<String, usize>> {
    let client = fire::client()?;
    let url = format!("{base}/api/v1/orders");
    let again: Vec<&fire::Answer> = burst
        .answers
        .iter()
        .filter(|a| a.status.is_none_or(|s| s >= 500))
        .collect();
    let got: Vec<String> = stream::iter(again)
        .map(|a| {
            let (client, url) = (&client, &url);
            async move {
                let lot = drop.skus[a.purchase % drop.skus.len()];
                let res = client
                    .post(url)
                    .bearer_auth(&drop.buyers.tokens[a.buyer])
                    .header("Idempotency-Key", &*a.key)
                    .json(&fire::purchase_body(lot.sku_id))
                    .send()
                    .await;
                match res {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let body: serde_json::Value = res.json().await.unwrap_or_default();
                        match body["code"].as_str() {
                            Some(code) => format!("{status} {code}"),
                            None => status.to_string(),
                        }
                    }
                    Err(_) => "no answer".to_string(),
                }
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut by = BTreeMap::new();
    for g in got {
        *by.entry(g).or_insert(0) += 1;
    }
    Ok(by)
}

/// `{"201": 9, "409 OUT_OF_STOCK": 2}` as "9 x 201, 2 x 409 OUT_OF_STOCK".
fn counts(by: &BTreeMap<String, usize>) -> String {
    by.iter()
        .map(|(k, n)| format!("{n} x {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per variant: the drain of each single-SKU burst per purchase against
/// the smallest one's, within `tolerance`.
fn linear_checks(rows: &[Row], tolerance: f64) -> Vec<(String, bool)> {
    let mut checks = Vec::new();
    for variant in variants(rows) {
        let bursts: Vec<&Row> = rows
            .iter()
            .filter(|r| r.variant == variant && r.skus == 1)
            .collect();
        let Some(smallest) = bursts.iter().min_by_key(|r| r.purchases) else {
            continue;
        };
        let base = smallest.drained_ms / smallest.purchases as f64;
        for r in bursts.iter().filter(|r| r.purchases > smallest.purchases) {
            let per = r.drained_ms / r.purchases as f64;
            checks.push((
                format!(
                    "{variant}: drain grows at most linearly: {} drained in {:.0} ms, {:.1} ms per 10k \
                     <= {tolerance} x {:.1} ms per 10k of {}",
                    r.drop,
                    r.drained_ms,
                    per * 10_000.0,
                    base * 10_000.0,
                    smallest.drop
                ),
                per <= tolerance * base,
            ));
        }
    }
    checks
}

/// The variants of `rows`, in order of appearance.
fn variants(rows: &[Row]) -> Vec<&str> {
    let mut seen: Vec<&str> = Vec::new();
    for r in rows {
        if !seen.contains(&r.variant.as_str()) {
            seen.push(&r.variant);
        }
    }
    seen
}

/// `bursts.md`: the drops, the ceiling, the reads, and every check.
fn markdown(rows: &[Row], checks: &[(String, bool)], args: &Args) -> String {
    let command: Vec<String> = std::env::args().skip(1).collect();
    let mut t = format!(
        "Measured {} with `cargo run --release --example flash-sale -- {}`.\n\n\
         {} buyers, {} keep-alive connections opened before each opening, stock N/10 per \
         drop, latency from the opening to each answer.\n\n\
         | stock decision | drop | stock | drained ms | ms per 10k | p50 ms | p99 ms | req/s | \
         5xx | transport errors | RSS at start MiB | peak RSS MiB |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        command.join(" "),
        args.buyers,
        args.connections
    );
    for r in rows {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} |",
            r.label,
            r.drop,
            thousands(r.stock),
            r.drained_ms,
            r.drained_ms_per_10k,
            r.p50_ms,
            r.p99_ms,
            r.requests_per_sec,
            r.server_errors,
            r.transport_errors,
            r.memory
                .map_or_else(|| "not measured".into(), |m| format!("{:.0}", m.before_mib)),
            r.memory
                .map_or_else(|| "not measured".into(), |m| format!("{:.0}", m.peak_mib)),
        );
    }
    let methods: Vec<rss::Method> =
        rows.iter()
            .filter_map(|r| r.memory.map(|m| m.method))
            .fold(Vec::new(), |mut v, m| {
                if !v.contains(&m) {
                    v.push(m);
                }
                v
            });
    t.push_str(
        "\nPeak RSS is of the whole process: the server runs in it, beside the load tool \
         and its answers, on the system allocator (the `stampede` binary uses mimalloc). \
         RSS at start is what the process held when the burst's watch began: memory kept \
         from the signups and earlier bursts. ",
    );
    for m in methods {
        let _ = write!(t, "Taken as the {}. ", m.describe());
    }
    let _ = writeln!(
        t,
        "\"ms per 10k\" is the drain per 10,000 purchases: flat when the drain grows linearly \
         (checked: drain(N)/N <= {} x drain(smallest)/smallest).",
        args.linear_tolerance
    );
    if rows.iter().any(|r| r.ceiling.is_some()) {
        let _ = write!(
            t,
            "\nThe ceiling: the same burst at `GET {}` (token check only) just before each drop, \
             on the same server.\n\n\
             | stock decision | drop | ceiling req/s | ceiling drained ms | ceiling p99 ms | \
             purchase req/s | purchase / ceiling |\n\
             |---|---|---:|---:|---:|---:|---:|\n",
            ceiling::PATH
        );
        for r in rows {
            if let (Some(c), Some(ratio)) = (&r.ceiling, r.of_ceiling()) {
                let _ = writeln!(
                    t,
                    "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {ratio:.2} |",
                    r.label,
                    r.drop,
                    c.requests_per_sec,
                    c.drained_ms,
                    c.latency.p99_ms,
                    r.requests_per_sec
                );
            }
        }
    }
    if rows.iter().any(|r| r.browse.is_some()) {
        let _ = write!(
            t,
            "\nThe mixed day: catalog reads at {} per second over {} connections of their own \
             (listing, product detail, SKU availability in rotation), from 1 s before the opening \
             to the drain; latency from each read's scheduled time. Target: p99 < {} ms after \
             the opening.\n\n\
             | stock decision | drop | reads | p50 ms | p99 ms | reads after opening | p50 ms | \
             p99 ms | max ms | non-2xx | p99 < {} ms |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
            args.browse_rate,
            args.browse_connections,
            browse::TARGET_P99_MS,
            browse::TARGET_P99_MS
        );
        for r in rows {
            if let Some(b) = &r.browse {
                let after = &b.latency_after_opening;
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {:.1} | {:.1} | {} | {:.1} | {:.1} | {:.1} | {} | {} |",
                    r.label,
                    r.drop,
                    b.reads,
                    b.latency.p50_ms,
                    b.latency.p99_ms,
                    b.reads_after_opening,
                    after.p50_ms,
                    after.p99_ms,
                    after.max_ms,
                    b.not_ok_count(),
                    if b.meets_target() { "yes" } else { "no" }
                );
            }
        }
    }
    if rows.iter().any(|r| !r.resent.is_empty()) {
        t.push_str(
            "\nPurchases answered 5xx or not at all, sent again with the same Idempotency-Key \
             after the drain (as a shop front retries); a 201 there is a unit the burst \
             reserved but did not confirm in time:\n\n",
        );
        for r in rows.iter().filter(|r| !r.resent.is_empty()) {
            let _ = writeln!(t, "- {}, {}: {}", r.label, r.drop, counts(&r.resent));
        }
    }
    t.push_str("\nChecks:\n\n");
    for (check, ok) in checks {
        let _ = writeln!(t, "- [{}] {check}", if *ok { "ok" } else { "FAIL" });
    }
    t
}

/// 100000 as "100,000".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
