//! Feed reads at a fixed rate (open loop): read `i` is due at
//! `start + i / rate` whether or not earlier ones answered, and its latency
//! counts from that instant, so a server falling behind shows in the
//! percentiles instead of slowing the tool down. Each feed (`all` as the
//! baseline, then `following`) gets a warm-up, then a measured run.

use futures::{StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use crate::seed::{PASSWORD, email};

pub struct Load {
    pub rate: u32,
    pub seconds: u64,
    pub warmup: u64,
    pub readers: usize,
    pub limit: u32,
    /// Fail on a failed read or an empty `following` page.
    pub check: bool,
}

struct Measured {
    latencies: Histogram<u64>,
    ok: u64,
    failed: u64,
    empty: u64,
    elapsed: Duration,
}

pub async fn run(address: &str, database: &str, load: &Load) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1_024)
        .timeout(Duration::from_secs(10))
        .build()?;
    let users = seeded_users(database).await?;
    let tokens = sign_in(&client, address, users, load.readers).await?;
    println!(
        "{} readers signed in; {} reads/s, {} s warm-up + {} s measured per feed",
        tokens.len(),
        load.rate,
        load.warmup,
        load.seconds
    );
    let mut rows = Vec::new();
    for scope in ["all", "following"] {
        let path = format!("/api/v1/feed?scope={scope}&limit={}", load.limit);
        fire(&client, address, &path, &tokens, load.rate, load.warmup).await?;
        let m = fire(&client, address, &path, &tokens, load.rate, load.seconds).await?;
        rows.push((scope, m));
    }
    println!(
        "\n| feed | reads | ok | failed | empty pages | reads/s | p50 ms | p90 ms | p99 ms | max ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (scope, m) in &rows {
        let ms = |q: f64| m.latencies.value_at_quantile(q) as f64 / 1_000.0;
        println!(
            "| {scope} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
            m.ok + m.failed,
            m.ok,
            m.failed,
            m.empty,
            (m.ok + m.failed) as f64 / m.elapsed.as_secs_f64(),
            ms(0.5),
            ms(0.9),
            ms(0.99),
            m.latencies.max() as f64 / 1_000.0,
        );
    }
    if let [(_, all), (_, following)] = rows.as_slice() {
        let p99 = |m: &Measured| m.latencies.value_at_quantile(0.99) as f64;
        let p50 = |m: &Measured| m.latencies.value_at_quantile(0.5) as f64;
        println!(
            "\nfollowing / all: p50 {:.2}x, p99 {:.2}x",
            p50(following) / p50(all).max(1.0),
            p99(following) / p99(all).max(1.0)
        );
        if load.check {
            anyhow::ensure!(
                all.failed + following.failed == 0,
                "{} reads failed",
                all.failed + following.failed
            );
            // Every seeded member follows someone who has posted.
            anyhow::ensure!(
                following.empty == 0,
                "{} following pages were empty",
                following.empty
            );
        }
    }
    Ok(())
}

/// How many users the seed wrote (ids 1..=n).
async fn seeded_users(database: &str) -> anyhow::Result<u32> {
    let store = stampede::persistence::Store::connect(database, 1).await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email LIKE 'member%'")
        .fetch_one(store.pool())
        .await?;
    store.close().await;
    anyhow::ensure!(n > 0, "no seeded users: run `seed` first");
    Ok(u32::try_from(n)?)
}

/// Signs in `readers` random seeded users; answers their access tokens.
async fn sign_in(
    client: &reqwest::Client,
    address: &str,
    users: u32,
    readers: usize,
) -> anyhow::Result<Vec<String>> {
    let mut picked = std::collections::HashSet::new();
    let mut rng = rand::rng();
    while picked.len() < readers.min(users as usize) {
        picked.insert(rng.random_range(1..=users));
    }
    let logins = picked.into_iter().map(|n| {
        let client = client.clone();
        let url = format!("{address}/api/v1/auth/login");
        async move {
            let res = client
                .post(url)
                .json(&json!({"email": email(n), "password": PASSWORD}))
                .send()
                .await?;
            anyhow::ensure!(res.status() == 200, "login of member {n}: {}", res.status());
            let body: serde_json::Value = res.json().await?;
            body["access_token"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow::anyhow!("no access token"))
        }
    });
    // A few at a time: each login is an argon2 check on the server.
    futures::stream::iter(logins)
        .buffer_unordered(4)
        .try_collect()
        .await
}

/// `rate` reads a second of `path` for `seconds`, each with a random
/// reader's token.
async fn fire(
    client: &reqwest::Client,
    address: &str,
    path: &str,
    tokens: &[String],
    rate: u32,
    seconds: u64,
) -> anyhow::Result<Measured> {
    let total = u64::from(rate) * seconds;
    let url: Arc<str> = format!("{address}{path}").into();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut rng = rand::rng();
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
        tokio::time::sleep_until(due).await;
        let token = tokens[rng.random_range(0..tokens.len())].clone();
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            let answer = client.get(&*url).bearer_auth(token).send().await;
            let outcome = match answer {
                Ok(res) if res.status() == 200 => match res.json::<serde_json::Value>().await {
                    Ok(page) => Some(page["items"].as_array().is_some_and(|i| i.is_empty())),
                    Err(_) => None,
                },
                _ => None,
            };
            (due.elapsed(), outcome)
        });
    }
    let mut m = Measured {
        latencies: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        ok: 0,
        failed: 0,
        empty: 0,
        elapsed: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        let (latency, outcome) = done?;
        m.latencies.record(
            u64::try_from(latency.as_micros())
                .unwrap_or(u64::MAX)
                .max(1),
        )?;
        match outcome {
            Some(empty) => {
                m.ok += 1;
                m.empty += u64::from(empty);
            }
            None => m.failed += 1,
        }
    }
    m.elapsed = start.elapsed();
    Ok(m)
}
