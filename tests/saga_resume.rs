//! One bad order must not stop start-up. Orders left live by a stop are
//! resumed when the service starts again; an order whose stored row cannot
//! be read (an unknown status, a line out of range) is reported in
//! `GET /admin/sagas` with the reason, retried later, and every other order
//! resumes and finishes.

mod common;

use common::{TestApp, TestDb, app_settings, fast_orders, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const ORDERS: &str = "/api/v1/orders";

fn settings(db: &TestDb) -> stampede::config::Settings {
    let mut s = app_settings(db);
    fast_orders(&mut s);
    s
}

async fn place(app: &TestApp, token: &str, key: &str, sku: i64) -> String {
    let res = app
        .client
        .post(app.url(ORDERS))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({"items": [{"sku_id": sku, "quantity": 1}],
                      "shipping_address": "Seoul, Gangnam-gu 1"}))
        .send()
        .await
        .expect("POST /orders");
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let body: Value = res.json().await.expect("order");
    body["order_id"].as_str().expect("order id").to_string()
}

async fn sagas(app: &TestApp, admin: &str) -> Value {
    app.get_json("/api/v1/admin/sagas", Some(admin)).await
}

/// The `stuck` entry of `id`, if it is listed.
fn stuck<'a>(sagas: &'a Value, id: &str) -> Option<&'a Value> {
    sagas["stuck"]
        .as_array()
        .expect("stuck list")
        .iter()
        .find(|s| s["order_id"] == id)
}

fn running(sagas: &Value, id: &str) -> bool {
    sagas["sagas"]
        .as_array()
        .expect("saga list")
        .iter()
        .any(|s| s["order_id"] == id && s["live"] == true)
}

async fn pay_until_delivered(app: &TestApp, token: &str, id: &str) {
    let res = app
        .send(
            Method::POST,
            &format!("{ORDERS}/{id}/payment"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(res.status(), 200, "pay {id}: {:?}", res.text().await);
    for _ in 0..250 {
        let o = app.get_json(&format!("{ORDERS}/{id}"), Some(token)).await;
        if o["status"] == "DELIVERED" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("order {id} was never delivered");
}

async fn a_corrupt_order_does_not_stop_start_up(db: TestDb) {
    let s = settings(&db);
    let app = spawn_app_with(db, s).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(1_000, 10)], None).await[0];
    let good = place(&app, &buyer, "good", sku).await;
    let bad_status = place(&app, &buyer, "bad-status", sku).await;
    let bad_line = place(&app, &buyer, "bad-line", sku).await;
    let db = app.stop().await;

    // Damage two of the three live orders behind the service's back.
    let store = db.store().await;
    sqlx::query("UPDATE orders SET status = 'LOST_IN_SPACE' WHERE id = ?")
        .bind(bad_status.clone())
        .execute(store.pool())
        .await
        .expect("corrupt status");
    sqlx::query("UPDATE order_items SET quantity = 5000000000 WHERE order_id = ?")
        .bind(bad_line.clone())
        .execute(store.pool())
        .await
        .expect("corrupt line");

    let mut s = settings(&db);
    s.orders.resume_retry_ms = 100;
    let app = spawn_app_with(db, s).await;
    let admin = app.admin_token().await;
    let listed = sagas(&app, &admin).await;
    assert!(running(&listed, &good), "the good order resumed: {listed}");
    let status = stuck(&listed, &bad_status).expect("bad status listed");
    assert!(
        status["reason"]
            .as_str()
            .is_some_and(|r| r.contains("LOST_IN_SPACE")),
        "{status}"
    );
    let line = stuck(&listed, &bad_line).expect("bad line listed");
    assert!(
        line["reason"]
            .as_str()
            .is_some_and(|r| r.contains("quantity")),
        "{line}"
    );
    assert!(!running(&listed, &bad_status) && !running(&listed, &bad_line));

    // The healthy order goes all the way.
    pay_until_delivered(&app, &buyer, &good).await;

    // Repaired, a stuck order is picked up again by the periodic retry.
    sqlx::query("UPDATE orders SET status = 'AWAITING_PAYMENT' WHERE id = ?")
        .bind(bad_status.clone())
        .execute(app.store.pool())
        .await
        .expect("repair status");
    let mut resumed = Value::Null;
    for _ in 0..100 {
        resumed = sagas(&app, &admin).await;
        if stuck(&resumed, &bad_status).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running(&resumed, &bad_status), "retried: {resumed}");
    let still = stuck(&resumed, &bad_line).expect("still stuck");
    assert!(
        still["attempts"].as_u64().is_some_and(|n| n >= 2),
        "{still}"
    );
    pay_until_delivered(&app, &buyer, &bad_status).await;
    app.stop().await;
}

on_both_stores!(a_corrupt_order_does_not_stop_start_up);
