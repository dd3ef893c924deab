//! Purchases that are retried, replayed or cut short (issue 11, items 7, 8
//! and 10): a reused Idempotency-Key leaves the first order and its stock as
//! they were, a retry whose hold was given back (or whose first try ended
//! with a 503) reaches a final answer, and a payment window never outlives
//! the holds it pays for.

mod common;

use common::{TestApp, TestDb, app_settings, assert_problem, fast_orders, qty, spawn_app_with};
use serde_json::{Value, json};
use stampede::domain::ids::{OrderId, SkuId, UserId};
use stampede::domain::time::Timestamp;
use std::time::Duration;

const ORDERS: &str = "/api/v1/orders";
const TTL_MS: u64 = 3_000;
const WINDOW_MS: u64 = 2_000;

fn settings(db: &TestDb) -> stampede::config::Settings {
    let mut s = app_settings(db);
    fast_orders(&mut s);
    s.inventory.reservation_ttl_ms = TTL_MS;
    s.orders.payment_window_ms = WINDOW_MS;
    s
}

async fn app(db: TestDb) -> TestApp {
    let s = settings(&db);
    spawn_app_with(db, s).await
}

fn body(lines: &[(i64, i64)]) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|(sku, n)| json!({"sku_id": sku, "quantity": n}))
        .collect();
    json!({"items": items, "shipping_address": "Seoul, Gangnam-gu 1"})
}

async fn place(app: &TestApp, token: &str, key: &str, lines: &[(i64, i64)]) -> reqwest::Response {
    app.client
        .post(app.url(ORDERS))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body(lines))
        .send()
        .await
        .expect("POST /orders")
}

async fn reserved(app: &TestApp, sku: i64) -> i64 {
    app.get_json(&format!("/api/v1/skus/{sku}/availability"), None)
        .await["reserved"]
        .as_i64()
        .expect("reserved")
}

async fn created(res: reqwest::Response) -> Value {
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, 201, "{text}");
    serde_json::from_str(&text).expect("order")
}

/// Issue 11, item 7: a key reused with another body answers 422 and leaves
/// the first order and its stock exactly as they were; what the new body
/// took is given back at once, not held until the reservation TTL.
async fn a_reused_key_leaves_the_first_order_as_it_was(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let (_, other) = app.user("customer").await;
    let s = app
        .product(&seller, &[(100, 10), (100, 10), (100, 10), (100, 1)], None)
        .await;
    let (s1, s2, s3, s4) = (s[0], s[1], s[2], s[3]);
    // s4 sells out to someone else.
    created(place(&app, &other, "theirs", &[(s4, 1)]).await).await;

    let first = created(place(&app, &buyer, "k", &[(s2, 1), (s3, 1)]).await).await;

    // Another body whose new line is sold out: the first order's s2 hold
    // must not be given back with the refusal.
    let res = place(&app, &buyer, "k", &[(s2, 1), (s4, 1)]).await;
    assert_problem(res, 422, "IDEMPOTENCY_KEY_REUSED").await;
    // Another quantity of a line the first holds, after a new line was
    // taken: the new line is given back.
    let res = place(&app, &buyer, "k", &[(s1, 1), (s3, 2)]).await;
    assert_problem(res, 422, "IDEMPOTENCY_KEY_REUSED").await;
    // A superset of the first body: every line holds, the write meets the
    // first order, and the extra line is given back.
    let res = place(&app, &buyer, "k", &[(s1, 1), (s2, 1), (s3, 1)]).await;
    assert_problem(res, 422, "IDEMPOTENCY_KEY_REUSED").await;

    assert_eq!(reserved(&app, s1).await, 0, "nothing new stays held");
    assert_eq!(reserved(&app, s2).await, 1, "the first order keeps s2");
    assert_eq!(reserved(&app, s3).await, 1, "the first order keeps s3");
    // The first answer is still the answer, and the first order still sells.
    let again = created(place(&app, &buyer, "k", &[(s2, 1), (s3, 1)]).await).await;
    assert_eq!(again, first);
    let order_id = first["order_id"].as_str().expect("id");
    let paid = app
        .client
        .post(app.url(&format!("{ORDERS}/{order_id}/payment")))
        .bearer_auth(&buyer)
        .send()
        .await
        .expect("pay");
    let paid: Value = paid.json().await.expect("json");
    assert_eq!(paid["status"], "PAID", "{paid}");
    app.stop().await;
}

/// Issue 11, item 8: a key that no order carries, whose hold was given back
/// or expired (a request cut short, or answered 503), is judged again and
/// reaches a final answer; the payment window ends before the holds lapse.
async fn a_retry_whose_hold_was_given_back_is_judged_again(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (buyer_id, buyer) = app.user("customer").await;
    let buyer_id = UserId::new(buyer_id);
    let s = app.product(&seller, &[(100, 10)], None).await[0];
    let sku = SkuId::new(s);
    let hold = |key: &str| OrderId::derive(buyer_id, key).reservation();

    // Held, then given back before any order was written.
    app.inventory
        .reserve(sku, hold("released"), buyer_id, qty(1))
        .await
        .expect("reserve");
    app.inventory
        .release(sku, hold("released"))
        .await
        .expect("release");
    created(place(&app, &buyer, "released", &[(s, 2)]).await).await;

    // Held, then expired before any order was written.
    app.inventory
        .reserve(sku, hold("expired"), buyer_id, qty(1))
        .await
        .expect("reserve");
    tokio::time::sleep(Duration::from_millis(TTL_MS + 200)).await;
    let expired = created(place(&app, &buyer, "expired", &[(s, 1)]).await).await;
    assert_eq!(expired["status"], "AWAITING_PAYMENT");

    // Held by a try that never got its answer; the retry pays within what
    // is left of the window counted from the hold, not a fresh one.
    let held = app
        .inventory
        .reserve(sku, hold("late"), buyer_id, qty(1))
        .await
        .expect("reserve");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let order = created(place(&app, &buyer, "late", &[(s, 1)]).await).await;
    let due =
        Timestamp::parse_rfc3339(order["payment_due_at"].as_str().expect("due")).expect("rfc3339");
    let first_held = held.expires_at.minus(Duration::from_millis(TTL_MS));
    assert!(
        due <= first_held.plus(Duration::from_millis(WINDOW_MS)),
        "due {due:?}, first held {first_held:?}"
    );
    assert!(due < held.expires_at);
    app.stop().await;
}

/// Issue 11, item 8: a 503 is never a key's stored answer. An order of an
/// earlier release that gave up reserving and stored `UNAVAILABLE` does not
/// answer 503 forever: its key is judged again.
async fn an_order_that_ended_unanswered_is_judged_again(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let s = app.product(&seller, &[(100, 10)], None).await[0];
    let first = created(place(&app, &buyer, "gave-up", &[(s, 2)]).await).await;
    let id = first["order_id"].as_str().expect("id").to_string();
    let db = app.stop().await;

    // What an earlier release left: the order closed unanswered, its hold
    // given back.
    let store = db.store().await;
    for (sql, arg) in [
        (
            "UPDATE orders SET status = 'CANCELLED', step = 'done', \
             first_answer = 'UNAVAILABLE' WHERE id = ?",
            id.clone(),
        ),
        (
            "UPDATE reservations SET status = 'released' WHERE reservation_id = ?",
            id.clone(),
        ),
    ] {
        sqlx::query(sql)
            .bind(arg)
            .execute(store.pool())
            .await
            .expect("legacy row");
    }
    sqlx::query("UPDATE sku_stock SET reserved = 0 WHERE sku_id = ?")
        .bind(s)
        .execute(store.pool())
        .await
        .expect("levels");
    store.close().await;

    let s2 = settings(&db);
    let app = spawn_app_with(db, s2).await;
    let again = created(place(&app, &buyer, "gave-up", &[(s, 2)]).await).await;
    assert_eq!(again["order_id"], first["order_id"]);
    assert_eq!(again["status"], "AWAITING_PAYMENT");
    assert_eq!(reserved(&app, s).await, 2);
    // From now on, that is the key's answer.
    let replay = created(place(&app, &buyer, "gave-up", &[(s, 2)]).await).await;
    assert_eq!(replay, again);
    app.stop().await;
}

/// Issue 11, item 9: retried purchases (accepted and refused) meet their
/// own rows in the order writer's batches; they are skipped, not a failed
/// batch written again one by one.
async fn retries_do_not_break_group_commit(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let s = app.product(&seller, &[(100, 60)], None).await[0];
    let mut buyers = Vec::new();
    for _ in 0..120 {
        buyers.push(app.user("customer").await.1);
    }
    // Every buyer sends the same purchase three times at once.
    let app = &app;
    let tries = buyers.iter().flat_map(|token| {
        (0..3).map(move |_| async move {
            let res = place(app, token, "drop", &[(s, 1)]).await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.expect("json");
            (token.clone(), status, body)
        })
    });
    let answers = futures::future::join_all(tries).await;
    let mut per_buyer: std::collections::HashMap<String, Vec<(u16, Value)>> = Default::default();
    for (token, status, body) in answers {
        per_buyer.entry(token).or_default().push((status, body));
    }
    let mut sold = 0;
    for (_, got) in per_buyer {
        assert!(got.iter().all(|a| a == &got[0]), "{got:?}");
        match got[0].0 {
            201 => sold += 1,
            409 => assert_eq!(got[0].1["code"], "OUT_OF_STOCK"),
            other => panic!("unexpected {other}: {:?}", got[0].1),
        }
    }
    assert_eq!(sold, 60);
    assert_eq!(reserved(app, s).await, 60);
    // Refusals are recorded behind their answers.
    let mut rows = 0;
    for _ in 0..100 {
        rows = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM orders")
            .fetch_one(app.store.pool())
            .await
            .expect("count");
        if rows >= 120 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows, 120, "one row per buyer");
    assert_eq!(app.orders.writer_failed_batches(), 0);
}

/// Issue 11, item 9: a retried purchase is answered before the order
/// writer. Whether it retries after its answer or side by side with the
/// first try, accepted or refused, no duplicate of its order reaches the
/// writer (on SQLite every write there delays the buyers who did not
/// retry), and every retry gets the first answer.
async fn retries_hand_the_order_writer_no_duplicates(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let s = app.product(&seller, &[(100, 2)], None).await[0];
    let mut buyers = Vec::new();
    for _ in 0..4 {
        buyers.push(app.user("customer").await.1);
    }
    let app = &app;
    let fire = |token: &str, times: usize| {
        let token = token.to_string();
        async move {
            let tries = (0..times).map(|_| async {
                let res = place(app, &token, "drop", &[(s, 1)]).await;
                let status = res.status().as_u16();
                (status, res.json::<Value>().await.expect("json"))
            });
            futures::future::join_all(tries).await
        }
    };
    // Side by side from the first try: one buyer buys, one is refused.
    let bought = fire(&buyers[0], 3).await;
    let first_buy = fire(&buyers[1], 1).await;
    let refused = fire(&buyers[2], 3).await;
    let first_refusal = fire(&buyers[3], 1).await;
    // Then each retries after its answer, alone and side by side.
    let mut answers = vec![
        (bought, fire(&buyers[0], 1).await, fire(&buyers[0], 3).await),
        (
            first_buy,
            fire(&buyers[1], 1).await,
            fire(&buyers[1], 3).await,
        ),
        (
            refused,
            fire(&buyers[2], 1).await,
            fire(&buyers[2], 3).await,
        ),
        (
            first_refusal,
            fire(&buyers[3], 1).await,
            fire(&buyers[3], 3).await,
        ),
    ];
    for (i, (first, after, burst)) in answers.drain(..).enumerate() {
        let all: Vec<_> = first.iter().chain(&after).chain(&burst).collect();
        assert!(all.iter().all(|a| *a == all[0]), "buyer {i}: {all:?}");
        let expected = if i < 2 { 201 } else { 409 };
        assert_eq!(all[0].0, expected, "buyer {i}: {:?}", all[0].1);
    }
    // Refusals land behind their answers: wait for the writer to be idle.
    for _ in 0..100 {
        if app.orders.writes_queued() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.orders.writes_queued(), 0);
    assert_eq!(
        app.orders.writer_skipped_writes(),
        0,
        "retries reached the order writer"
    );
    let rows = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM orders")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert_eq!(rows, 4, "one row per buyer");
    assert_eq!(reserved(app, s).await, 2);
}

/// Issue 11, item 10: a purchase that held units but whose order was never
/// written (the process died in between) does not keep them until the TTL:
/// start-up gives them back, and a late retry with the key still buys.
async fn holds_without_an_order_are_given_back_at_start(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (buyer_id, buyer) = app.user("customer").await;
    let s = app.product(&seller, &[(100, 5)], None).await[0];
    let (sku, user) = (SkuId::new(s), UserId::new(buyer_id));
    let cut_short = OrderId::derive(user, "cut-short").reservation();
    app.inventory
        .reserve(sku, cut_short, user, qty(3))
        .await
        .expect("reserve");
    // A hold that is not an order's is not the orders' to judge.
    let foreign = stampede::domain::ids::ReservationId::parse("tool-hold").expect("id");
    app.inventory
        .reserve(sku, foreign, user, qty(1))
        .await
        .expect("reserve");
    let placed = created(place(&app, &buyer, "placed", &[(s, 1)]).await).await;
    assert_eq!(reserved(&app, s).await, 5);
    let db = app.stop().await;

    let s2 = settings(&db);
    let app = spawn_app_with(db, s2).await;
    assert_eq!(
        reserved(&app, s).await,
        2,
        "the order's and the tool's holds stay"
    );
    let retried = created(place(&app, &buyer, "cut-short", &[(s, 2)]).await).await;
    assert_eq!(retried["status"], "AWAITING_PAYMENT");
    assert_ne!(retried["order_id"], placed["order_id"]);
    assert_eq!(reserved(&app, s).await, 4);
    app.stop().await;
}

on_both_stores!(
    holds_without_an_order_are_given_back_at_start,
    retries_do_not_break_group_commit,
    retries_hand_the_order_writer_no_duplicates,
    a_reused_key_leaves_the_first_order_as_it_was,
    a_retry_whose_hold_was_given_back_is_judged_again,
    an_order_that_ended_unanswered_is_judged_again,
);
