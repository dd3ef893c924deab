//! One database, one selling process. Two `stampede` processes on one
//! database would each write their own stock counters over the other's and
//! oversell, so the store records one owner with an epoch, and every
//! write-behind batch checks that epoch inside its transaction. These tests
//! run the real binary, on both stores:
//!
//! - a second process started while the first runs is refused, with a
//!   message naming the owner and when its lease lapses;
//! - a forced take-over fences the first process: its purchases and saga
//!   steps answer 503, nothing it answers is a sale, and stock and per-buyer
//!   limits hold across both processes;
//! - a process refused for its configuration (a missing secret) touches
//!   nothing, so even a forced take-over leaves the owner selling;
//! - after a SIGKILL, a restart on the same machine takes over at once; an
//!   owner this machine cannot check is taken over once its lease lapses.

mod common;

use common::process::{account, free_port, post, run_to_exit, start_binary};
use common::{TestDb, db_count, db_levels};
use serde_json::{Value, json};
use stampede::domain::ids::SkuId;
use std::collections::HashMap;
use std::time::Duration;
use tokio::process::Child;
use tokio::time::Instant;

const STOCK: i64 = 20;
const LIMIT: usize = 2;
const BUYERS: usize = 12;

/// Fast providers, so paid orders move within the test.
const ENV: &[(&str, &str)] = &[
    ("STAMPEDE_PAYMENTS_LATENCY_MS", "5"),
    ("STAMPEDE_SHIPMENTS_LATENCY_MS", "5"),
    ("STAMPEDE_ORDERS_PROVIDER_TIMEOUT_MS", "20000"),
];

struct Shop {
    client: reqwest::Client,
    sku: i64,
    buyers: Vec<String>,
}

async fn open_shop(base: &str) -> Shop {
    let client = reqwest::Client::new();
    let seller = account(&client, base, "seller@fence.test", "seller").await;
    let mut buyers = Vec::new();
    for i in 0..BUYERS {
        buyers.push(account(&client, base, &format!("buyer{i}@fence.test"), "customer").await);
    }
    let product = post(
        &client,
        format!("{base}/api/v1/products"),
        Some(&seller),
        json!({"name": "Fenced drop", "category": "drops",
               "skus": [{"sku_code": "F", "option": "one", "price": 5_000, "stock": STOCK}],
               "sale": {"per_user_limit": LIMIT}}),
    )
    .await;
    let sku = product["skus"][0]["id"].as_i64().expect("sku id");
    Shop {
        client,
        sku,
        buyers,
    }
}

/// One unpaid purchase of one unit: the status and the body.
async fn buy(shop: &Shop, base: &str, buyer: usize, key: &str) -> (u16, Value) {
    let res = shop
        .client
        .post(format!("{base}/api/v1/orders"))
        .bearer_auth(&shop.buyers[buyer])
        .header("Idempotency-Key", key)
        .json(&json!({"items": [{"sku_id": shop.sku, "quantity": 1}],
                      "shipping_address": "Fence street 1"}))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("POST /orders");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

async fn pay(shop: &Shop, base: &str, buyer: usize, order: &str) -> (u16, Value) {
    let res = shop
        .client
        .post(format!("{base}/api/v1/orders/{order}/payment"))
        .bearer_auth(&shop.buyers[buyer])
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("POST payment");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

async fn stop(mut server: Child) {
    server.start_kill().expect("kill");
    let _ = server.wait().await;
}

/// What the process wrote to stdout and stderr.
fn said(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn a_second_process_is_refused(db: TestDb) {
    let port = free_port();
    let first = start_binary(&db.url, port, ENV).await;
    let pid = first.id().expect("pid");

    let out = run_to_exit(&db.url, free_port(), ENV, Duration::from_secs(30)).await;
    assert!(!out.status.success(), "the second process was refused");
    let said = said(&out);
    assert!(
        said.contains(&format!("pid {pid}")),
        "names the owner: {said}"
    );
    assert!(said.contains("lapses in"), "says when: {said}");
    assert!(said.contains("STAMPEDE_OWNER_TAKEOVER"), "says how: {said}");

    // The first process sells on, undisturbed.
    let base = format!("http://127.0.0.1:{port}");
    let shop = open_shop(&base).await;
    let (status, body) = buy(&shop, &base, 0, "after-refusal").await;
    assert_eq!(status, 201, "{body}");
    stop(first).await;
}

async fn a_take_over_fences_the_first_process(db: TestDb) {
    let (port_a, port_b) = (free_port(), free_port());
    let first = start_binary(&db.url, port_a, ENV).await;
    let a = format!("http://127.0.0.1:{port_a}");
    let shop = open_shop(&a).await;
    // Before the take-over the first process sells: one unit each to half
    // the buyers, left unpaid.
    let mut acknowledged: Vec<(usize, String)> = Vec::new();
    for buyer in 0..BUYERS / 2 {
        let (status, body) = buy(&shop, &a, buyer, &format!("before-{buyer}")).await;
        assert_eq!(status, 201, "{body}");
        let id = body["order_id"].as_str().expect("order id").to_string();
        acknowledged.push((buyer, id));
    }

    let takeover: Vec<(&str, &str)> = ENV
        .iter()
        .copied()
        .chain([("STAMPEDE_OWNER_TAKEOVER", "true")])
        .collect();
    let second = start_binary(&db.url, port_b, &takeover).await;
    let b = format!("http://127.0.0.1:{port_b}");

    // The first process's next batch meets the new epoch: refused, 503.
    let (status, body) = buy(&shop, &a, BUYERS / 2, "probe").await;
    assert_eq!(
        (status, &body["code"]),
        (503, &json!("UNAVAILABLE")),
        "{body}"
    );
    // Its sagas cannot record a step either: paying there is refused.
    let (unpaid_buyer, unpaid) = acknowledged[0].clone();
    let (status, body) = pay(&shop, &a, unpaid_buyer, &unpaid).await;
    assert_eq!(
        (status, &body["code"]),
        (503, &json!("UNAVAILABLE")),
        "{body}"
    );
    let ready = shop
        .client
        .get(format!("{a}/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 503, "a fenced process is not ready");

    // A round-robin client: every buyer asks each process twice.
    let (shop_ref, a_ref, b_ref) = (&shop, &a, &b);
    let shots = (0..4 * BUYERS).map(|i| async move {
        let (round, buyer) = (i / BUYERS, i % BUYERS);
        let at_first = (round + buyer) % 2 == 0;
        let base = if at_first { a_ref } else { b_ref };
        let (status, body) = buy(shop_ref, base, buyer, &format!("burst-{i}")).await;
        (at_first, buyer, status, body)
    });
    for (at_first, buyer, status, body) in futures::future::join_all(shots).await {
        if at_first {
            assert_eq!(
                (status, &body["code"]),
                (503, &json!("UNAVAILABLE")),
                "{body}"
            );
            continue;
        }
        match status {
            201 => {
                let id = body["order_id"].as_str().expect("order id").to_string();
                acknowledged.push((buyer, id));
            }
            409 => assert!(
                matches!(
                    body["code"].as_str(),
                    Some("OUT_OF_STOCK" | "PURCHASE_LIMIT_EXCEEDED")
                ),
                "{body}"
            ),
            other => panic!("the owner answered {other}: {body}"),
        }
    }

    // Demand (6 + 18 units) exceeds the stock: exactly the stock is sold,
    // across both processes, within every buyer's limit.
    assert_eq!(acknowledged.len() as i64, STOCK, "every unit sold once");
    let mut per_buyer: HashMap<usize, usize> = HashMap::new();
    for (buyer, _) in &acknowledged {
        *per_buyer.entry(*buyer).or_default() += 1;
    }
    assert!(
        per_buyer.values().all(|n| *n <= LIMIT),
        "per-buyer limit held: {per_buyer:?}"
    );
    // Every acknowledged order is there, readable from the owner.
    for (buyer, id) in &acknowledged {
        let res = shop
            .client
            .get(format!("{b}/api/v1/orders/{id}"))
            .bearer_auth(&shop.buyers[*buyer])
            .send()
            .await
            .expect("GET order");
        assert_eq!(res.status(), 200, "acknowledged order {id} is gone");
    }
    // The database holds exactly the acknowledged units.
    let store = db.store().await;
    let sku = SkuId::new(shop.sku);
    let (on_hand, reserved, sold) = db_levels(&store, sku).await;
    assert_eq!((on_hand, reserved + sold), (STOCK, STOCK));
    assert_eq!(db_count(&store, sku, "reserved").await, STOCK);

    // The owner carries on the orders the first process took.
    let (status, body) = pay(&shop, &b, unpaid_buyer, &unpaid).await;
    assert_eq!(status, 200, "{body}");
    stop(first).await;
    stop(second).await;
}

async fn a_dead_owner_is_taken_over(db: TestDb) {
    let port = free_port();
    // A long lease: only seeing that the process is gone explains a start
    // right after the kill.
    let first = start_binary(&db.url, port, &[("STAMPEDE_OWNER_LEASE_MS", "600000")]).await;
    stop(first).await;
    let lease = Duration::from_secs(8);
    let lease_ms = lease.as_millis().to_string();
    let second = start_binary(&db.url, port, &[("STAMPEDE_OWNER_LEASE_MS", &lease_ms)]).await;
    stop(second).await;
    let killed = Instant::now();

    // As if it had run on another machine, whose processes cannot be
    // checked from here: only the lease tells.
    let store = db.store().await;
    sqlx::query("UPDATE store_owner SET host = 'another-machine'")
        .execute(store.pool())
        .await
        .expect("move the owner");
    let out = run_to_exit(&db.url, port, &[], Duration::from_secs(30)).await;
    assert!(!out.status.success(), "refused while the lease holds");
    let said = said(&out);
    assert!(
        said.contains("another-machine") && said.contains("lapses in"),
        "{said}"
    );

    tokio::time::sleep_until(killed + lease + Duration::from_millis(500)).await;
    let third = start_binary(&db.url, port, &[]).await;
    let base = format!("http://127.0.0.1:{port}");
    let shop = open_shop(&base).await;
    let (status, body) = buy(&shop, &base, 0, "after-lapse").await;
    assert_eq!(status, 201, "{body}");
    stop(third).await;
}

/// A process that cannot start (here: its access-token secret is empty)
/// is refused before it touches the database. Started with
/// `STAMPEDE_OWNER_TAKEOVER`, it used to take the store over first and
/// then refuse, leaving the running owner fenced out and nobody selling.
async fn a_refused_start_leaves_the_owner_selling(db: TestDb) {
    let port = free_port();
    let first = start_binary(&db.url, port, ENV).await;
    let base = format!("http://127.0.0.1:{port}");
    let shop = open_shop(&base).await;
    let misconfigured: Vec<(&str, &str)> = ENV
        .iter()
        .copied()
        .chain([
            ("STAMPEDE_OWNER_TAKEOVER", "true"),
            ("STAMPEDE_JWT_SECRET", ""),
        ])
        .collect();
    let out = run_to_exit(
        &db.url,
        free_port(),
        &misconfigured,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        !out.status.success(),
        "the misconfigured process was refused"
    );
    let said = said(&out);
    assert!(
        said.contains("STAMPEDE_JWT_SECRET"),
        "names the secret: {said}"
    );
    let (status, body) = buy(&shop, &base, 0, "after-a-refused-start").await;
    assert_eq!(status, 201, "the owner sells on: {body}");
    stop(first).await;
}

on_both_stores!(
    a_second_process_is_refused,
    a_take_over_fences_the_first_process,
    a_dead_owner_is_taken_over,
    a_refused_start_leaves_the_owner_selling
);
