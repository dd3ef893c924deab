//! Orders over real HTTP, every path of the saga: the happy path to
//! DELIVERED, rejections (all lines or none), Stripe-style idempotency,
//! declines, timeouts with late callbacks, shipment failures, buyer
//! cancels, payment expiry, role checks and a saga restarted after a panic.

mod common;

use common::{TestApp, TestDb, app_settings, assert_problem, fast_orders, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const ORDERS: &str = "/api/v1/orders";

async fn app_with(db: TestDb, tune: impl FnOnce(&mut stampede::config::Settings)) -> TestApp {
    let mut s = app_settings(&db);
    fast_orders(&mut s);
    tune(&mut s);
    spawn_app_with(db, s).await
}

async fn place(app: &TestApp, token: &str, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(ORDERS))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("POST /orders")
}

fn one_line(sku: i64, quantity: i64) -> Value {
    json!({"items": [{"sku_id": sku, "quantity": quantity}], "shipping_address": "Seoul, Gangnam-gu 1"})
}

async fn placed(app: &TestApp, token: &str, key: &str, body: Value) -> Value {
    let res = place(app, token, key, body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.expect("order")
}

async fn availability(app: &TestApp, sku: i64) -> Value {
    app.get_json(&format!("/api/v1/skus/{sku}/availability"), None)
        .await
}

async fn order(app: &TestApp, token: &str, id: &str) -> Value {
    app.get_json(&format!("{ORDERS}/{id}"), Some(token)).await
}

/// Polls the order until it reaches `status` (or fails after 5 s).
async fn until_status(app: &TestApp, token: &str, id: &str, status: &str) -> Value {
    for _ in 0..250 {
        let o = order(app, token, id).await;
        if o["status"] == status {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "order {id} never reached {status}: {}",
        order(app, token, id).await
    );
}

async fn event_kinds(app: &TestApp, token: &str, id: &str) -> Vec<String> {
    app.get_json(&format!("{ORDERS}/{id}/events"), Some(token))
        .await
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_string())
        .collect()
}

async fn pay(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.send(
        Method::POST,
        &format!("{ORDERS}/{id}/payment"),
        Some(token),
        None,
    )
    .await
}

async fn payment_state(app: &TestApp, id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT state FROM simulated_payments WHERE order_id = ?")
        .bind(id.to_owned())
        .fetch_optional(app.store.pool())
        .await
        .expect("payment row")
}

fn id_of(order: &Value) -> String {
    order["order_id"].as_str().expect("order_id").to_string()
}

async fn happy_path_to_delivery(db: TestDb) {
    let app = app_with(db, |_| {}).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let skus = app
        .product(&seller, &[(15_000, 10), (2_500, 5)], None)
        .await;
    let body = json!({"items": [{"sku_id": skus[1], "quantity": 2}, {"sku_id": skus[0], "quantity": 1}],
                      "shipping_address": "Busan, Haeundae 7"});
    let created = placed(&app, &buyer, "happy-1", body).await;
    assert_eq!(created["status"], "AWAITING_PAYMENT");
    assert_eq!(created["total"], 20_000);
    assert_eq!(created["currency"], "KRW");
    assert!(
        created["payment_due_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(created["items"].as_array().map(Vec::len), Some(2));
    let id = id_of(&created);
    assert_eq!(availability(&app, skus[0]).await["reserved"], 1);
    assert_eq!(availability(&app, skus[1]).await["reserved"], 2);

    let res = pay(&app, &buyer, &id).await;
    assert_eq!(res.status(), 200);
    until_status(&app, &buyer, &id, "DELIVERED").await;
    let a = availability(&app, skus[1]).await;
    assert_eq!(
        (a["reserved"].as_i64(), a["sold"].as_i64()),
        (Some(0), Some(2))
    );
    assert_eq!(payment_state(&app, &id).await.as_deref(), Some("captured"));
    assert_eq!(
        event_kinds(&app, &buyer, &id).await,
        [
            "placed",
            "reserved",
            "payment_requested",
            "payment_authorized",
            "payment_captured",
            "stock_committed",
            "shipment_created",
            "shipped",
            "delivered"
        ]
    );
    // Final orders are not paid or cancelled again.
    assert_problem(pay(&app, &buyer, &id).await, 409, "CONFLICT").await;
    let cancel = app
        .send(
            Method::POST,
            &format!("{ORDERS}/{id}/cancel"),
            Some(&buyer),
            None,
        )
        .await;
    assert_problem(cancel, 409, "CONFLICT").await;
    app.stop().await;
}

async fn all_lines_or_none(db: TestDb) {
    let app = app_with(db, |_| {}).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let opens = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let skus = app.product(&seller, &[(1_000, 5), (1_000, 1)], None).await;
    let later = app
        .product(&seller, &[(1_000, 5)], Some(json!({"opens_at": opens})))
        .await;
    let limited = app
        .product(&seller, &[(1_000, 5)], Some(json!({"per_user_limit": 1})))
        .await;

    // The second line cannot be served: the first is given back.
    let body = json!({"items": [{"sku_id": skus[0], "quantity": 3}, {"sku_id": skus[1], "quantity": 2}],
                      "shipping_address": "Seoul"});
    let res = place(&app, &buyer, "short", body).await;
    assert_problem(res, 409, "OUT_OF_STOCK").await;
    let a = availability(&app, skus[0]).await;
    assert_eq!(
        (a["available"].as_i64(), a["reserved"].as_i64()),
        (Some(5), Some(0))
    );

    assert_problem(
        place(&app, &buyer, "early", one_line(later[0], 1)).await,
        409,
        "NOT_ON_SALE",
    )
    .await;
    assert_problem(
        place(&app, &buyer, "greedy", one_line(limited[0], 2)).await,
        409,
        "PURCHASE_LIMIT_EXCEEDED",
    )
    .await;
    // A refused order answers the same to its retry, and is REJECTED: its
    // record is written behind the answer, so it shows up shortly after.
    let again = place(&app, &buyer, "greedy", one_line(limited[0], 2)).await;
    assert_problem(again, 409, "PURCHASE_LIMIT_EXCEEDED").await;
    let mut list = app.get_json(ORDERS, Some(&buyer)).await;
    for _ in 0..100 {
        if list["total"] == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        list = app.get_json(ORDERS, Some(&buyer)).await;
    }
    assert_eq!(list["total"], 3);
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|o| o["status"] == "REJECTED")
    );

    let missing = place(&app, &buyer, "ghost", one_line(999_999, 1)).await;
    assert_problem(missing, 404, "NOT_FOUND").await;
    app.stop().await;
}

async fn idempotency_follows_stripe(db: TestDb) {
    let app = app_with(db, |_| {}).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let (_, other) = app.user("customer").await;
    let sku = app.product(&seller, &[(500, 100)], None).await[0];

    let first = placed(&app, &buyer, "same", one_line(sku, 2)).await;
    let retry = placed(&app, &buyer, "same", one_line(sku, 2)).await;
    assert_eq!(first, retry, "a retry gets the first answer verbatim");
    let reused = place(&app, &buyer, "same", one_line(sku, 3)).await;
    assert_problem(reused, 422, "IDEMPOTENCY_KEY_REUSED").await;
    // Keys are per buyer.
    let theirs = placed(&app, &other, "same", one_line(sku, 2)).await;
    assert_ne!(theirs["order_id"], first["order_id"]);

    // Twenty concurrent duplicates: one order, reserved once.
    let answers =
        futures::future::join_all((0..20).map(|_| place(&app, &buyer, "burst", one_line(sku, 5))))
            .await;
    let mut ids = std::collections::HashSet::new();
    for res in answers {
        assert_eq!(res.status(), 201);
        ids.insert(id_of(&res.json::<Value>().await.expect("json")));
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(availability(&app, sku).await["reserved"], 2 + 2 + 5);

    let bad = [
        app.client
            .post(app.url(ORDERS))
            .bearer_auth(&buyer)
            .json(&one_line(sku, 1))
            .send()
            .await,
        app.client
            .post(app.url(ORDERS))
            .bearer_auth(&buyer)
            .header("Idempotency-Key", "")
            .json(&one_line(sku, 1))
            .send()
            .await,
        app.client
            .post(app.url(ORDERS))
            .bearer_auth(&buyer)
            .header("Idempotency-Key", "k".repeat(256))
            .json(&one_line(sku, 1))
            .send()
            .await,
    ];
    for res in bad {
        assert_problem(res.expect("send"), 400, "VALIDATION_FAILED").await;
    }
    app.stop().await;
}

async fn bad_orders_are_refused(db: TestDb) {
    let app = app_with(db, |_| {}).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(500, 100)], None).await[0];
    let bodies = [
        json!({"items": [], "shipping_address": "Seoul"}),
        json!({"items": [{"sku_id": sku, "quantity": 0}], "shipping_address": "Seoul"}),
        json!({"items": [{"sku_id": sku, "quantity": -1}], "shipping_address": "Seoul"}),
        json!({"items": [{"sku_id": sku, "quantity": 1001}], "shipping_address": "Seoul"}),
        json!({"items": [{"sku_id": sku, "quantity": 1}, {"sku_id": sku, "quantity": 1}], "shipping_address": "Seoul"}),
        json!({"items": [{"sku_id": sku, "quantity": 1}], "shipping_address": ""}),
        json!({"items": [{"sku_id": sku, "quantity": 1}], "shipping_address": "x".repeat(501)}),
        json!({"items": [{"sku_id": sku, "quantity": 1}]}),
        json!({"items": [{"sku_id": "one", "quantity": 1}], "shipping_address": "Seoul"}),
        json!({"items": [{"sku_id": sku, "quantity": 1}], "shipping_address": "Seoul", "coupon": "FREE"}),
        json!({"items": (0..51).map(|i| json!({"sku_id": i + 1, "quantity": 1})).collect::<Vec<_>>(), "shipping_address": "Seoul"}),
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        let res = place(&app, &buyer, &format!("bad-{i}"), body).await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let not_json = app
        .client
        .post(app.url(ORDERS))
        .bearer_auth(&buyer)
        .header("Idempotency-Key", "nj")
        .header("content-type", "text/plain")
        .body("buy")
        .send()
        .await
        .expect("send");
    assert_problem(not_json, 415, "VALIDATION_FAILED").await;
    for path in [
        format!("{ORDERS}/not-an-id"),
        format!("{ORDERS}/{}", uuid::Uuid::new_v4()),
    ] {
        assert_problem(app.get(&path, Some(&buyer)).await, 404, "NOT_FOUND").await;
    }
    assert_eq!(availability(&app, sku).await["reserved"], 0);
    app.stop().await;
}

async fn declines_and_timeouts_compensate(db: TestDb) {
    // Every authorisation declined.
    let app = app_with(db, |s| s.payments.decline_rate = 1.0).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(500, 10)], None).await[0];
    let id = id_of(&placed(&app, &buyer, "d", one_line(sku, 4)).await);
    assert_problem(pay(&app, &buyer, &id).await, 402, "PAYMENT_DECLINED").await;
    let o = order(&app, &buyer, &id).await;
    assert_eq!(
        (o["status"].as_str(), o["reason"].as_str()),
        (Some("CANCELLED"), Some("PAYMENT_DECLINED"))
    );
    assert_eq!(availability(&app, sku).await["available"], 10);
    assert_eq!(payment_state(&app, &id).await.as_deref(), Some("declined"));
    assert!(
        event_kinds(&app, &buyer, &id)
            .await
            .ends_with(&["payment_declined".to_string(), "cancelled".to_string()])
    );
    let db = app.stop().await;

    // Every authorisation times out, and goes through late anyway.
    let app = app_with(db, |s| {
        s.payments.timeout_rate = 1.0;
        s.payments.late_callback_rate = 1.0;
    })
    .await;
    let (_, buyer) = app.user("customer").await;
    let id = id_of(&placed(&app, &buyer, "t", one_line(sku, 4)).await);
    assert_problem(pay(&app, &buyer, &id).await, 402, "PAYMENT_TIMED_OUT").await;
    assert_eq!(availability(&app, sku).await["available"], 10);
    // The late authorisation lands after the refund's tombstone: void.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(payment_state(&app, &id).await.as_deref(), Some("voided"));
    app.stop().await;
}

async fn a_failed_shipment_refunds(db: TestDb) {
    let app = app_with(db, |s| s.shipments.failure_rate = 1.0).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(500, 10)], None).await[0];
    let mut body = one_line(sku, 3);
    body["payment"] = json!({"method": "card"});
    let id = id_of(&placed(&app, &buyer, "ship", body).await);
    let o = until_status(&app, &buyer, &id, "CANCELLED").await;
    assert_eq!(o["reason"], "SHIPMENT_FAILED");
    assert_eq!(payment_state(&app, &id).await.as_deref(), Some("refunded"));
    let a = availability(&app, sku).await;
    assert_eq!(
        (a["available"].as_i64(), a["sold"].as_i64()),
        (Some(10), Some(0))
    );
    let kinds = event_kinds(&app, &buyer, &id).await;
    assert!(kinds.contains(&"stock_committed".to_string()), "{kinds:?}");
    assert!(kinds.ends_with(&["shipment_failed".to_string(), "cancelled".to_string()]));
    app.stop().await;
}

async fn buyers_cancel_until_it_ships(db: TestDb) {
    let app = app_with(db, |s| {
        // Parcels wait in the warehouse for 400 ms.
        s.shipments.ship_after_ms = 400;
        s.shipments.deliver_after_ms = 10_000;
    })
    .await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let (_, stranger) = app.user("customer").await;
    let sku = app.product(&seller, &[(500, 10)], None).await[0];
    let cancel = |id: String, token: String| {
        let app = &app;
        async move {
            app.send(
                Method::POST,
                &format!("{ORDERS}/{id}/cancel"),
                Some(&token),
                None,
            )
            .await
        }
    };

    let unpaid = id_of(&placed(&app, &buyer, "c1", one_line(sku, 2)).await);
    assert_problem(
        cancel(unpaid.clone(), stranger.clone()).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let res = cancel(unpaid.clone(), buyer.clone()).await;
    assert_eq!(res.status(), 200);
    let o: Value = res.json().await.expect("json");
    assert_eq!(
        (o["status"].as_str(), o["reason"].as_str()),
        (Some("CANCELLED"), Some("BUYER_CANCELLED"))
    );
    assert_eq!(availability(&app, sku).await["available"], 10);

    let mut body = one_line(sku, 2);
    body["payment"] = json!({"method": "card"});
    let paid = id_of(&placed(&app, &buyer, "c2", body.clone()).await);
    until_status(&app, &buyer, &paid, "SHIPPING").await;
    assert_eq!(cancel(paid.clone(), buyer.clone()).await.status(), 200);
    assert_eq!(
        payment_state(&app, &paid).await.as_deref(),
        Some("refunded")
    );
    let a = availability(&app, sku).await;
    assert_eq!(
        (a["available"].as_i64(), a["sold"].as_i64()),
        (Some(10), Some(0))
    );

    let shipped = id_of(&placed(&app, &buyer, "c3", body).await);
    until_status(&app, &buyer, &shipped, "SHIPPED").await;
    assert_problem(
        cancel(shipped.clone(), buyer.clone()).await,
        409,
        "CONFLICT",
    )
    .await;
    assert_eq!(availability(&app, sku).await["sold"], 2);
    app.stop().await;
}

async fn unpaid_orders_expire(db: TestDb) {
    let app = app_with(db, |s| s.orders.payment_window_ms = 300).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(500, 10)], None).await[0];
    let id = id_of(&placed(&app, &buyer, "slow", one_line(sku, 6)).await);
    assert_eq!(availability(&app, sku).await["available"], 4);
    let o = until_status(&app, &buyer, &id, "CANCELLED").await;
    assert_eq!(o["reason"], "PAYMENT_EXPIRED");
    assert_eq!(availability(&app, sku).await["available"], 10);
    assert_problem(pay(&app, &buyer, &id).await, 409, "CONFLICT").await;
    // Nothing was ever authorised, so nothing was charged.
    assert_ne!(payment_state(&app, &id).await.as_deref(), Some("captured"));
    app.stop().await;
}

async fn roles_and_views(db: TestDb) {
    let app = app_with(db, |s| s.shipments.ship_after_ms = 60_000).await;
    let (_, seller_a) = app.user("seller").await;
    let (_, seller_b) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let a = app.product(&seller_a, &[(700, 10)], None).await[0];
    let b = app.product(&seller_b, &[(300, 10)], None).await[0];
    assert_problem(
        place(&app, &seller_a, "s", one_line(a, 1)).await,
        403,
        "FORBIDDEN",
    )
    .await;
    let anon = app
        .client
        .post(app.url(ORDERS))
        .header("Idempotency-Key", "x")
        .json(&one_line(a, 1))
        .send()
        .await
        .expect("send");
    assert_problem(anon, 401, "UNAUTHORIZED").await;

    let body = json!({"items": [{"sku_id": a, "quantity": 1}, {"sku_id": b, "quantity": 2}], "shipping_address": "Daegu"});
    let id = id_of(&placed(&app, &buyer, "mixed", body).await);
    // Sellers see paid orders only (tests/exposure.rs has the full view).
    let mine = app.get_json("/api/v1/seller/orders", Some(&seller_a)).await;
    assert_eq!(mine["total"], 0, "an unpaid order: {mine}");
    assert_problem(
        app.get("/api/v1/seller/orders", Some(&buyer)).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_problem(app.get(ORDERS, Some(&seller_a)).await, 403, "FORBIDDEN").await;

    let admin = app.admin_token().await;
    let sagas = app.get_json("/api/v1/admin/sagas", Some(&admin)).await;
    let live: Vec<&Value> = sagas["sagas"]
        .as_array()
        .expect("sagas")
        .iter()
        .filter(|s| s["order_id"] == id)
        .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["step"], "await_payment");
    assert_eq!(live[0]["live"], true);
    let view = app
        .get_json(&format!("/api/v1/admin/sagas/{id}"), Some(&admin))
        .await;
    assert_eq!(view["status"], "AWAITING_PAYMENT");
    assert_problem(
        app.get("/api/v1/admin/sagas", Some(&buyer)).await,
        403,
        "FORBIDDEN",
    )
    .await;
    let missing = app
        .get(
            &format!("/api/v1/admin/sagas/{}", uuid::Uuid::new_v4()),
            Some(&admin),
        )
        .await;
    assert_problem(missing, 404, "NOT_FOUND").await;
    app.stop().await;
}

async fn a_panicking_saga_is_restarted(db: TestDb) {
    let app = app_with(db, |_| {}).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(500, 10)], None).await[0];
    let id = id_of(&placed(&app, &buyer, "p", one_line(sku, 1)).await);
    let orders = app.orders.clone();
    let order = stampede::domain::ids::OrderId::parse(&id).expect("an order id");
    assert!(orders.inject_panic(order), "the saga runs");
    let admin = app.admin_token().await;
    let mut restarted = Value::Null;
    for _ in 0..100 {
        restarted = app
            .get_json(&format!("/api/v1/admin/sagas/{id}"), Some(&admin))
            .await;
        if restarted["restarts"] == 1 && restarted["live"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(restarted["restarts"], 1, "{restarted}");
    assert_eq!(restarted["step"], "await_payment");
    assert_eq!(pay(&app, &buyer, &id).await.status(), 200);
    until_status(&app, &buyer, &id, "DELIVERED").await;
    assert_eq!(availability(&app, sku).await["sold"], 1);
    app.stop().await;
}

async fn purchases_are_rate_limited_per_user(db: TestDb) {
    let app = app_with(db, |s| {
        s.rate_limit.purchase_per_second = 1;
        s.rate_limit.purchase_burst = 2;
    })
    .await;
    let (_, seller) = app.user("seller").await;
    let (_, greedy) = app.user("customer").await;
    let (_, patient) = app.user("customer").await;
    let sku = app.product(&seller, &[(500, 100)], None).await[0];
    for key in ["r1", "r2"] {
        placed(&app, &greedy, key, one_line(sku, 1)).await;
    }
    let res = place(&app, &greedy, "r3", one_line(sku, 1)).await;
    let retry_after = res.headers().get("retry-after").cloned();
    assert_problem(res, 429, "RATE_LIMITED").await;
    assert!(retry_after.is_some(), "Retry-After on 429");
    // Another buyer has a budget of their own.
    placed(&app, &patient, "r1", one_line(sku, 1)).await;
    // Refused requests reserved nothing.
    assert_eq!(availability(&app, sku).await["reserved"], 3);
    app.stop().await;
}

/// Offers are cached for placing orders; a price change or a removal
/// through the API must reach the very next order.
async fn orders_take_the_offer_of_the_moment(db: TestDb) {
    let app = app_with(db, |_| {}).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let skus = app.product(&seller, &[(1_000, 50)], None).await;
    let first = placed(&app, &buyer, "before", one_line(skus[0], 2)).await;
    assert_eq!(first["total"], 2_000);
    let product = first["items"][0]["product_id"]
        .as_i64()
        .expect("product id");
    let res = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/products/{product}"),
            Some(&seller),
            Some(json!({"skus": [{"id": skus[0], "price": 1_500}]})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let second = placed(&app, &buyer, "after", one_line(skus[0], 2)).await;
    assert_eq!(second["total"], 3_000, "the new price, not the cached one");
    assert_eq!(second["items"][0]["unit_price"], 1_500);
    let res = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/products/{product}"),
            Some(&seller),
            None,
        )
        .await;
    assert!(res.status().is_success());
    assert_problem(
        place(&app, &buyer, "gone", one_line(skus[0], 1)).await,
        404,
        "NOT_FOUND",
    )
    .await;
    app.stop().await;
}

on_both_stores!(
    orders_take_the_offer_of_the_moment,
    purchases_are_rate_limited_per_user,
    happy_path_to_delivery,
    all_lines_or_none,
    idempotency_follows_stripe,
    bad_orders_are_refused,
    declines_and_timeouts_compensate,
    a_failed_shipment_refunds,
    buyers_cancel_until_it_ships,
    unpaid_orders_expire,
    roles_and_views,
    a_panicking_saga_is_restarted,
);

/// Settings that would break the saga's promises are refused at start-up.
#[tokio::test]
async fn unsafe_order_settings_are_refused() {
    let tunes: [fn(&mut stampede::config::Settings); 2] = [
        |s| s.orders.payment_window_ms = s.inventory.reservation_ttl_ms,
        |s| s.payments.decline_rate = 1.5,
    ];
    for tune in tunes {
        let db = TestDb::sqlite().await;
        let mut s = app_settings(&db);
        tune(&mut s);
        let err = stampede::startup::Application::build(s)
            .await
            .err()
            .expect("start-up must refuse");
        assert!(err.to_string().contains("invalid configuration"), "{err}");
    }
}

/// An order writer that could never fill a batch, or never take one, is
/// refused at start-up.
#[tokio::test]
async fn unusable_order_writer_settings_are_refused() {
    let tunes: [fn(&mut stampede::config::Settings); 2] = [
        |s| s.orders.writer_batch_max = 0,
        |s| s.orders.writer_queue_max = s.orders.writer_batch_max - 1,
    ];
    for tune in tunes {
        let db = TestDb::sqlite().await;
        let mut s = app_settings(&db);
        tune(&mut s);
        let err = stampede::startup::Application::build(s)
            .await
            .err()
            .expect("start-up must refuse");
        assert!(err.to_string().contains("orders.writer_"), "{err}");
    }
}
