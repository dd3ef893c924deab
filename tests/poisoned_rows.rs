//! A change the store always refuses (issue 11, item 13): a trigger in the
//! real database refuses one SKU's reservation rows. The persister's batch
//! keeps failing until it is split; that SKU is held apart and reported in
//! the log, `/metrics` and `/admin/actors`, while every other SKU sells and
//! commits. Once the database takes the rows again, the held changes
//! commit and the SKU sells again.

mod common;

use common::{TestApp, TestDb, spawn_app};
use serde_json::Value;
use stampede::persistence::Backend;
use std::time::{Duration, Instant};

async fn place(app: &TestApp, token: &str, key: &str, sku: i64) -> reqwest::StatusCode {
    app.buy_one(token, key, sku).await.status()
}

/// Retries the purchase with the same key, as a client does after a 503,
/// until it is placed; false if it never is within `within`.
async fn placed_within(app: &TestApp, token: &str, key: &str, sku: i64, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match place(app, token, key, sku).await.as_u16() {
            201 => return true,
            503 => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("unexpected answer {other}"),
        }
    }
    false
}

async fn poison(app: &TestApp, sku: i64) {
    let statements = match app.store.backend() {
        Backend::Sqlite => ["INSERT", "UPDATE"].map(|event| {
            format!(
                "CREATE TRIGGER poison_{event} BEFORE {event} ON reservations \
                 WHEN NEW.sku_id = {sku} BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
            )
        }),
        Backend::MySql => ["INSERT", "UPDATE"].map(|event| {
            format!(
                "CREATE TRIGGER poison_{event} BEFORE {event} ON reservations FOR EACH ROW \
                 BEGIN IF NEW.sku_id = {sku} THEN \
                 SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poisoned row'; END IF; END"
            )
        }),
    };
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(app.store.pool())
            .await
            .expect("create the trigger");
    }
}

async fn cure(app: &TestApp) {
    for event in ["INSERT", "UPDATE"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TRIGGER poison_{event}")))
            .execute(app.store.pool())
            .await
            .expect("drop the trigger");
    }
}

async fn reservations_in_store(app: &TestApp, sku: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM reservations WHERE sku_id = ?")
        .bind(sku)
        .fetch_one(app.store.pool())
        .await
        .expect("count")
}

async fn held_parts(app: &TestApp, admin: &str) -> Vec<Value> {
    app.get_json("/api/v1/admin/actors", Some(admin)).await["persister"]["quarantined"]
        .as_array()
        .expect("quarantined")
        .clone()
}

/// The metrics recorder is one per process and both stores' variants run
/// in this binary at once: one's cure would zero the other's held-parts
/// gauge between its hold and its read. The variants take turns.
static METRICS_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn one_poisoned_sku_does_not_stop_the_others(db: TestDb) {
    let _turn = METRICS_TURN.lock().await;
    let app = spawn_app(db).await;
    let admin = app.admin_token().await;
    let (_, seller) = app.user("seller").await;
    let (_, first) = app.user("customer").await;
    let (_, second) = app.user("customer").await;
    let skus = app.product(&seller, &[(100, 10), (100, 10)], None).await;
    let (bad, good) = (skus[0], skus[1]);
    poison(&app, bad).await;

    // The poisoned SKU's change fails its batch: no one hears "placed".
    assert_eq!(place(&app, &first, "bad-1", bad).await, 503);
    // Another SKU's buyer, retrying as clients do, is placed all the same.
    assert!(
        placed_within(&app, &second, "good-1", good, Duration::from_secs(15)).await,
        "a buyer of another SKU was never placed: the poisoned batch blocks every SKU"
    );
    assert_eq!(reservations_in_store(&app, good).await, 1);
    assert_eq!(reservations_in_store(&app, bad).await, 0);

    // Reported: /admin/actors, the SKU's own view, /metrics.
    let held = held_parts(&app, &admin).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["part"], bad.to_string());
    assert!(
        held[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("poisoned row")),
        "{held:?}"
    );
    let view = app
        .get_json(&format!("/api/v1/admin/actors/skus/{bad}"), Some(&admin))
        .await;
    assert_eq!(view["held"], true, "{view}");
    let metrics = app
        .get("/metrics", None)
        .await
        .text()
        .await
        .expect("metrics");
    assert!(
        metrics.contains("stampede_quarantined_parts{writer=\"inventory\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stampede_batch_quarantines_total{writer=\"inventory\"}"),
        "{metrics}"
    );
    // The held SKU refuses new decisions at once; the other keeps selling.
    assert_eq!(place(&app, &first, "bad-2", bad).await, 503);
    assert_eq!(place(&app, &second, "good-2", good).await, 201);

    // The database takes the rows again: the held change commits, and the
    // first buyer's retry with the same key is placed.
    cure(&app).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !held_parts(&app, &admin).await.is_empty() {
        assert!(Instant::now() < deadline, "the held SKU was never let go");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reservations_in_store(&app, bad).await, 1);
    assert!(placed_within(&app, &first, "bad-1", bad, Duration::from_secs(5)).await);
    let snapshot = app
        .get_json(&format!("/api/v1/skus/{bad}/availability"), None)
        .await;
    assert_eq!(
        snapshot["reserved"], 1,
        "the retry reused its hold: {snapshot}"
    );
    app.stop().await;
}

on_both_stores!(one_poisoned_sku_does_not_stop_the_others);
