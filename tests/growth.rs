//! Nothing grows without bound (issue 11, item 12): a SKU remembers at most
//! `inventory.finished_kept` given-back reservations, and the pruning job
//! deletes finished rows past the retention while keeping everything live.

mod common;

use common::{TestApp, TestDb, app_settings, fast_orders, spawn_app_with};
use serde_json::Value;
use stampede::domain::ids::SkuId;
use stampede::domain::time::Timestamp;
use std::time::Duration;

const ORDERS: &str = "/api/v1/orders";

async fn place(app: &TestApp, token: &str, key: &str, sku: i64) -> reqwest::Response {
    app.buy_one(token, key, sku).await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(app.store.pool())
        .await
        .expect("count")
}

/// A place-and-cancel loop on one SKU leaves the SKU's memory bounded.
async fn a_place_and_cancel_loop_does_not_grow_a_sku(db: TestDb) {
    let mut s = app_settings(&db);
    fast_orders(&mut s);
    s.inventory.finished_kept = 10;
    // One buyer places and cancels in a loop, far past any purchase budget.
    s.rate_limit.enabled = false;
    let app = spawn_app_with(db, s).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(100, 5)], None).await[0];
    for n in 0..60 {
        let res = place(&app, &buyer, &format!("loop-{n}"), sku).await;
        assert_eq!(res.status(), 201);
        let order: Value = res.json().await.expect("order");
        let id = order["order_id"].as_str().expect("id");
        let res = app
            .client
            .post(app.url(&format!("{ORDERS}/{id}/cancel")))
            .bearer_auth(&buyer)
            .send()
            .await
            .expect("cancel");
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
    }
    let snap = app.inventory.snapshot(SkuId::new(sku)).await.expect("snap");
    assert_eq!(snap.reserved, 0);
    assert!(
        snap.remembered <= 10,
        "{} reservations remembered",
        snap.remembered
    );
    app.stop().await;
}

/// The pruning job deletes given-back reservations, rejected orders and
/// expired sessions past the retention; live ones stay.
async fn finished_rows_are_pruned(db: TestDb) {
    let mut s = app_settings(&db);
    fast_orders(&mut s);
    s.retention.every_secs = 1;
    s.retention.keep_hours = 24;
    s.inventory.idempotency_window_secs = 3600;
    let app = spawn_app_with(db, s).await;
    let (_, seller) = app.user("seller").await;
    let (buyer_id, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(100, 1)], None).await[0];
    assert_eq!(place(&app, &buyer, "live", sku).await.status(), 201);
    assert_eq!(place(&app, &buyer, "refused", sku).await.status(), 409);
    assert_eq!(place(&app, &buyer, "old-refused", sku).await.status(), 409);
    // Wait until the refusals are recorded (they land behind their answers).
    for _ in 0..100 {
        if count(&app, "SELECT COUNT(*) FROM orders").await == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Age one refusal, one given-back reservation and one session.
    let long_ago = Timestamp::now()
        .minus(Duration::from_secs(48 * 3600))
        .millis();
    let old_order = stampede::domain::ids::OrderId::derive(
        stampede::domain::ids::UserId::new(buyer_id),
        "old-refused",
    );
    for (sql, arg) in [
        (
            "UPDATE orders SET updated_at = ? WHERE id = ?",
            old_order.to_string(),
        ),
        (
            "INSERT INTO reservations (sku_id, reservation_id, user_id, quantity, status, \
             expires_at, updated_at) VALUES (?, ?, 1, 1, 'released', 0, 0)",
            "given-back-long-ago".to_string(),
        ),
    ] {
        let q = sqlx::query(sql);
        let q = if sql.starts_with("UPDATE") {
            q.bind(long_ago).bind(arg)
        } else {
            q.bind(sku).bind(arg)
        };
        q.execute(app.store.pool()).await.expect("age");
    }
    let session: String = sqlx::query_scalar("SELECT MIN(id) FROM sessions")
        .fetch_one(app.store.pool())
        .await
        .expect("a session");
    sqlx::query("UPDATE sessions SET expires_at = ? WHERE id = ?")
        .bind(long_ago)
        .bind(session)
        .execute(app.store.pool())
        .await
        .expect("age a session");
    let sessions_before = count(&app, "SELECT COUNT(*) FROM sessions").await;

    let mut pruned = false;
    for _ in 0..100 {
        if count(&app, "SELECT COUNT(*) FROM orders").await == 2 {
            pruned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pruned, "the old refusal was not pruned");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM order_events WHERE order_id NOT IN (SELECT id FROM orders)"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM reservations WHERE reservation_id = 'given-back-long-ago'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM reservations WHERE status = 'reserved'"
        )
        .await,
        1,
        "the live order's hold stays"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM sessions").await,
        sessions_before - 1
    );
    app.stop().await;
}

on_both_stores!(
    a_place_and_cancel_loop_does_not_grow_a_sku,
    finished_rows_are_pruned,
);
