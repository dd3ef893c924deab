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

mod chart;
mod drop;
mod fire;
mod ports;
mod report;
mod server;

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
    #[arg(long)]
    target: Option<String>,
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
    /// Where results.json, results.md and chart.svg are written.
    #[arg(long, default_value = "target/flash-sale")]
    out: PathBuf,
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
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(120))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()?;
    let mut outcomes = Vec::new();
    match &args.target {
        Some(base) => {
            let outcome = run(&client, base, ("external", base), &args).await?;
            outcomes.push(outcome);
        }
        None => {
            let cfg = ServerConfig {
                mysql_url: &args.mysql_url,
                redis_url: &args.redis_url,
                row_lock_connections: args.row_lock_connections,
                db_connections: args.db_connections,
                buyers: args.buyers,
                purchases: args.purchases,
            };
            for variant in &args.variants {
                let running = server::start(*variant, &cfg).await?;
                let result = run(
                    &client,
                    &running.address,
                    (variant.slug(), variant.label()),
                    &args,
                )
                .await;
                running.stop().await?;
                outcomes.push(result?);
                // Let the last variant's connections and write-behind settle.
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
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

/// Prepares one drop on `base`, fires it and reads the books back.
async fn run(
    client: &reqwest::Client,
    base: &str,
    variant: (&str, &str),
    args: &Args,
) -> anyhow::Result<report::Outcome> {
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    let (seller, buyers) = drop::buyers(client, base, &run_id[..8], args.buyers).await?;
    let lead = Duration::from_millis(args.lead_ms);
    let (opens_at, listed) = (chrono::Utc::now() + lead, Instant::now());
    let drop = drop::list_product(client, base, &seller, buyers, args.stock, opens_at).await?;
    eprintln!(
        "{}: {} buyers ready in {:.1} s; opening in {} ms",
        variant.0,
        args.buyers,
        started.elapsed().as_secs_f64(),
        args.lead_ms
    );
    // Fire a few ms after the opening so no purchase lands before it.
    let open = listed + lead + Duration::from_millis(5);
    let burst = fire::fire(client, base, &drop, args.purchases, args.connections, open).await?;
    let outcome = report::outcome(client, base, variant, &drop, &burst, args.connections).await?;
    report::print(&outcome);
    Ok(outcome)
}
