//! Crash under load during a preorder drop. Buyers press "buy" on one SKU
//! at its opening instant; mid-burst the real binary is SIGKILLed (or its
//! MariaDB is killed and restarted). Every purchase answered 201 must still
//! exist, retries with the same Idempotency-Key must get final answers,
//! nothing may be oversold, and stock, orders and money must agree.

mod common;

use common::private_mariadb::PrivateMariaDb;
use common::process::{account, free_port, post, start_binary, wait_ready};
use common::{TestDb, books};
use futures::StreamExt;
use serde_json::{Value, json};
use stampede::persistence::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::process::Child;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const STOCK: i64 = 200;
const PURCHASES: usize = 2_000;
const BUYERS: usize = 40;
/// Kill once this many purchases were answered 201: well inside the burst.
const KILL_AFTER: usize = 40;

/// Fast providers, so the paid orders of the drop deliver within seconds.
const ENV: &[(&str, &str)] = &[
    ("STAMPEDE_PAYMENTS_LATENCY_MS", "5"),
    ("STAMPEDE_SHIPMENTS_LATENCY_MS", "5"),
    ("STAMPEDE_SHIPMENTS_SHIP_AFTER_MS", "200"),
    ("STAMPEDE_SHIPMENTS_DELIVER_AFTER_MS", "400"),
    ("STAMPEDE_ORDERS_TRACK_INTERVAL_MS", "50"),
    // The simulated provider keeps its books in our database, so a loaded
    // or restarting database would look like a provider timing out (which
    // cancels the order, by design). These tests are about our crash
    // safety, not the provider's, so it gets time to answer.
    ("STAMPEDE_ORDERS_PROVIDER_TIMEOUT_MS", "20000"),
];

struct Drop {
    base: String,
    client: reqwest::Client,
    sku: i64,
    buyers: Vec<String>,
    opens: Instant,
}

/// What one purchase got: `None` status means no answer at all.
#[derive(Clone)]
struct Shot {
    key: String,
    buyer: usize,
    status: Option<u16>,
    order_id: Option<String>,
}

async fn prepare(port: u16) -> Drop {
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let seller = account(&client, &base, "seller@drop.test", "seller").await;
    let mut buyers = Vec::new();
    for i in 0..BUYERS {
        buyers.push(account(&client, &base, &format!("buyer{i}@drop.test"), "customer").await);
    }
    let lead = Duration::from_millis(1_500);
    let opens_at = chrono::Utc::now() + lead;
    let opens = Instant::now() + lead + Duration::from_millis(5);
    let product = post(
        &client,
        format!("{base}/api/v1/products"),
        Some(&seller),
        json!({"name": "Crash drop", "category": "drops",
               "skus": [{"sku_code": "D", "option": "one", "price": 99_000, "stock": STOCK}],
               "sale": {"opens_at": opens_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}}),
    )
    .await;
    let sku = product["skus"][0]["id"].as_i64().expect("sku id");
    Drop {
        base,
        client,
        sku,
        buyers,
        opens,
    }
}

/// Sends one purchase (paying at once); `None` when no answer came.
async fn buy(drop: &Drop, key: &str, buyer: usize) -> (Option<u16>, Option<String>) {
    let res = drop
        .client
        .post(format!("{}/api/v1/orders", drop.base))
        .bearer_auth(&drop.buyers[buyer])
        .header("Idempotency-Key", key)
        .json(&json!({"items": [{"sku_id": drop.sku, "quantity": 1}],
                      "shipping_address": "Drop street", "payment": {"method": "card"}}))
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    match res {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or_default();
            (Some(status), body["order_id"].as_str().map(str::to_string))
        }
        Err(_) => (None, None),
    }
}

/// Presses every purchase at the opening, in the background.
fn fire(drop: &Arc<Drop>, created: &Arc<AtomicUsize>) -> JoinHandle<Vec<Shot>> {
    let (drop, created) = (Arc::clone(drop), Arc::clone(created));
    tokio::spawn(async move {
        tokio::time::sleep_until(drop.opens).await;
        let shots = (0..PURCHASES).map(|i| {
            let (drop, created) = (Arc::clone(&drop), Arc::clone(&created));
            async move {
                let key = format!("drop-{i}");
                let buyer = i % BUYERS;
                let (status, order_id) = buy(&drop, &key, buyer).await;
                if status == Some(201) {
                    created.fetch_add(1, Ordering::Relaxed);
                }
                Shot {
                    key,
                    buyer,
                    status,
                    order_id,
                }
            }
        });
        futures::future::join_all(shots).await
    })
}

async fn until_created(created: &AtomicUsize, n: usize) {
    for _ in 0..6_000 {
        if created.load(Ordering::Relaxed) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} purchases were answered 201 in 60 s");
}

/// Retries every purchase without a final answer with its own key until
/// it gets one (201 or 409); answers every order id acknowledged.
async fn settle(drop: &Drop, shots: &[Shot]) -> Vec<String> {
    let finals: Vec<Option<String>> = futures::stream::iter(shots)
        .map(|shot| async move {
            let (mut status, mut order_id) = (shot.status, shot.order_id.clone());
            for attempt in 0..120 {
                if matches!(status, Some(201 | 409)) {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                (status, order_id) = buy(drop, &shot.key, shot.buyer).await;
            }
            if shot.status == Some(201) {
                assert_eq!(order_id, shot.order_id, "a retry changed the order");
            }
            match status {
                Some(201) => Some(order_id.expect("201 carries order_id")),
                Some(409) => None,
                other => panic!("purchase {} never got a final answer: {other:?}", shot.key),
            }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    finals.into_iter().flatten().collect()
}

/// Every order answered 201 is readable by its buyer through the API.
async fn assert_orders_visible(drop: &Drop, shots: &[Shot]) {
    for shot in shots.iter().filter(|s| s.status == Some(201)) {
        let id = shot.order_id.as_deref().expect("order id");
        let res = drop
            .client
            .get(format!("{}/api/v1/orders/{id}", drop.base))
            .bearer_auth(&drop.buyers[shot.buyer])
            .send()
            .await
            .expect("GET order");
        assert_eq!(res.status(), 200, "acknowledged order {id} is gone");
    }
}

/// Every acknowledged order was delivered, and they are exactly the stock.
async fn assert_all_delivered(store: &Store, acknowledged: &[String]) {
    for id in acknowledged {
        let (status, reason): (String, Option<String>) =
            sqlx::query_as("SELECT status, reason FROM orders WHERE id = ?")
                .bind(id.clone())
                .fetch_one(store.pool())
                .await
                .expect("order");
        assert_eq!(
            status, "DELIVERED",
            "order {id} ended {status} ({reason:?})"
        );
    }
    assert_eq!(acknowledged.len() as i64, STOCK, "every unit sold once");
}

async fn stop(mut server: Child) {
    server.start_kill().expect("kill");
    let _ = server.wait().await;
}

async fn sigkill_mid_drop(db: TestDb) {
    let port = free_port();
    let server = start_binary(&db.url, port, ENV).await;
    let drop = Arc::new(prepare(port).await);
    let created = Arc::new(AtomicUsize::new(0));
    let burst = fire(&drop, &created);
    until_created(&created, KILL_AFTER).await;
    stop(server).await;
    let shots = burst.await.expect("burst");
    // Mid-drop: purchases still unanswered, or acknowledged orders still
    // on their way through payment and shipment.
    let unanswered = shots.iter().filter(|s| s.status.is_none()).count();
    let store = db.store().await;
    let in_flight: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE step <> 'done'")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert!(unanswered > 0 || in_flight > 0, "the kill landed mid-drop");

    let server = start_binary(&db.url, port, ENV).await;
    assert_orders_visible(&drop, &shots).await;
    let acknowledged = settle(&drop, &shots).await;

    books::until_all_final(&store).await;
    books::assert_books_balance(&drop.base, &store, &[drop.sku], STOCK, &acknowledged).await;
    assert_all_delivered(&store, &acknowledged).await;
    stop(server).await;
}

on_both_stores!(sigkill_mid_drop);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_restart_mid_drop() {
    let mut mariadb = PrivateMariaDb::start().await;
    let url = mariadb.url("drop");
    let port = free_port();
    let server = start_binary(&url, port, ENV).await;
    let drop = Arc::new(prepare(port).await);
    let created = Arc::new(AtomicUsize::new(0));
    let burst = fire(&drop, &created);
    until_created(&created, KILL_AFTER).await;

    mariadb.kill().await;
    // While the database is down the service says so instead of hanging.
    let ready = drop
        .client
        .get(format!("{}/health/ready", drop.base))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("readiness answered");
    assert_eq!(ready.status(), 503, "not ready without its database");
    tokio::time::sleep(Duration::from_secs(2)).await;
    mariadb.restart().await;

    let shots = burst.await.expect("burst");
    for shot in &shots {
        assert!(
            matches!(shot.status, None | Some(201 | 409 | 503)),
            "purchase {} answered {:?} during the outage",
            shot.key,
            shot.status
        );
    }
    // The service recovers by itself: no restart of stampede.
    wait_ready(port).await;
    assert_orders_visible(&drop, &shots).await;
    let acknowledged = settle(&drop, &shots).await;

    let store = Store::connect(&url, 2).await.expect("store");
    books::until_all_final(&store).await;
    books::assert_books_balance(&drop.base, &store, &[drop.sku], STOCK, &acknowledged).await;
    // Nothing acknowledged is lost to the outage: providers never decline
    // here, so every order answered 201 is delivered, none cancelled.
    assert_all_delivered(&store, &acknowledged).await;
    stop(server).await;
}
