//! The preorder drop, measured: 10,000 buyers hit one hot SKU holding 1,000
//! units at the same instant.
//!
//! Every iteration uses a FRESH SKU (or row, or key) stocked with 1,000 units
//! and spawns 10,000 tokio tasks on a multi-thread runtime, each making one
//! single-unit purchase with its own buyer and purchase id. The time measured
//! runs from the first spawn to the last task's completion; creating the SKU,
//! connecting and preparing the ids happen outside it. After every iteration
//! the bench panics unless exactly 1,000 purchases succeeded and every other
//! buyer was told "sold out": a strategy that oversells, undersells or fails
//! requests is wrong, not fast. Throughput is reported per purchase attempt
//! (`Throughput::Elements(10_000)`).
//!
//! Strategies (bench ids in group `reserve_hot_sku`):
//!
//! * `stampede_memory_sqlite`, `stampede_durable_sqlite`,
//!   `stampede_durable_mariadb`: this crate's [`Inventory`] (one actor per
//!   SKU, group-committed write-behind) with default settings except the ack
//!   mode;
//! * `mariadb_conditional_update`, `mariadb_select_for_update`: the classic
//!   database-only designs, on a 64-connection pool;
//! * `redis_lua_decr`: an atomic check-and-decrement script in Redis.
//!
//! Run it with
//!
//! ```text
//! cargo bench --bench reserve
//! ```
//!
//! MariaDB and Redis must be running; their URLs come from
//! `STAMPEDE_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`) and
//! `STAMPEDE_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). The bench
//! panics when either is unreachable rather than skipping variants. The
//! MariaDB variants create `bench_stock` / `bench_orders` in the server URL's
//! database and drop-and-recreate the database `stampede_bench`.
//! The whole run takes about 3 to 6 minutes on a 2-core machine.

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sqlx::MySqlPool;
use sqlx::mysql::MySqlPoolOptions;
use stampede::actors::{Inventory, InventoryError};
use stampede::config::{AckMode, InventorySettings};
use stampede::domain::ids::{ReservationId, SkuId, UserId};
use stampede::domain::ledger::Rejection;
use stampede::domain::quantity::Quantity;
use stampede::domain::rules::SaleRules;
use stampede::persistence::Store;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// The same allocator as the `stampede` binary, so the figures are the
/// service's (it serves every variant's client side alike).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Concurrent buyers per iteration.
const BUYERS: i64 = 10_000;
/// Units on the hot SKU at the start of every iteration.
const STOCK: i64 = 1_000;
/// Connections of the pools used by the database-only baselines.
const BASELINE_POOL: u32 = 64;
/// Connections of the stampede `Store` (the application's default).
const STORE_POOL: u32 = 16;
/// Name of the database the MariaDB stampede variant recreates.
const STAMPEDE_DB: &str = "stampede_bench";

/// Numbers iterations across the whole run, so buyer and purchase ids never
/// repeat, not even between variants.
static ROUND: AtomicI64 = AtomicI64::new(0);

fn mysql_server_url() -> String {
    std::env::var("STAMPEDE_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn redis_url() -> String {
    std::env::var("STAMPEDE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// What one buyer was told.
enum Outcome {
    Bought,
    SoldOut,
    Failed(String),
}

/// A fresh block of distinct buyer numbers for one iteration.
fn next_buyers() -> std::ops::Range<i64> {
    let round = ROUND.fetch_add(1, Ordering::Relaxed);
    let first = round * BUYERS + 1;
    first..first + BUYERS
}

/// Spawns one task per buyer (`buy` builds its future) and waits for all of
/// them. Returns the time from the first spawn to the last completion.
async fn stampede<T, F, Fut>(buyers: Vec<T>, buy: F) -> (Duration, Vec<Outcome>)
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let start = Instant::now();
    let tasks: Vec<_> = buyers.into_iter().map(|b| tokio::spawn(buy(b))).collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("buyer task panicked"));
    }
    (start.elapsed(), outcomes)
}

/// Registers benchmark `id`: each iteration is one drop, and `drop_once`
/// runs it (set-up untimed) and returns the timed part.
fn bench_drops<F, Fut>(group: &mut Group<'_>, rt: &Runtime, id: &'static str, drop_once: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Duration>,
{
    group.bench_function(id, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let drop_once = &drop_once;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += drop_once().await;
                }
                total
            }
        })
    });
}

/// Panics unless exactly the stock was sold and everybody else heard
/// "sold out".
fn assert_sold_exactly_the_stock(variant: &str, outcomes: &[Outcome]) {
    let mut bought = 0;
    let mut sold_out = 0;
    let mut failures: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for o in outcomes {
        match o {
            Outcome::Bought => bought += 1,
            Outcome::SoldOut => sold_out += 1,
            Outcome::Failed(e) => {
                let kind = e.split(':').next().unwrap_or(e);
                failures.entry(kind).or_insert((0, e)).0 += 1;
            }
        }
    }
    if bought != STOCK as usize || sold_out != (BUYERS - STOCK) as usize {
        panic!(
            "{variant}: {bought} bought (expected {STOCK}), {sold_out} sold out \
             (expected {}), failures by kind (count, first message): {failures:?}",
            BUYERS - STOCK
        );
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn configure(c: &mut Criterion) -> Group<'_> {
    let mut group = c.benchmark_group("reserve_hot_sku");
    group
        .throughput(Throughput::Elements(BUYERS as u64))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(25));
    group
}

// ---------------------------------------------------------------------------
// stampede: the Inventory actors
// ---------------------------------------------------------------------------

fn qty(n: i64) -> Quantity {
    Quantity::new(n).expect("quantity")
}

/// Maps the Inventory's answer to a purchase outcome.
fn inventory_outcome<T>(r: Result<T, InventoryError>) -> Outcome {
    match r {
        Ok(_) => Outcome::Bought,
        Err(InventoryError::Rejected(Rejection::OutOfStock { .. })) => Outcome::SoldOut,
        Err(e) => Outcome::Failed(format!("{e:?}")),
    }
}

/// Benchmarks this crate's engine: `Inventory::reserve` of one unit per
/// buyer on a fresh SKU; the SKU's actor decides in memory, and the
/// persister group-commits the decisions. With `AckMode::Durable` a buyer
/// hears "bought" only once its reservation is committed; with
/// `AckMode::Memory` right after the in-memory decision (the queue is
/// flushed with `sync()` between iterations, outside the timed part, so
/// iterations do not pay for each other's write-behind).
fn bench_stampede(group: &mut Group<'_>, rt: &Runtime, id: &'static str, url: &str, ack: AckMode) {
    let inventory = rt.block_on(async {
        let store = Store::connect(url, STORE_POOL)
            .await
            .unwrap_or_else(|e| panic!("{id}: cannot connect the store to {url}: {e}"));
        store.migrate().await.expect("migrate the stampede schema");
        let settings = InventorySettings {
            ack,
            ..InventorySettings::default()
        };
        Inventory::start(store, settings)
            .await
            .expect("start the inventory actors")
    });
    bench_drops(group, rt, id, || {
        let inventory = inventory.clone();
        async move {
            // Untimed set-up: a fresh hot SKU and the buyers' ids.
            let sku: SkuId = inventory
                .create_sku(qty(STOCK), SaleRules::default())
                .await
                .expect("create the hot SKU");
            let buyers: Vec<(ReservationId, UserId)> = next_buyers()
                .map(|n| {
                    let rid = ReservationId::parse(format!("order-{n}")).expect("reservation id");
                    (rid, UserId::new(n))
                })
                .collect();
            let (elapsed, outcomes) = stampede(buyers, |(rid, user)| {
                let inventory = inventory.clone();
                async move { inventory_outcome(inventory.reserve(sku, rid, user, qty(1)).await) }
            })
            .await;
            assert_sold_exactly_the_stock(id, &outcomes);
            if ack == AckMode::Memory {
                inventory
                    .sync()
                    .await
                    .expect("flush the write-behind queue");
            }
            elapsed
        }
    });
    rt.block_on(inventory.shutdown())
        .unwrap_or_else(|e| panic!("{id}: inventory shutdown failed: {e:?}"));
}

fn stampede_memory_sqlite(group: &mut Group<'_>, rt: &Runtime) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench_stampede(group, rt, "stampede_memory_sqlite", &url, AckMode::Memory);
}

fn stampede_durable_sqlite(group: &mut Group<'_>, rt: &Runtime) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench_stampede(group, rt, "stampede_durable_sqlite", &url, AckMode::Durable);
}

fn stampede_durable_mariadb(group: &mut Group<'_>, rt: &Runtime) {
    let server = mysql_server_url();
    rt.block_on(async {
        let pool = connect_mariadb(&server, 1).await;
        for stmt in [
            "DROP DATABASE IF EXISTS stampede_bench",
            "CREATE DATABASE stampede_bench",
        ] {
            sqlx::raw_sql(stmt)
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("`{stmt}` failed: {e}"));
        }
        pool.close().await;
    });
    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
    let url = format!("{base}/{STAMPEDE_DB}");
    bench_stampede(
        group,
        rt,
        "stampede_durable_mariadb",
        &url,
        AckMode::Durable,
    );
}

// ---------------------------------------------------------------------------
// MariaDB-only baselines
// ---------------------------------------------------------------------------

async fn connect_mariadb(url: &str, max: u32) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(60))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {url} is required for this bench: {e}"))
}

/// A pool of `BASELINE_POOL` connections, all opened up front, on fresh
/// `bench_stock` and `bench_orders` tables.
async fn baseline_pool() -> MySqlPool {
    let url = mysql_server_url();
    let pool = connect_mariadb(&url, BASELINE_POOL).await;
    for stmt in [
        "DROP TABLE IF EXISTS bench_orders",
        "DROP TABLE IF EXISTS bench_stock",
        "CREATE TABLE bench_stock ( \
             id    BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
             stock BIGINT NOT NULL \
         ) ENGINE = InnoDB",
        "CREATE TABLE bench_orders ( \
             id        BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
             stock_id  BIGINT NOT NULL, \
             buyer_id  BIGINT NOT NULL, \
             order_ref VARCHAR(64) NOT NULL, \
             UNIQUE KEY bench_orders_ref (stock_id, order_ref) \
         ) ENGINE = InnoDB",
    ] {
        sqlx::raw_sql(stmt)
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("`{stmt}` failed: {e}"));
    }
    // Open every connection now rather than inside the first timed iteration.
    let mut held = Vec::new();
    for _ in 0..BASELINE_POOL {
        held.push(pool.acquire().await.expect("open a pool connection"));
    }
    drop(held);
    pool
}

/// A fresh hot row with `STOCK` units; returns its id.
async fn fresh_stock_row(pool: &MySqlPool) -> i64 {
    let done = sqlx::query("INSERT INTO bench_stock (stock) VALUES (?)")
        .bind(STOCK)
        .execute(pool)
        .await
        .expect("insert the hot row");
    done.last_insert_id() as i64
}

/// Counts the hot row's remaining stock; panics if it is not zero.
async fn assert_row_empty(pool: &MySqlPool, variant: &str, row: i64) {
    let left: i64 = sqlx::query_scalar("SELECT stock FROM bench_stock WHERE id = ?")
        .bind(row)
        .fetch_one(pool)
        .await
        .expect("read the hot row");
    assert_eq!(left, 0, "{variant}: the hot row still holds {left} units");
}

/// Runs `bench` on a 64-connection pool: every iteration inserts a fresh
/// hot row (untimed), then 10,000 buyers each run `buy(pool, row, buyer)`.
fn bench_mariadb_baseline<F, Fut>(group: &mut Group<'_>, rt: &Runtime, id: &'static str, buy: F)
where
    F: Fn(MySqlPool, i64, i64) -> Fut + Copy,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let pool = rt.block_on(baseline_pool());
    bench_drops(group, rt, id, || {
        let pool = pool.clone();
        async move {
            let row = fresh_stock_row(&pool).await;
            let buyers: Vec<i64> = next_buyers().collect();
            let (elapsed, outcomes) = stampede(buyers, |buyer| buy(pool.clone(), row, buyer)).await;
            assert_sold_exactly_the_stock(id, &outcomes);
            assert_row_empty(&pool, id, row).await;
            elapsed
        }
    });
    rt.block_on(pool.close());
}

/// The seeds' strategy: one autocommitted conditional UPDATE per purchase,
/// `UPDATE bench_stock SET stock = stock - 1 WHERE id = ? AND stock >= 1`.
/// The row lock serialises buyers inside InnoDB; a purchase succeeded iff it
/// changed one row. No order row is written.
async fn conditional_update(pool: MySqlPool, row: i64, _buyer: i64) -> Outcome {
    let r = sqlx::query("UPDATE bench_stock SET stock = stock - 1 WHERE id = ? AND stock >= 1")
        .bind(row)
        .execute(&pool)
        .await;
    match r {
        Ok(done) if done.rows_affected() == 1 => Outcome::Bought,
        Ok(_) => Outcome::SoldOut,
        Err(e) => Outcome::Failed(format!("{e}")),
    }
}

/// The textbook pessimistic transaction per purchase: `BEGIN; SELECT stock
/// ... FOR UPDATE;` then, if a unit is left, `UPDATE ... stock - 1;
/// INSERT INTO bench_orders ...; COMMIT` (otherwise `ROLLBACK`). The row lock
/// is held across four round trips and the commit's log flush.
async fn select_for_update(pool: MySqlPool, row: i64, buyer: i64) -> Outcome {
    let attempt = async {
        let mut tx = pool.begin().await?;
        let stock: i64 =
            sqlx::query_scalar("SELECT stock FROM bench_stock WHERE id = ? FOR UPDATE")
                .bind(row)
                .fetch_one(&mut *tx)
                .await?;
        if stock < 1 {
            tx.rollback().await?;
            return Ok::<_, sqlx::Error>(Outcome::SoldOut);
        }
        sqlx::query("UPDATE bench_stock SET stock = stock - 1 WHERE id = ?")
            .bind(row)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO bench_orders (stock_id, buyer_id, order_ref) VALUES (?, ?, ?)")
            .bind(row)
            .bind(buyer)
            .bind(format!("order-{buyer}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Outcome::Bought)
    };
    attempt
        .await
        .unwrap_or_else(|e| Outcome::Failed(format!("{e}")))
}

fn mariadb_conditional_update(group: &mut Group<'_>, rt: &Runtime) {
    bench_mariadb_baseline(group, rt, "mariadb_conditional_update", conditional_update);
}

fn mariadb_select_for_update(group: &mut Group<'_>, rt: &Runtime) {
    bench_mariadb_baseline(group, rt, "mariadb_select_for_update", select_for_update);
}

// ---------------------------------------------------------------------------
// Redis baseline
// ---------------------------------------------------------------------------

const CHECK_AND_DECR: &str = "if tonumber(redis.call('GET', KEYS[1])) >= 1 then \
                              return redis.call('DECR', KEYS[1]) else return -1 end";

/// Redis as the stock counter: one `EVALSHA` of a check-and-DECR Lua script
/// per purchase on a fresh key; the script runs atomically, so a result of 0
/// or more is a sale and -1 is "sold out". Nothing is written to a database,
/// and with Redis' default persistence a crash loses the latest decrements.
///
/// All 10,000 buyers share one multiplexed `ConnectionManager`, which
/// pipelines concurrent commands on one socket. A pool of 16 multiplexed
/// connections (buyer `n` on connection `n % 16`) was tried too and was not
/// clearly faster on 2 cores (39-52 ms against 39-50 ms per iteration over
/// repeated runs, within the noise), so the simpler single connection stays.
fn redis_lua_decr(group: &mut Group<'_>, rt: &Runtime) {
    let url = redis_url();
    let script = redis::Script::new(CHECK_AND_DECR);
    let conn: ConnectionManager = rt.block_on(async {
        let client = redis::Client::open(url.as_str())
            .unwrap_or_else(|e| panic!("bad Redis URL {url}: {e}"));
        // A 10,000-deep burst on one socket must not trip the default 500 ms
        // response timeout: a timed-out script may still have decremented.
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(60)))
            .set_number_of_retries(1);
        let mut conn = client
            .get_connection_manager_with_config(config)
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} is required for this bench: {e}"));
        let _: String = script
            .prepare_invoke()
            .load_async(&mut conn)
            .await
            .expect("load the Lua script");
        conn
    });
    let script = Arc::new(script);
    bench_drops(group, rt, "redis_lua_decr", || {
        let conn = conn.clone();
        let script = Arc::clone(&script);
        async move {
            let buyers: Vec<i64> = next_buyers().collect();
            let key: Arc<str> = format!("bench:stock:{}", buyers[0]).into();
            let mut setup = conn.clone();
            let _: () = redis::cmd("SET")
                .arg(&*key)
                .arg(STOCK)
                .query_async(&mut setup)
                .await
                .expect("SET the hot key");
            let (elapsed, outcomes) = stampede(buyers, |_buyer| {
                let mut conn = conn.clone();
                let script = Arc::clone(&script);
                let key = Arc::clone(&key);
                async move {
                    match script.key(&*key).invoke_async::<i64>(&mut conn).await {
                        Ok(n) if n >= 0 => Outcome::Bought,
                        Ok(_) => Outcome::SoldOut,
                        Err(e) => Outcome::Failed(format!("{e}")),
                    }
                }
            })
            .await;
            assert_sold_exactly_the_stock("redis_lua_decr", &outcomes);
            let left: i64 = redis::cmd("GETDEL")
                .arg(&*key)
                .query_async(&mut setup)
                .await
                .expect("GETDEL the hot key");
            assert_eq!(left, 0, "redis_lua_decr: the hot key still holds {left}");
            elapsed
        }
    });
}

fn reserve_hot_sku(c: &mut Criterion) {
    let rt = runtime();
    let mut group = configure(c);
    stampede_memory_sqlite(&mut group, &rt);
    stampede_durable_sqlite(&mut group, &rt);
    stampede_durable_mariadb(&mut group, &rt);
    mariadb_conditional_update(&mut group, &rt);
    mariadb_select_for_update(&mut group, &rt);
    redis_lua_decr(&mut group, &rt);
    group.finish();
}

criterion_group!(benches, reserve_hot_sku);
criterion_main!(benches);
