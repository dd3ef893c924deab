//! The feed load test (issue 14): `seed` writes a community of users,
//! posts and follows straight into MariaDB; `read` fires feed reads at a
//! fixed rate against a real server and reports latency percentiles, for
//! the `following` feed and, as the baseline of the same run, the `all`
//! feed.
//!
//! ```sh
//! cargo run --release --example community-feed -- seed --database mysql://root@127.0.0.1:3306/community_feed
//! cargo run --release --example community-feed -- read --database mysql://root@127.0.0.1:3306/community_feed
//! ```

mod read;
mod seed;

use clap::{Parser, Subcommand};
use stampede::config::Settings;
use stampede::startup::Application;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replaces the database with a seeded community.
    Seed {
        #[arg(long, default_value = "mysql://root@127.0.0.1:3306/community_feed")]
        database: String,
        #[arg(long, default_value_t = 10_000)]
        users: u32,
        #[arg(long, default_value_t = 100_000)]
        posts: u32,
        /// Follows per user.
        #[arg(long, default_value_t = 100)]
        follows: u32,
        #[arg(long, default_value_t = 14)]
        seed: u64,
    },
    /// Reads the feed at a fixed rate and reports p50 / p99.
    Read {
        #[arg(long, default_value = "mysql://root@127.0.0.1:3306/community_feed")]
        database: String,
        /// A running server on that database; without it one starts here.
        #[arg(long)]
        target: Option<String>,
        /// Reads per second.
        #[arg(long, default_value_t = 1_000)]
        rate: u32,
        /// Measured seconds per feed (after `warmup`).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 3)]
        warmup: u64,
        /// Seeded users who sign in and read.
        #[arg(long, default_value_t = 200)]
        readers: usize,
        /// Posts per page.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Exit non-zero when a read failed or a `following` first page
        /// was empty (the CI smoke run; a measurement reports them instead).
        #[arg(long)]
        check: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Seed {
            database,
            users,
            posts,
            follows,
            seed,
        } => {
            let shape = seed::Shape {
                users,
                posts,
                follows_per_user: follows,
                seed,
            };
            seed::seed(&database, &shape).await
        }
        Command::Read {
            database,
            target,
            rate,
            seconds,
            warmup,
            readers,
            limit,
            check,
        } => {
            let (address, server) = match target {
                Some(t) => (t, None),
                None => {
                    let app = start(&database).await?;
                    let address = format!("http://127.0.0.1:{}", app.port());
                    let handle = app.server_handle();
                    let stopped = tokio::spawn(app.run_until_stopped());
                    (address, Some((handle, stopped)))
                }
            };
            let load = read::Load {
                rate,
                seconds,
                warmup,
                readers,
                limit,
                check,
            };
            let result = read::run(&address, &database, &load).await;
            if let Some((handle, stopped)) = server {
                handle.stop(true).await;
                stopped.await??;
            }
            result
        }
    }
}

/// stampede as it ships on `database`, with request budgets off: the tool
/// is one client address reading a thousand times a second on purpose.
async fn start(database: &str) -> anyhow::Result<Application> {
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url: database.to_string(),
        jwt_secret: Some(format!("community-feed-access-{}", uuid::Uuid::new_v4())),
        refresh_token_secret: Some(format!("community-feed-refresh-{}", uuid::Uuid::new_v4())),
        admin_email: Some("ops@community-feed.test".into()),
        admin_password: Some("community-feed-admin-password".into()),
        ..Settings::default()
    };
    settings.rate_limit.enabled = false;
    // Readers sign in before the measurement, on a machine that may be busy.
    settings.rate_limit.hash_wait_ms = 60_000;
    settings.require_verified_email = false;
    settings.mail.notifications = false;
    Ok(Application::build(settings).await?)
}
