//! A viral post, measured: `LIKERS` distinct users like one post at the
//! same instant, through the counter actors or through the classic hot-row
//! update, on the same store, in the same run.
//!
//! Every iteration uses a FRESH post and spawns one tokio task per liker
//! on a multi-thread runtime; the time runs from the first spawn to the
//! last answer. Creating the post happens outside it; the likers' accounts
//! are written once per store. After every iteration the bench panics
//! unless every like was answered and the post's `like_count` and its
//! `post_likes` rows both say `LIKERS`: a design that loses or doubles a
//! like is wrong, not fast. Throughput is per like.
//!
//! Designs (bench ids in group `like_hot_post`):
//!
//! * `counters_sqlite`, `counters_mariadb`: this crate's [`Counters`] (one
//!   actor per post deciding in memory, one group-commit writer; each
//!   answer after its batch committed), on a 16-connection `Store`;
//! * `plain_update_sqlite`, `plain_update_mariadb`: per like one
//!   transaction `UPDATE posts SET like_count = like_count + 1 WHERE id =
//!   ?; INSERT INTO post_likes …` (`BEGIN IMMEDIATE` on SQLite; the row
//!   lock first, as a competent user orders it to avoid deadlocks), on a
//!   `Store` of 16 (SQLite) or 64 (MariaDB) connections.
//!
//! Run it with
//!
//! ```text
//! cargo bench --bench likes
//! ```
//!
//! MariaDB must be running (`STAMPEDE_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`); the bench drops and recreates the
//! databases `stampede_bench_likes_*`.

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use sqlx::QueryBuilder;
use stampede::actors::Counters;
use stampede::config::CounterSettings;
use stampede::domain::counter::{Target, Toggle};
use stampede::domain::ids::{PostId, UserId};
use stampede::persistence::{Backend, Store};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Concurrent likers per iteration.
const LIKERS: usize = 5_000;

fn mysql_server_url() -> String {
    std::env::var("STAMPEDE_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A fresh, migrated store (a temp SQLite file, or a recreated MariaDB
/// database) with `LIKERS` accounts and an author; answers the store, the
/// author and the likers. The temp dir must outlive the store.
async fn fresh_store(
    name: &str,
    mariadb: bool,
    pool: u32,
) -> (Store, i64, Vec<i64>, Option<tempfile::TempDir>) {
    let (url, dir) = if mariadb {
        let server = mysql_server_url();
        let admin = Store::connect(&server, 1)
            .await
            .expect("MariaDB is required");
        let db = format!("stampede_bench_likes_{name}");
        for stmt in [
            format!("DROP DATABASE IF EXISTS {db}"),
            format!("CREATE DATABASE {db}"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(stmt))
                .execute(admin.pool())
                .await
                .expect("recreate the bench database");
        }
        admin.close().await;
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        (format!("{base}/{db}"), None)
    } else {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("likes.db").display());
        (url, Some(dir))
    };
    let store = Store::connect(&url, pool).await.expect("connect");
    store.migrate().await.expect("migrate");
    let all: Vec<usize> = (0..=LIKERS).collect();
    for chunk in all.chunks(1_000) {
        let mut q = QueryBuilder::<sqlx::Any>::new(
            "INSERT INTO users (email, password_hash, name, role, created_at) ",
        );
        q.push_values(chunk, |mut row, i| {
            row.push_bind(format!("liker{i}@bench.test"))
                .push_bind("x")
                .push_bind(format!("Liker {i}"))
                .push_bind("customer")
                .push_bind(0_i64);
        });
        q.build().execute(store.pool()).await.expect("accounts");
    }
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM users ORDER BY id")
        .fetch_all(store.pool())
        .await
        .expect("ids");
    (store, ids[0], ids[1..].to_vec(), dir)
}

async fn fresh_post(store: &Store, author: i64) -> i64 {
    sqlx::query(
        "INSERT INTO posts (author_id, body, created_at, updated_at) VALUES (?, 'viral', 1, 1)",
    )
    .bind(author)
    .execute(store.pool())
    .await
    .expect("post");
    sqlx::query_scalar("SELECT MAX(id) FROM posts")
        .fetch_one(store.pool())
        .await
        .expect("post id")
}

/// Panics unless the post's counter and rows both hold every like.
async fn assert_counted(store: &Store, design: &str, post: i64) {
    let count: i64 = sqlx::query_scalar("SELECT like_count FROM posts WHERE id = ?")
        .bind(post)
        .fetch_one(store.pool())
        .await
        .expect("count");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM post_likes WHERE post_id = ?")
        .bind(post)
        .fetch_one(store.pool())
        .await
        .expect("rows");
    assert_eq!((count, rows), (LIKERS as i64, LIKERS as i64), "{design}");
}

/// One task per liker at once; the time from the first spawn to the last
/// answer. Panics if any like failed.
async fn storm<F, Fut>(likers: &[i64], like: F) -> Duration
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let start = Instant::now();
    let tasks: Vec<_> = likers.iter().map(|&u| tokio::spawn(like(u))).collect();
    let mut failed = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.expect("liker task") {
            failed.push(e);
        }
    }
    let took = start.elapsed();
    assert!(
        failed.is_empty(),
        "{} likes failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    took
}

fn bench<F, Fut>(group: &mut Group<'_>, rt: &Runtime, id: &'static str, once: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Duration>,
{
    group.bench_function(id, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let once = &once;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += once().await;
                }
                total
            }
        })
    });
}

fn counters(group: &mut Group<'_>, rt: &Runtime, id: &'static str, mariadb: bool) {
    let (store, author, likers, _dir) = rt.block_on(fresh_store(id, mariadb, 16));
    let counters = rt.block_on(async {
        let settings = CounterSettings {
            call_timeout_ms: 60_000,
            ..CounterSettings::default()
        };
        Counters::start(store.clone(), settings)
            .await
            .expect("start counters")
    });
    let likers = Arc::new(likers);
    bench(group, rt, id, || {
        let (store, counters, likers) = (store.clone(), counters.clone(), Arc::clone(&likers));
        async move {
            let post = fresh_post(&store, author).await;
            let target = Target::Post(PostId::new(post));
            let took = storm(&likers, |user| {
                let counters = counters.clone();
                async move {
                    let toggle = Toggle {
                        user: UserId::new(user),
                        on: true,
                    };
                    counters
                        .toggle(target, toggle)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            })
            .await;
            assert_counted(&store, id, post).await;
            took
        }
    });
    rt.block_on(counters.shutdown()).expect("shutdown");
}

/// The classic design: each like is its own transaction on the hot row.
/// A like refused for a busy database or a pool wait past its timeout is
/// tried again, as a client would: that cost is the design's.
async fn plain_like(store: Store, post: i64, user: i64) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..100 {
        match plain_like_once(&store, post, user).await {
            Ok(()) => return Ok(()),
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                return Err(e.to_string());
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// The hot row's lock first: inserting the like first takes a shared lock
/// on the post through the foreign key, and InnoDB then deadlocks the
/// upgrades of concurrent likes (CI saw 1,488 of 10,000 likes still
/// deadlocked after 100 tries). A duplicate like rolls the increment back.
async fn plain_like_once(store: &Store, post: i64, user: i64) -> Result<(), sqlx::Error> {
    let mut tx = store.begin_write().await?;
    sqlx::query("UPDATE posts SET like_count = like_count + 1 WHERE id = ?")
        .bind(post)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO post_likes (post_id, user_id, created_at) VALUES (?, ?, 1)")
        .bind(post)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

fn plain_update(group: &mut Group<'_>, rt: &Runtime, id: &'static str, mariadb: bool) {
    let pool = if mariadb { 64 } else { 16 };
    let (store, author, likers, _dir) = rt.block_on(fresh_store(id, mariadb, pool));
    assert_eq!(store.backend() == Backend::MySql, mariadb);
    let likers = Arc::new(likers);
    bench(group, rt, id, || {
        let (store, likers) = (store.clone(), Arc::clone(&likers));
        async move {
            let post = fresh_post(&store, author).await;
            let took = storm(&likers, |user| plain_like(store.clone(), post, user)).await;
            assert_counted(&store, id, post).await;
            took
        }
    });
}

fn like_hot_post(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("like_hot_post");
    group
        .throughput(Throughput::Elements(LIKERS as u64))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    counters(&mut group, &rt, "counters_sqlite", false);
    plain_update(&mut group, &rt, "plain_update_sqlite", false);
    counters(&mut group, &rt, "counters_mariadb", true);
    plain_update(&mut group, &rt, "plain_update_mariadb", true);
    group.finish();
}

criterion_group!(benches, like_hot_post);
criterion_main!(benches);
