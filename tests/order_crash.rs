//! SIGKILL mid-saga. The real binary takes a burst of orders (some paying
//! at once, some declined, some left unpaid), is killed with SIGKILL while
//! sagas are in flight, and is started again on the same database. Every
//! order that was answered 201 must still exist, every order must end in
//! exactly one final state, and stock, orders and money must agree.

mod common;

use common::process::{account, free_port, post};
use common::{TestDb, books, process};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::process::Child;

const STOCK: i64 = 150;

async fn start(db: &TestDb, port: u16) -> Child {
    process::start_binary(
        &db.url,
        port,
        &[
            // Slow enough that sagas are mid-flight when the kill lands.
            ("STAMPEDE_PAYMENTS_LATENCY_MS", "30"),
            ("STAMPEDE_PAYMENTS_DECLINE_RATE", "0.1"),
            ("STAMPEDE_SHIPMENTS_LATENCY_MS", "30"),
            ("STAMPEDE_SHIPMENTS_SHIP_AFTER_MS", "200"),
            ("STAMPEDE_SHIPMENTS_DELIVER_AFTER_MS", "400"),
            ("STAMPEDE_ORDERS_TRACK_INTERVAL_MS", "50"),
            ("STAMPEDE_ORDERS_PAYMENT_WINDOW_MS", "2000"),
        ],
    )
    .await
}

async fn crash_mid_saga(db: TestDb) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&db, port).await;
    let client = reqwest::Client::new();
    let seller = account(&client, &base, "seller@crash.test", "seller").await;
    let product = post(
        &client,
        format!("{base}/api/v1/products"),
        Some(&seller),
        json!({"name": "Crash drop", "category": "drops", "skus": [
            {"sku_code": "A", "option": "a", "price": 1000, "stock": STOCK},
            {"sku_code": "B", "option": "b", "price": 2000, "stock": STOCK}]}),
    )
    .await;
    let skus: Vec<i64> = product["skus"]
        .as_array()
        .expect("skus")
        .iter()
        .map(|s| s["id"].as_i64().expect("id"))
        .collect();
    let mut buyers = Vec::new();
    for i in 0..10 {
        buyers.push(account(&client, &base, &format!("buyer{i}@crash.test"), "customer").await);
    }

    // The burst runs in the background; the kill lands in the middle.
    let burst = {
        let (client, base, skus, buyers) =
            (client.clone(), base.clone(), skus.clone(), buyers.clone());
        tokio::spawn(async move {
            let orders = (0..300).map(|i| {
                let (client, base, skus, buyers) =
                    (client.clone(), base.clone(), skus.clone(), buyers.clone());
                async move { order(&client, &base, &skus, &buyers, i).await }
            });
            futures::future::join_all(orders).await
        })
    };
    // Kill as soon as a good number of sagas are between payment steps.
    let store = db.store().await;
    for _ in 0..500 {
        let in_flight: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM orders WHERE step NOT IN ('done', 'await_payment')",
        )
        .fetch_one(store.pool())
        .await
        .expect("count");
        if in_flight >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.start_kill().expect("SIGKILL");
    server.wait().await.expect("reaped");
    let answers = burst.await.expect("burst");
    assert!(
        answers.iter().any(|(status, _)| *status == Some(201)),
        "some orders were answered before the kill"
    );

    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders WHERE step NOT IN ('done', 'await_payment')",
    )
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert!(
        live > 0,
        "the kill landed mid-saga (no saga was between steps)"
    );

    let mut server = start(&db, port).await;
    // Buyers without an answer retry with their key, as the API asks: a
    // purchase whose stock was reserved just before the kill finds that
    // reservation again (else it would be held until the reservation TTL).
    let mut acknowledged = Vec::new();
    for (i, (mut status, mut id)) in answers.into_iter().enumerate() {
        for _ in 0..100 {
            if matches!(status, Some(201 | 409)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            (status, id) = order(&client, &base, &skus, &buyers, i).await;
        }
        match status {
            Some(201) => acknowledged.push(id.expect("201 names its order")),
            Some(409) => {}
            other => panic!("order {i} never got a final answer: {other:?}"),
        }
    }
    books::until_all_final(&store).await;
    books::assert_books_balance(&base, &store, &skus, STOCK, &acknowledged).await;
    let delivered: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'DELIVERED'")
            .fetch_one(store.pool())
            .await
            .expect("count");
    assert!(
        delivered > 0,
        "orders resumed after the crash and were delivered"
    );
    server.start_kill().expect("kill");
    let _ = server.wait().await;
}

on_both_stores!(crash_mid_saga);

/// Places order `i` of the burst (three in four pay at once): its status,
/// or `None` when no answer came, and its id when it was created.
async fn order(
    client: &reqwest::Client,
    base: &str,
    skus: &[i64],
    buyers: &[String],
    i: usize,
) -> (Option<u16>, Option<String>) {
    let mut body = json!({"items": [{"sku_id": skus[i % 2], "quantity": 1}],
                          "shipping_address": "Crash alley"});
    if !i.is_multiple_of(4) {
        body["payment"] = json!({"method": "card"});
    }
    let res = client
        .post(format!("{base}/api/v1/orders"))
        .bearer_auth(&buyers[i % buyers.len()])
        .header("Idempotency-Key", format!("crash-{i}"))
        .json(&body)
        .send()
        .await;
    match res {
        Ok(r) => {
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or_default();
            (Some(status), v["order_id"].as_str().map(str::to_string))
        }
        Err(_) => (None, None),
    }
}
