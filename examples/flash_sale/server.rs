//! Starts stampede in this process for one variant of the drop: a fresh
//! database, the chosen stock port, and limits opened wide enough that the
//! tool's own preparation (hundreds of signups from one address) is not
//! refused. Everything else is the service as it ships.

use sqlx::Connection;
use std::sync::Arc;

use crate::ports::{redis_lua::RedisLuaStock, row_lock::RowLockStock};
use stampede::actors::StockPort;
use stampede::config::Settings;
use stampede::startup::Application;

/// Which stock decision the run's orders use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Variant {
    /// stampede's SKU actors, durable group commit, on MariaDB.
    Stampede,
    /// stampede's SKU actors on the embedded SQLite file (no configuration).
    StampedeSqlite,
    /// One MariaDB transaction per purchase with `SELECT … FOR UPDATE`.
    RowLock,
    /// A Lua check-and-decrement on a Redis hash.
    RedisLua,
}

impl Variant {
    pub fn label(self) -> &'static str {
        match self {
            Variant::Stampede => "stampede actors (MariaDB, durable)",
            Variant::StampedeSqlite => "stampede actors (SQLite, durable)",
            Variant::RowLock => "MariaDB SELECT … FOR UPDATE",
            Variant::RedisLua => "Redis Lua check-and-DECR",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Variant::Stampede => "stampede",
            Variant::StampedeSqlite => "stampede-sqlite",
            Variant::RowLock => "row-lock",
            Variant::RedisLua => "redis-lua",
        }
    }
}

pub const ADMIN_EMAIL: &str = "ops@flash-sale.test";
pub const ADMIN_PASSWORD: &str = "flash-sale-admin-password";

/// A server running in this process until `stop`.
pub struct Running {
    pub address: String,
    handle: stampede::startup::StopHandle,
    stopped: tokio::task::JoinHandle<Result<(), std::io::Error>>,
    _dir: Option<tempfile::TempDir>,
}

impl Running {
    pub async fn stop(self) -> anyhow::Result<()> {
        self.handle.stop(true).await;
        self.stopped.await??;
        Ok(())
    }
}

pub struct ServerConfig<'a> {
    pub mysql_url: &'a str,
    pub redis_url: &'a str,
    pub row_lock_connections: u32,
    /// Pool of stampede's own store (orders, accounts, catalog).
    pub db_connections: u32,
    pub buyers: usize,
    /// Purchase requests one buyer sends over the server's life.
    pub requests_per_buyer: usize,
    /// Public reads per second the tool sends from its one address
    /// (`--browse-rate`); the budget is raised above it when the service's
    /// own would refuse some.
    pub public_reads_per_second: u32,
}

pub async fn start(variant: Variant, cfg: &ServerConfig<'_>) -> anyhow::Result<Running> {
    let (database_url, dir) = match variant {
        Variant::StampedeSqlite => {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("drop.db").display());
            (url, Some(dir))
        }
        _ => (
            fresh_mysql_database(cfg.mysql_url, variant.slug()).await?,
            None,
        ),
    };
    let stock: Option<Arc<dyn StockPort>> = match variant {
        Variant::Stampede | Variant::StampedeSqlite => None,
        Variant::RowLock => Some(Arc::new(RowLockStock::connect(
            &database_url,
            cfg.row_lock_connections,
        )?)),
        Variant::RedisLua => Some(Arc::new(
            RedisLuaStock::connect(cfg.redis_url, &database_url).await?,
        )),
    };
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        database_url,
        jwt_secret: Some(format!("flash-sale-access-{}", uuid::Uuid::new_v4())),
        refresh_token_secret: Some(format!("flash-sale-refresh-{}", uuid::Uuid::new_v4())),
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        database_max_connections: cfg.db_connections,
        ..Settings::default()
    };
    // The tool signs up every buyer from one address, and each buyer fires
    // its share of the burst at once: neither is the abuse these limits stop.
    settings.rate_limit.auth_burst = u32::try_from(cfg.buyers * 2 + 100).unwrap_or(u32::MAX);
    settings.rate_limit.purchase_burst =
        u32::try_from(cfg.requests_per_buyer * 2).unwrap_or(u32::MAX);
    // All the browsing shoppers read from one address too.
    let reads = cfg.public_reads_per_second.saturating_mul(2);
    let limits = &mut settings.rate_limit;
    limits.public_per_second = limits.public_per_second.max(reads);
    limits.public_burst = limits.public_burst.max(reads.saturating_mul(10));
    // Buyers here never read mail: they buy unverified, and no notification
    // is written while the drop is measured.
    settings.require_verified_email = false;
    settings.mail.notifications = false;
    let app = Application::build_with_stock(settings, stock).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.server_handle();
    let stopped = tokio::spawn(app.run_until_stopped());
    Ok(Running {
        address,
        handle,
        stopped,
        _dir: dir,
    })
}

/// Drops and recreates `flash_sale_<slug>` on the server of `base_url`.
pub async fn fresh_mysql_database(base_url: &str, slug: &str) -> anyhow::Result<String> {
    let (server, name) = database_of(base_url, slug);
    let mut conn = sqlx::MySqlConnection::connect(server).await?;
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await?;
    }
    conn.close().await?;
    Ok(format!("{server}/{name}"))
}

/// Drops `flash_sale_<slug>` from the server of `base_url`.
pub async fn drop_mysql_database(base_url: &str, slug: &str) -> anyhow::Result<()> {
    let (server, name) = database_of(base_url, slug);
    let mut conn = sqlx::MySqlConnection::connect(server).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    Ok(())
}

/// The server part of `base_url` and the database name for `slug`.
fn database_of<'a>(base_url: &'a str, slug: &str) -> (&'a str, String) {
    let base = base_url.trim_end_matches('/');
    let server = match base.rfind('/') {
        Some(i) if i > "mysql://".len() => &base[..i],
        _ => base,
    };
    (server, format!("flash_sale_{}", slug.replace('-', "_")))
}
