//! Order sagas under a storm, and across a restart. Thousands of concurrent
//! orders meet 10% payment declines, 5% timeouts (half of them landing
//! late), abandoned payments and random buyer cancels. Afterwards every
//! order is final and everything agrees: per SKU `available + reserved +
//! sold == on_hand`, the units sold are exactly the delivered orders' lines,
//! and no cancelled order holds money.

mod common;

use common::{TestApp, TestDb, app_settings, books, fast_orders, spawn_app_with};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const ORDERS: &str = "/api/v1/orders";
const STOCK: i64 = 250;
const SKUS: usize = 5;

fn storm_settings(db: &TestDb) -> stampede::config::Settings {
    let mut s = app_settings(db);
    fast_orders(&mut s);
    s.payments.decline_rate = 0.10;
    s.payments.timeout_rate = 0.05;
    s.payments.late_callback_rate = 0.5;
    s.orders.payment_window_ms = 4_000;
    // Under the storm the providers' own books queue behind thousands of
    // orders; only the simulated timeouts should count as timeouts.
    s.orders.provider_timeout_ms = 15_000;
    s
}

/// What buyer number `i` does after placing its order; fixed per index so
/// a failing storm replays exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Plan {
    PayAtOnce,
    PayLater,
    CancelUnpaid,
    PayThenCancel,
    Abandon,
}

fn plan(i: usize) -> Plan {
    match (i * 7919) % 100 {
        0..40 => Plan::PayAtOnce,
        40..70 => Plan::PayLater,
        70..80 => Plan::CancelUnpaid,
        80..90 => Plan::PayThenCancel,
        _ => Plan::Abandon,
    }
}

struct Outcome {
    status: u16,
    order_id: Option<String>,
    /// The answer to the pay or cancel request that followed, if any.
    follow_up: Option<u16>,
}

fn storm_body(i: usize, skus: &[i64]) -> Value {
    let first = skus[i % SKUS];
    let mut items = vec![json!({"sku_id": first, "quantity": 1 + (i % 2)})];
    if i.is_multiple_of(3) {
        items.push(json!({"sku_id": skus[(i + 1) % SKUS], "quantity": 1}));
    }
    let mut body = json!({"items": items, "shipping_address": format!("Storm street {i}")});
    if matches!(plan(i), Plan::PayAtOnce | Plan::PayThenCancel) {
        body["payment"] = json!({"method": "card"});
    }
    body
}

async fn place(app: &TestApp, token: &str, i: usize, body: &Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(ORDERS))
        .bearer_auth(token)
        .header("Idempotency-Key", format!("storm-{i}"))
        .json(body)
        .send()
        .await
        .expect("POST /orders");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let answer = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} {text:?}: {e}"));
    (status, answer)
}

async fn one_buyer(app: &TestApp, token: &str, i: usize, skus: &[i64]) -> Outcome {
    let plan = plan(i);
    let (status, answer) = place(app, token, i, &storm_body(i, skus)).await;
    let order_id = answer["order_id"].as_str().map(str::to_string);
    if let Some(id) = &order_id {
        let action = match plan {
            Plan::PayLater => Some("payment"),
            Plan::CancelUnpaid | Plan::PayThenCancel => Some("cancel"),
            Plan::PayAtOnce | Plan::Abandon => None,
        };
        if let Some(action) = action {
            let res = app
                .send(
                    Method::POST,
                    &format!("{ORDERS}/{id}/{action}"),
                    Some(token),
                    None,
                )
                .await;
            // 200, or a documented refusal (402 failed payment, 409 too late).
            let code = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            // 503: still processing under the storm; the saga goes on.
            assert!(
                [200, 402, 409, 503].contains(&code),
                "{action} {id}: {code} {text}"
            );
            return Outcome {
                status,
                order_id,
                follow_up: Some(code),
            };
        }
    }
    Outcome {
        status,
        order_id,
        follow_up: None,
    }
}

async fn storm(db: TestDb, orders: usize) {
    let s = storm_settings(&db);
    let app = spawn_app_with(db, s).await;
    let (_, seller) = app.user("seller").await;
    let skus = app.product(&seller, &[(1_000, STOCK); SKUS], None).await;
    let buyers: Vec<String> = futures::stream::iter(0..100)
        .map(|_| app.user("customer"))
        .buffer_unordered(8)
        .map(|(_, token)| token)
        .collect()
        .await;

    let outcomes: Vec<Outcome> = futures::future::join_all(
        (0..orders).map(|i| one_buyer(&app, &buyers[i % buyers.len()], i, &skus)),
    )
    .await;
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for o in &outcomes {
        *by_status.entry(o.status).or_default() += 1;
    }
    // 503: not answered within the reply timeout; the saga goes on and a
    // retry with the same key gets the final answer (checked below).
    assert!(
        by_status.keys().all(|s| [201, 409, 503].contains(s)),
        "every order is placed, refused or still processing: {by_status:?}"
    );
    let mut follow_ups: HashMap<u16, usize> = HashMap::new();
    for code in outcomes.iter().filter_map(|o| o.follow_up) {
        *follow_ups.entry(code).or_default() += 1;
    }
    eprintln!("storm: placements {by_status:?}, pay/cancel answers {follow_ups:?}");
    let mut acknowledged: Vec<String> =
        outcomes.iter().filter_map(|o| o.order_id.clone()).collect();

    books::until_all_final(&app.store).await;
    // At most one order per request (a 503 may have come before the insert).
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert!(
        rows <= orders as i64,
        "{rows} orders from {orders} requests"
    );
    // Retries of the unanswered get their final answer, never a new order.
    let mut retried: HashMap<u16, usize> = HashMap::new();
    for (i, _) in outcomes.iter().enumerate().filter(|(_, o)| o.status == 503) {
        let token = &buyers[i % buyers.len()];
        let (status, answer) = place(&app, token, i, &storm_body(i, &skus)).await;
        *retried.entry(status).or_default() += 1;
        match status {
            201 => acknowledged.push(answer["order_id"].as_str().expect("id").to_string()),
            409 => {}
            // The order gave up reserving in time: its final answer.
            503 => assert_eq!(answer["code"], "UNAVAILABLE", "{answer}"),
            other => panic!("retry of {i}: {other} {answer}"),
        }
    }
    eprintln!("storm: retries of the unanswered {retried:?}");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert_eq!(rows, orders as i64, "one order per key, however often sent");
    books::until_all_final(&app.store).await;
    // Late authorisations land within `late_callback_ms` of their timeout.
    tokio::time::sleep(Duration::from_millis(300)).await;
    books::assert_books_balance(&app.address, &app.store, &skus, STOCK, &acknowledged).await;

    let pool = app.store.pool();
    let reasons: Vec<(String, i64)> = sqlx::query_as(
        "SELECT COALESCE(reason, status), COUNT(*) FROM orders GROUP BY COALESCE(reason, status)",
    )
    .fetch_all(pool)
    .await
    .expect("reasons");
    let count = |r: &str| reasons.iter().find(|(k, _)| k == r).map_or(0, |(_, n)| *n);
    for expected in [
        "DELIVERED",
        "PAYMENT_DECLINED",
        "PAYMENT_TIMED_OUT",
        "PAYMENT_EXPIRED",
        "BUYER_CANCELLED",
        "OUT_OF_STOCK",
    ] {
        assert!(
            count(expected) > 0,
            "the storm exercised {expected}: {reasons:?}"
        );
    }
    app.stop().await;
}

async fn two_thousand_orders(db: TestDb) {
    storm(db, 2_000).await;
}

/// A graceful restart mid-flight: every saga resumes from its recorded step.
async fn sagas_resume_after_a_restart(db: TestDb) {
    let mut s = storm_settings(&db);
    s.payments.decline_rate = 0.0;
    s.payments.timeout_rate = 0.0;
    s.orders.payment_window_ms = 60_000;
    s.shipments.ship_after_ms = 300;
    s.shipments.deliver_after_ms = 600;
    let app = spawn_app_with(db, s.clone()).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let skus = app.product(&seller, &[(1_000, STOCK)], None).await;
    let mut waiting = Vec::new();
    for i in 0..30 {
        let mut body =
            json!({"items": [{"sku_id": skus[0], "quantity": 1}], "shipping_address": "Incheon"});
        if i % 2 == 0 {
            body["payment"] = json!({"method": "card"});
        }
        let res = app
            .client
            .post(app.url(ORDERS))
            .bearer_auth(&buyer)
            .header("Idempotency-Key", format!("resume-{i}"))
            .json(&body)
            .send()
            .await
            .expect("POST");
        assert_eq!(res.status(), 201);
        let o: Value = res.json().await.expect("json");
        waiting.push((i, o["order_id"].as_str().expect("id").to_string()));
    }
    let db = app.stop().await;

    let app = spawn_app_with(db, s).await;
    let admin = app.admin_token().await;
    let live = app.get_json("/api/v1/admin/sagas", Some(&admin)).await;
    assert!(
        live["sagas"].as_array().expect("sagas").len() >= 15,
        "the unpaid orders' sagas resumed: {live}"
    );
    let ids: Vec<String> = waiting.iter().map(|(_, id)| id.clone()).collect();
    for (i, id) in &waiting {
        if i % 2 == 1 {
            let res = app
                .send(
                    Method::POST,
                    &format!("{ORDERS}/{id}/payment"),
                    Some(&buyer),
                    None,
                )
                .await;
            assert_eq!(res.status(), 200, "{id}");
        }
    }
    books::until_all_final(&app.store).await;
    books::assert_books_balance(&app.address, &app.store, &skus, STOCK, &ids).await;
    let delivered: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'DELIVERED'")
            .fetch_one(app.store.pool())
            .await
            .expect("count");
    assert_eq!(delivered, 30);
    app.stop().await;
}

on_both_stores!(two_thousand_orders, sagas_resume_after_a_restart);
