//! The books of a shop after a storm or a crash: every order final, stock
//! adding up per SKU, units sold equal to delivered lines, and no money
//! held by an order that did not deliver.

use serde_json::Value;
use sqlx::Row;
use stampede::persistence::Store;
use std::collections::HashMap;
use std::time::Duration;

/// Waits until no saga has work left.
pub async fn until_all_final(store: &Store) {
    for _ in 0..1_500 {
        let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE step <> 'done'")
            .fetch_one(store.pool())
            .await
            .expect("count");
        if live == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("orders still live after 30 s");
}

/// Checks stock, orders and the payment provider's books against each other.
pub async fn assert_books_balance(
    base: &str,
    store: &Store,
    skus: &[i64],
    stock: i64,
    acknowledged: &[String],
) {
    let pool = store.pool();
    let client = reqwest::Client::new();
    for id in acknowledged {
        let found: Option<String> = sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
            .bind(id.clone())
            .fetch_optional(pool)
            .await
            .expect("order");
        assert!(found.is_some(), "acknowledged order {id} is lost");
    }
    // Exactly one final event per order, even across a crash and a resume.
    let finals: Vec<(String, i64)> = sqlx::query_as(
        "SELECT o.id, COUNT(e.seq) FROM orders o LEFT JOIN order_events e ON e.order_id = o.id \
         AND e.kind IN ('delivered', 'cancelled', 'rejected') GROUP BY o.id",
    )
    .fetch_all(pool)
    .await
    .expect("final events");
    for (id, n) in &finals {
        assert_eq!(*n, 1, "order {id} has {n} final events");
    }
    let rows = sqlx::query(
        "SELECT i.sku_id, o.status, CAST(SUM(i.quantity) AS SIGNED) FROM order_items i \
         JOIN orders o ON o.id = i.order_id GROUP BY i.sku_id, o.status",
    )
    .fetch_all(pool)
    .await
    .expect("order lines");
    let mut delivered: HashMap<i64, i64> = HashMap::new();
    for row in &rows {
        let status: String = row.get(1);
        assert!(
            ["DELIVERED", "CANCELLED", "REJECTED"].contains(&status.as_str()),
            "a live order remained: {status}"
        );
        if status == "DELIVERED" {
            *delivered.entry(row.get(0)).or_default() += row.get::<i64, _>(2);
        }
    }
    for sku in skus {
        let a: Value = client
            .get(format!("{base}/api/v1/skus/{sku}/availability"))
            .send()
            .await
            .expect("availability")
            .json()
            .await
            .expect("json");
        let (available, reserved, sold) = (
            a["available"].as_i64().expect("available"),
            a["reserved"].as_i64().expect("reserved"),
            a["sold"].as_i64().expect("sold"),
        );
        assert_eq!(available + reserved + sold, stock, "SKU {sku}: {a}");
        assert_eq!(reserved, 0, "SKU {sku}: stock held past every order's end");
        assert_eq!(
            sold,
            delivered.get(sku).copied().unwrap_or(0),
            "SKU {sku}: sold units differ from delivered orders"
        );
    }
    // Money: delivered orders were captured; no other order holds any.
    let money = sqlx::query(
        "SELECT o.status, p.state, COUNT(*) FROM orders o \
         LEFT JOIN simulated_payments p ON p.order_id = o.id GROUP BY o.status, p.state",
    )
    .fetch_all(pool)
    .await
    .expect("payments");
    for row in &money {
        let status: String = row.get(0);
        let state: Option<String> = row.get(1);
        let held = matches!(state.as_deref(), Some("authorized" | "captured"));
        if status == "DELIVERED" {
            assert_eq!(
                state.as_deref(),
                Some("captured"),
                "delivered but not captured"
            );
        } else {
            assert!(!held, "a {status} order holds money ({state:?})");
        }
    }
}
