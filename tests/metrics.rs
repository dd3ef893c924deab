//! `GET /metrics` on the real server: every metric family appears with the
//! labels operators rely on. The recorder is global to the test process and
//! shared by every app in it, so counters are compared before and after,
//! never against exact totals.

mod common;

use common::{TestDb, app_settings, fast_orders, id, qty, spawn_app_with};
use serde_json::{Value, json};
use stampede::domain::ids::{SkuId, UserId};
use std::time::Duration;

const ORDERS: &str = "/api/v1/orders";

/// One scrape, as text.
async fn scrape(app: &common::TestApp) -> String {
    let res = app.get("/metrics", None).await;
    assert_eq!(res.status(), 200);
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("text/plain"), "content type {ct}");
    res.text().await.expect("body")
}

/// The sample lines of `family` (exactly that name) carrying every label.
fn samples<'a>(text: &'a str, family: &str, labels: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(family))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .collect()
}

/// The sum of the matching samples (0 when there is none yet).
fn value(text: &str, family: &str, labels: &[&str]) -> f64 {
    samples(text, family, labels)
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Asserts the counter grew by at least `by` between two scrapes.
fn grew(before: &str, after: &str, family: &str, labels: &[&str], by: f64) {
    let (b, a) = (value(before, family, labels), value(after, family, labels));
    assert!(
        a >= b + by,
        "{family}{labels:?} went from {b} to {a}, expected +{by}\n{after}"
    );
}

fn has(text: &str, family: &str, labels: &[&str]) {
    assert!(
        !samples(text, family, labels).is_empty(),
        "no {family} sample with {labels:?}\n{text}"
    );
}

async fn place(app: &common::TestApp, token: &str, key: &str, sku: i64) -> reqwest::Response {
    app.client
        .post(app.url(ORDERS))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({"items": [{"sku_id": sku, "quantity": 1}], "shipping_address": "Seoul 1"}))
        .send()
        .await
        .expect("POST /orders")
}

async fn every_family_is_scraped(db: TestDb) {
    let mut s = app_settings(&db);
    fast_orders(&mut s);
    let app = spawn_app_with(db, s).await;
    let before = scrape(&app).await;

    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let skus = app.product(&seller, &[(1_000, 1), (1_000, 5)], None).await;
    let availability = format!("/api/v1/skus/{}/availability", skus[0]);
    app.get_json(&availability, None).await;

    // The only unit goes to the first order; the second finds none.
    let res = place(&app, &buyer, "metrics-1", skus[0]).await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.expect("order");
    let order_id = order["order_id"].as_str().expect("order_id").to_string();
    assert_eq!(
        place(&app, &buyer, "metrics-2", skus[0]).await.status(),
        409
    );
    // A reserve retried under its id is a replay.
    for _ in 0..2 {
        app.inventory
            .reserve(
                SkuId::new(skus[1]),
                id("metrics-replay"),
                UserId::new(7),
                qty(1),
            )
            .await
            .expect("reserve");
    }
    let paid = app
        .send(
            reqwest::Method::POST,
            &format!("{ORDERS}/{order_id}/payment"),
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(paid.status(), 200);
    let mut delivered = false;
    for _ in 0..250 {
        let o = app
            .get_json(&format!("{ORDERS}/{order_id}"), Some(&buyer))
            .await;
        if o["status"] == "DELIVERED" {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(delivered, "order {order_id} was not delivered");
    assert_eq!(app.get("/api/v1/nowhere", None).await.status(), 404);

    let after = scrape(&app).await;
    for (family, kind) in [
        ("stampede_http_requests_total", "counter"),
        ("stampede_http_request_duration_seconds", "histogram"),
        ("stampede_mailbox_depth", "gauge"),
        ("stampede_actors", "gauge"),
        ("stampede_reserves_total", "counter"),
        ("stampede_batch_size", "histogram"),
        ("stampede_reserve_intake_batch", "histogram"),
        ("stampede_flush_duration_seconds", "histogram"),
        ("stampede_saga_transitions_total", "counter"),
    ] {
        assert!(
            after.contains(&format!("# TYPE {family} {kind}\n")),
            "{family} is not a {kind}\n{after}"
        );
    }

    // Requests: by route pattern and status, never by raw path.
    let route = r#"route="/api/v1/skus/{id}/availability""#;
    let get_ok = [route, r#"method="GET""#, r#"status="200""#];
    grew(
        &before,
        &after,
        "stampede_http_requests_total",
        &get_ok,
        1.0,
    );
    has(
        &after,
        "stampede_http_request_duration_seconds_bucket",
        &get_ok,
    );
    has(
        &after,
        "stampede_http_request_duration_seconds_bucket",
        &[route, r#"le="0.005""#],
    );
    let placed = [r#"route="/api/v1/orders""#, r#"method="POST""#];
    grew(
        &before,
        &after,
        "stampede_http_requests_total",
        &[placed[0], placed[1], r#"status="201""#],
        1.0,
    );
    grew(
        &before,
        &after,
        "stampede_http_requests_total",
        &[placed[0], placed[1], r#"status="409""#],
        1.0,
    );
    grew(
        &before,
        &after,
        "stampede_http_requests_total",
        &[r#"route="unmatched""#, r#"status="404""#],
        1.0,
    );
    assert!(
        !after.contains(&format!("route=\"{availability}\"")),
        "a raw path became a label"
    );

    // Reserve decisions by outcome.
    for (outcome, by) in [("reserved", 2.0), ("out_of_stock", 1.0), ("replayed", 1.0)] {
        let label = format!("outcome=\"{outcome}\"");
        grew(&before, &after, "stampede_reserves_total", &[&label], by);
    }

    // Every reserve reached its SKU actor through an intake batch.
    has(
        &after,
        "stampede_reserve_intake_batch_bucket",
        &[r#"le="1""#],
    );
    grew(
        &before,
        &after,
        "stampede_reserve_intake_batch_sum",
        &[],
        4.0,
    );

    // Group commits of both writers, with their count buckets.
    for writer in [r#"writer="inventory""#, r#"writer="orders""#] {
        has(&after, "stampede_batch_size_bucket", &[writer, r#"le="1""#]);
        grew(&before, &after, "stampede_batch_size_count", &[writer], 1.0);
        has(&after, "stampede_flush_duration_seconds_bucket", &[writer]);
    }

    // Saga transitions by from and to status.
    for (from, to) in [
        ("PENDING", "AWAITING_PAYMENT"),
        ("PENDING", "REJECTED"),
        ("AWAITING_PAYMENT", "PAID"),
        ("SHIPPED", "DELIVERED"),
    ] {
        let labels = [format!("from=\"{from}\""), format!("to=\"{to}\"")];
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        grew(
            &before,
            &after,
            "stampede_saga_transitions_total",
            &labels,
            1.0,
        );
    }

    // Gauges sampled at scrape time.
    for kind in ["sku", "persister", "order_writer"] {
        has(
            &after,
            "stampede_mailbox_depth",
            &[&format!("kind=\"{kind}\"")],
        );
    }
    has(&after, "stampede_actors", &[r#"kind="saga""#]);
    assert!(value(&after, "stampede_actors", &[r#"kind="sku""#]) >= 1.0);
    app.stop().await;
}

on_both_stores!(every_family_is_scraped);
