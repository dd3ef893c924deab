//! flash-sale: proves a preorder drop end to end over real HTTP.
//!
//! For each variant it starts stampede in this process on a fresh database
//! (or targets a running server with `--target`), prepares the drop through
//! the public API, presses every purchase at the opening instant, and
//! prints throughput, latency percentiles, answers by status and problem
//! code, and a read-back from the API that checks nothing was oversold and
//! every 201 order exists. The variants differ only in the stock decision
//! behind the inventory port (see `ports/`). Results go to `--out` as JSON,
//! a Markdown table and an SVG chart.
//!
//! `--retry-share` adds, per variant, the same drop with a share of buyers
//! sending every purchase several times (`retry.rs`); `--kill-loop N` runs
//! N drops against the real binary, each cut by a SIGKILL (`kill/`);
//! `--watchers N` compares each drop with and without N open control-room
//! feeds (`watch.rs`).
//!
//! `--bursts`, `--hot-skus`, `--browse-rate` and `--ceiling` measure how the
//! drop scales instead (`scale.rs`): bursts of growing size on one server,
//! a drop over many SKUs at once, catalog reads beside each drop
//! (`browse.rs`) and the HTTP stack's own ceiling (`ceiling.rs`), with the
//! process's peak memory (`rss.rs`); results go to `bursts.md`,
//! `bursts.json` and `bursts.svg`.

mod browse;
mod ceiling;
mod chart;
mod drop;
mod fire;
mod kill;
mod paired;
mod ports;
mod report;
mod retry;
mod rss;
mod scale;
mod server;
mod watch;

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

use server::{ServerConfig, Variant};

#[derive(Parser, Debug)]
#[command(about = "Fire a preorder drop at stampede and check the books")]
struct Args {
    /// Purchases pressed at the opening instant.
    #[arg(long, default_value_t = 10_000)]
    purchases: usize,
    /// Units on sale.
    #[arg(long, default_value_t = 1_000)]
    stock: i64,
    /// Distinct buyers (accounts with tokens) sharing the purchases.
    #[arg(long, default_value_t = 500)]
    buyers: usize,
    /// Keep-alive connections carrying the burst, opened before the opening.
    #[arg(long, default_value_t = 1_000)]
    connections: usize,
    /// Stock decisions to compare, in this order, each on a fresh server.
    #[arg(long, value_enum, value_delimiter = ',',
          default_values_t = [Variant::Stampede, Variant::RowLock, Variant::RedisLua])]
    variants: Vec<Variant>,
    /// A running stampede to fire at instead (no variants, no restart).
    /// Several (comma-separated or repeated): the nodes of one cluster; the
    /// drop is listed through the first and the burst's connections are
    /// spread over all of them, as behind a load balancer.
    #[arg(long, value_delimiter = ',')]
    target: Vec<String>,
    /// MariaDB server; each variant gets a fresh `flash_sale_<variant>` database.
    #[arg(long, default_value = "mysql://root@127.0.0.1:3306")]
    mysql_url: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Connection pool of the row-lock variant (a seed's Hikari pool).
    #[arg(long, default_value_t = 64)]
    row_lock_connections: u32,
    /// Connection pool of the service's store (the service's default is 16).
    #[arg(long, default_value_t = 16)]
    db_connections: u32,
    /// Time from listing the product to its opening.
    #[arg(long, default_value_t = 3_000)]
    lead_ms: u64,
    /// Where results.json, results.md and chart.svg (and the kill loop's
    /// and retry comparison's files) are written.
    #[arg(long, default_value = "target/flash-sale")]
    out: PathBuf,
    /// Units one buyer may hold (the sale's per-user limit); none when unset,
    /// except in the kill loop, which defaults to twice the stock over the
    /// buyers, so the limit binds and demand still exceeds the stock.
    #[arg(long)]
    per_user_limit: Option<i64>,
    /// Share of buyers (0 to 1) who send every purchase `--retries` more
    /// times, same key and body, side by side. Each variant then fires the
    /// drop with and without them on one server and reports both.
    #[arg(long, default_value_t = 0.0)]
    retry_share: f64,
    /// Extra copies of each purchase a retrying buyer sends.
    #[arg(long, default_value_t = 2)]
    retries: usize,
    /// Rounds of the with/without pair per variant (order alternating);
    /// the comparison uses the medians.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Run this many drops against the real binary on MariaDB instead, each
    /// with a SIGKILL at a random moment of the burst and a restart.
    #[arg(long)]
    kill_loop: Option<usize>,
    /// What the kill loop kills: the stampede process, or a private MariaDB
    /// under it.
    #[arg(long, value_enum, default_value_t = kill::Victim::Stampede)]
    kill: kill::Victim,
    /// How long the killed process stays down before it is restarted.
    #[arg(long, default_value_t = 1_000)]
    down_ms: u64,
    /// Seed of the kill moments (random when unset; printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// The binary the kill loop runs (default: `stampede` beside this tool).
    #[arg(long)]
    stampede_bin: Option<PathBuf>,
    /// Open this many control-room feeds (`/api/v1/admin/live`) during
    /// each drop and read them; each variant then fires the drop with and
    /// without them on one server, `--rounds` times, and reports both.
    #[arg(long, default_value_t = 0)]
    watchers: usize,
    /// The admin the watchers sign in as (the tool's own server has this one).
    #[arg(long, default_value = server::ADMIN_EMAIL)]
    admin_email: String,
    #[arg(long, default_value = server::ADMIN_PASSWORD)]
    admin_password: String,
    /// Bursts of growing size, e.g. `10000,50000,100000`: on one server per
    /// variant (buyers prepared once), a fresh product with stock N/10 and
    /// N purchases at its opening, for each N; reports drain, percentiles,
    /// errors and peak RSS per size, and checks the drain grows at most
    /// linearly. Writes bursts.md, bursts.json and bursts.svg.
    #[arg(long, value_delimiter = ',')]
    bursts: Vec<usize>,
    /// Also fire a drop of the largest burst size (or `--purchases`) over
    /// this many SKUs opening at once, stock N/10 spread over them and the
    /// purchases spread uniformly.
    #[arg(long)]
    hot_skus: Option<usize>,
    /// Catalog reads per second (listing, product detail, SKU availability
    /// in rotation) over connections of their own, from 1 s before each
    /// opening until the burst drains.
    #[arg(long, default_value_t = 0.0)]
    browse_rate: f64,
    /// Connections carrying the `--browse-rate` reads.
    #[arg(long, default_value_t = 64)]
    browse_connections: usize,
    /// Before each drop, fire the same burst at `GET /api/v1/auth/whoami`
    /// (token check only): the ceiling the HTTP stack allows.
    #[arg(long)]
    ceiling: bool,
    /// The `--bursts` check that the drain grows at most linearly passes
    /// when drain(N)/N <= this x drain(smallest)/smallest.
    #[arg(long, default_value_t = scale::LINEAR_TOLERANCE)]
    linear_tolerance: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
    anyhow::ensure!(
        args.buyers > 0 && args.purchases > 0,
        "need buyers and purchases"
    );
    let client = fire::client()?;
    if let Some(kills) = args.kill_loop {
        return kill_loop(&client, &args, kills).await;
    }
    if scale::asked(&args) {
        return scale::run(&args).await;
    }
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.retry_share),
        "--retry-share is a share of buyers, from 0 to 1"
    );
    let retrying = args.retry_share > 0.0;
    let watching = args.watchers > 0;
    anyhow::ensure!(
        !(retrying && watching),
        "--retry-share and --watchers are separate comparisons; run them apart"
    );
    let mut outcomes = Vec::new();
    match args.target.first() {
        Some(base) if args.target.len() > 1 => {
            anyhow::ensure!(
                !(retrying || watching),
                "--retry-share and --watchers take one --target"
            );
            let bases: Vec<&str> = args.target.iter().map(String::as_str).collect();
            let prepared = prepare(&client, base, &args).await?;
            let variant = ("cluster", "several nodes");
            outcomes.push(run(&client, &bases, variant, &prepared, &args, false).await?);
        }
        Some(base) => {
            let variant = ("external", base.as_str());
            if retrying {
                outcomes.extend(retry::compare(&client, base, variant, &args).await?);
            } else if watching {
                outcomes.extend(watch::compare(&client, base, variant, &args).await?);
            } else {
                let prepared = prepare(&client, base, &args).await?;
                outcomes.push(run(&client, &[base], variant, &prepared, &args, false).await?);
            }
        }
        None => {
            // Each buyer's share of every drop this server sees, copies included.
            let drops = if retrying {
                args.rounds.max(1)
            } else if watching {
                2 * args.rounds.max(1)
            } else {
                1
            };
            let per_buyer = args.purchases.div_ceil(args.buyers) * (1 + args.retries) * drops;
            let cfg = ServerConfig {
                mysql_url: &args.mysql_url,
                redis_url: &args.redis_url,
                row_lock_connections: args.row_lock_connections,
                db_connections: args.db_connections,
                buyers: args.buyers,
                requests_per_buyer: per_buyer,
                public_reads_per_second: 0,
            };
            for variant in &args.variants {
                let running = server::start(*variant, &cfg).await?;
                let result = if retrying {
                    let v = (variant.slug(), variant.label());
                    retry::compare(&client, &running.address, v, &args).await
                } else if watching {
                    let v = (variant.slug(), variant.label());
                    watch::compare(&client, &running.address, v, &args).await
                } else {
                    let v = (variant.slug(), variant.label());
                    match prepare(&client, &running.address, &args).await {
                        Ok(p) => run(&client, &[&running.address], v, &p, &args, false)
                            .await
                            .map(|o| vec![o]),
                        Err(e) => Err(e),
                    }
                };
                running.stop().await?;
                outcomes.extend(result?);
                // Let the last variant's connections and write-behind settle.
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
    if retrying {
        let comparison = retry::table(&outcomes);
        println!("\n{comparison}");
        std::fs::create_dir_all(&args.out)?;
        std::fs::write(args.out.join("retries.md"), &comparison)?;
    }
    if watching {
        let comparison = watch::table(&outcomes);
        println!("\n{comparison}");
        std::fs::create_dir_all(&args.out)?;
        std::fs::write(args.out.join("watchers.md"), &comparison)?;
    }
    let table = report::table(&outcomes, "row-lock");
    println!("\n{table}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_string_pretty(&outcomes)?,
    )?;
    std::fs::write(args.out.join("results.md"), &table)?;
    let title = format!(
        "{} purchases at the opening, stock {}, {} connections",
        args.purchases, args.stock, args.connections
    );
    chart::draw(&outcomes, &title, &args.out.join("chart.svg"))?;
    println!("results written to {}", args.out.display());
    let failed = outcomes
        .iter()
        .flat_map(|o| o.checks())
        .filter(|(_, ok)| !ok)
        .count();
    anyhow::ensure!(failed == 0, "{failed} checks failed");
    Ok(())
}

/// A seller and buyers signed up on one server, ready for drops.
struct Prepared {
    seller: String,
    buyers: drop::Buyers,
}

async fn prepare(client: &reqwest::Client, base: &str, args: &Args) -> anyhow::Result<Prepared> {
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    let (seller, buyers) = drop::buyers(client, base, &run_id[..8], args.buyers).await?;
    eprintln!(
        "{} buyers ready in {:.1} s",
        args.buyers,
        started.elapsed().as_secs_f64()
    );
    Ok(Prepared { seller, buyers })
}

/// Lists one drop on `base`, fires it (with the retrying buyers when
/// `retries`) and reads the books back.
async fn run(
    client: &reqwest::Client,
    bases: &[&str],
    variant: (&str, &str),
    prepared: &Prepared,
    args: &Args,
    retries: bool,
) -> anyhow::Result<report::Outcome> {
    let base = *bases
        .first()
        .ok_or_else(|| anyhow::anyhow!("no server to fire at"))?;
    let lead = Duration::from_millis(args.lead_ms);
    let (opens_at, listed) = (chrono::Utc::now() + lead, Instant::now());
    let drop = drop::list_product(
        client,
        base,
        &prepared.seller,
        prepared.buyers.clone(),
        args.stock,
        args.per_user_limit,
        opens_at,
    )
    .await?;
    eprintln!("{}: opening in {} ms", variant.0, args.lead_ms);
    // Fire a few ms after the opening so no purchase lands before it.
    let open = listed + lead + Duration::from_millis(5);
    let shape = fire::Shape {
        purchases: args.purchases,
        connections: args.connections,
        retrying_buyers: if retries {
            retry::retrying_buyers(args)
        } else {
            0
        },
        copies: 1 + args.retries,
        persist: None,
        progress: Default::default(),
    };
    let burst = fire::fire(bases, &drop, &shape, open).await?;
    let outcome = report::outcome(client, base, variant, &drop, &burst, args.connections).await?;
    report::print(&outcome);
    Ok(outcome)
}

/// `--kill-loop`: exits non-zero when a drop failed its checks.
async fn kill_loop(client: &reqwest::Client, args: &Args, kills: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.target.is_empty(),
        "--kill-loop starts its own binary; drop --target"
    );
    let buyers = i64::try_from(args.buyers.max(1))?;
    let per_user_limit = args
        .per_user_limit
        .unwrap_or_else(|| ((2 * args.stock + buyers - 1) / buyers).max(1));
    let seed = args.seed.unwrap_or_else(rand::random);
    let plan = kill::Plan {
        kills,
        victim: args.kill,
        purchases: args.purchases,
        stock: args.stock,
        buyers: args.buyers,
        per_user_limit,
        connections: args.connections,
        lead: Duration::from_millis(args.lead_ms),
        down: Duration::from_millis(args.down_ms),
        seed,
        mysql_url: &args.mysql_url,
        stampede_bin: args.stampede_bin.as_deref(),
        out: &args.out,
    };
    let summary = kill::run(client, &plan).await?;
    anyhow::ensure!(
        summary.failed() == 0,
        "{} of {} killed drops failed their checks (seed {seed})",
        summary.failed(),
        summary.kills
    );
    Ok(())
}
