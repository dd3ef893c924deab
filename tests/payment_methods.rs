//! Saved payment methods over real HTTP on both stores: card numbers
//! refused in every field (and never stored), expired cards refused, the
//! token never shown back, and orders paid with a saved method whose token
//! reaches the payment provider (the simulated provider's books say which
//! token paid).

mod common;

use common::{TestApp, TestDb, app_settings, assert_problem, fast_orders, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;
use std::time::Duration;

const METHODS: &str = "/api/v1/payment-methods";

async fn app(db: TestDb) -> TestApp {
    let mut s = app_settings(&db);
    fast_orders(&mut s);
    spawn_app_with(db, s).await
}

fn card(token: &str) -> Value {
    json!({"provider_token": token, "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2099})
}

async fn save(app: &TestApp, buyer: &str, token: &str) -> i64 {
    let res = app.post_json(METHODS, Some(buyer), card(token)).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let saved: Value = res.json().await.expect("method");
    saved["id"].as_i64().expect("id")
}

async fn place(app: &TestApp, token: &str, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("POST /orders")
}

async fn until_status(app: &TestApp, token: &str, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..250 {
        last = app
            .get_json(&format!("/api/v1/orders/{id}"), Some(token))
            .await;
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("order {id} never reached {status}: {last}");
}

async fn card_numbers_are_refused(db: TestDb) {
    let app = app(db).await;
    let (_, buyer) = app.user("customer").await;
    let (_, seller) = app.user("seller").await;

    let pan = "4242424242424242";
    for (field, value) in [
        ("provider_token", json!(pan)),
        ("provider_token", json!("tok 4111-1111-1111-1111")),
        ("brand", json!(format!("visa {pan}"))),
    ] {
        let mut body = card("tok_ok");
        body[field] = value;
        let res = app.post_json(METHODS, Some(&buyer), body).await;
        let problem = assert_problem(res, 422, "CARD_NUMBER_REFUSED").await;
        assert!(
            !problem.to_string().contains(pan),
            "the number is not echoed"
        );
    }
    for (field, value) in [
        ("last4", json!("42424")),
        ("exp_month", json!(13)),
        ("provider_token", json!("")),
    ] {
        let mut body = card("tok_ok");
        body[field] = value;
        assert_problem(
            app.post_json(METHODS, Some(&buyer), body).await,
            400,
            "VALIDATION_FAILED",
        )
        .await;
    }
    let mut expired = card("tok_old");
    expired["exp_year"] = json!(2020);
    assert_problem(
        app.post_json(METHODS, Some(&buyer), expired).await,
        422,
        "CARD_EXPIRED",
    )
    .await;
    let rows: i64 = sqlx::query("SELECT COUNT(*) FROM payment_methods")
        .fetch_one(app.store.pool())
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows, 0, "nothing refused was stored");

    let id = save(&app, &buyer, "tok_visa_1").await;
    let listed = app.get_json(METHODS, Some(&buyer)).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let shown = &listed[0];
    assert_eq!(
        (
            shown["id"].as_i64(),
            shown["last4"].as_str(),
            shown["brand"].as_str()
        ),
        (Some(id), Some("4242"), Some("visa"))
    );
    assert_eq!(shown["expired"], false);
    assert!(
        !listed.to_string().contains("tok_visa_1"),
        "the token is never shown: {listed}"
    );

    // Others' methods do not exist for the caller.
    let (_, other) = app.user("customer").await;
    let res = app
        .send(
            Method::DELETE,
            &format!("{METHODS}/{id}"),
            Some(&other),
            None,
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .send(
            Method::DELETE,
            &format!("{METHODS}/{id}"),
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send(
            Method::DELETE,
            &format!("{METHODS}/{id}"),
            Some(&buyer),
            None,
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;

    for (method, path) in [
        (Method::GET, METHODS.to_string()),
        (Method::POST, METHODS.to_string()),
        (Method::DELETE, format!("{METHODS}/{id}")),
    ] {
        let anon = app
            .send(method.clone(), &path, None, Some(card("tok")))
            .await;
        assert_problem(anon, 401, "UNAUTHORIZED").await;
        let as_seller = app
            .send(method, &path, Some(&seller), Some(card("tok")))
            .await;
        assert_problem(as_seller, 403, "FORBIDDEN").await;
    }
    app.stop().await;
}

async fn orders_are_paid_with_a_saved_method(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let (_, other) = app.user("customer").await;
    let sku = app.product(&seller, &[(1_000, 50)], None).await[0];
    let method = save(&app, &buyer, "tok_visa_pay").await;
    let theirs = save(&app, &other, "tok_theirs").await;
    let items = json!([{"sku_id": sku, "quantity": 1}]);

    // Paid at once with the saved method: its token reaches the provider.
    let res = place(
        &app,
        &buyer,
        "pay-now",
        json!({"items": items, "shipping_address": "Seoul", "payment": {"method_id": method}}),
    )
    .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let order: Value = res.json().await.expect("order");
    let id = order["order_id"].as_str().expect("id").to_string();
    until_status(&app, &buyer, &id, "DELIVERED").await;
    assert_eq!(
        app.store
            .sim_payment_token(&id)
            .await
            .expect("read")
            .as_deref(),
        Some("tok_visa_pay")
    );

    // Paid later with the saved method.
    let res = place(
        &app,
        &buyer,
        "pay-later",
        json!({"items": items, "shipping_address": "Seoul"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let later: Value = res.json().await.expect("order");
    let later = later["order_id"].as_str().expect("id").to_string();
    let pay = format!("/api/v1/orders/{later}/payment");
    let res = app
        .send(
            Method::POST,
            &pay,
            Some(&buyer),
            Some(json!({"method_id": theirs})),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .send(
            Method::POST,
            &pay,
            Some(&buyer),
            Some(json!({"method_id": "x"})),
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = app
        .send(
            Method::POST,
            &pay,
            Some(&buyer),
            Some(json!({"method_id": method})),
        )
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    until_status(&app, &buyer, &later, "DELIVERED").await;
    assert_eq!(
        app.store
            .sim_payment_token(&later)
            .await
            .expect("read")
            .as_deref(),
        Some("tok_visa_pay")
    );

    // Paying without a body still works as before (no token).
    let res = place(
        &app,
        &buyer,
        "plain",
        json!({"items": items, "shipping_address": "Seoul"}),
    )
    .await;
    let plain: Value = res.json().await.expect("order");
    let plain = plain["order_id"].as_str().expect("id").to_string();
    let res = app
        .send(
            Method::POST,
            &format!("/api/v1/orders/{plain}/payment"),
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.store.sim_payment_token(&plain).await.expect("read"),
        None
    );
    // So does an empty object (earlier clients send one).
    let res = place(
        &app,
        &buyer,
        "plain-2",
        json!({"items": items, "shipping_address": "Seoul"}),
    )
    .await;
    let plain2: Value = res.json().await.expect("order");
    let plain2 = plain2["order_id"].as_str().expect("id").to_string();
    let pay2 = format!("/api/v1/orders/{plain2}/payment");
    let res = app
        .send(Method::POST, &pay2, Some(&buyer), Some(json!({})))
        .await;
    assert_eq!(res.status(), 200, "an empty object pays as before");

    // Someone else's method, or both forms, are refused at placement.
    let res = place(
        &app,
        &buyer,
        "theirs",
        json!({"items": items, "shipping_address": "Seoul", "payment": {"method_id": theirs}}),
    )
    .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = place(&app, &buyer, "both", json!({"items": items, "shipping_address": "Seoul", "payment": {"method": "card", "method_id": method}})).await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;

    // A card that has expired since it was saved no longer pays.
    sqlx::query("UPDATE payment_methods SET exp_year = 2021 WHERE id = ?")
        .bind(method)
        .execute(app.store.pool())
        .await
        .expect("age the card");
    let listed = app.get_json(METHODS, Some(&buyer)).await;
    assert_eq!(listed[0]["expired"], true);
    let res = place(
        &app,
        &buyer,
        "expired",
        json!({"items": items, "shipping_address": "Seoul", "payment": {"method_id": method}}),
    )
    .await;
    assert_problem(res, 422, "CARD_EXPIRED").await;
    let res = place(
        &app,
        &buyer,
        "expired-later",
        json!({"items": items, "shipping_address": "Seoul"}),
    )
    .await;
    let unpaid: Value = res.json().await.expect("order");
    let unpaid = unpaid["order_id"].as_str().expect("id");
    let res = app
        .send(
            Method::POST,
            &format!("/api/v1/orders/{unpaid}/payment"),
            Some(&buyer),
            Some(json!({"method_id": method})),
        )
        .await;
    assert_problem(res, 422, "CARD_EXPIRED").await;
    let still = app
        .get_json(&format!("/api/v1/orders/{unpaid}"), Some(&buyer))
        .await;
    assert_eq!(still["status"], "AWAITING_PAYMENT");
    app.stop().await;
}

on_both_stores!(
    card_numbers_are_refused,
    orders_are_paid_with_a_saved_method
);
