//! The address book over real HTTP on both stores: validation, exactly one
//! default, others' addresses hidden, and orders that take a structured
//! address inline or by saved id and keep their own copy (editing or
//! deleting the address book never rewrites a past order), while the
//! plain-text address keeps working.

mod common;

use common::{TestApp, TestDb, assert_problem, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

const BOOK: &str = "/api/v1/addresses";

fn home() -> Value {
    json!({"recipient": "Kim Minsu", "phone": "+82 10-1234-5678", "postal_code": "06236",
           "line1": "123 Teheran-ro", "line2": "Apt 1201", "city": "Seoul", "country": "KR"})
}

fn office() -> Value {
    json!({"recipient": "Lee Jiwoo", "phone": "02-555-0101", "postal_code": "04524",
           "line1": "9 Sejong-daero", "city": "Seoul", "country": "KR"})
}

async fn add(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post_json(BOOK, Some(token), body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.expect("address")
}

async fn book(app: &TestApp, token: &str) -> Vec<Value> {
    app.get_json(BOOK, Some(token))
        .await
        .as_array()
        .expect("list")
        .clone()
}

fn defaults(book: &[Value]) -> Vec<i64> {
    book.iter()
        .filter(|a| a["is_default"] == true)
        .map(|a| a["id"].as_i64().expect("id"))
        .collect()
}

async fn validation_and_one_default(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, buyer) = app.user("customer").await;
    let (_, seller) = app.user("seller").await;
    let (_, other) = app.user("customer").await;

    for (field, value) in [
        ("country", json!("kr")),
        ("country", json!("XX")),
        ("country", json!("KOR")),
        ("phone", json!("12")),
        ("postal_code", json!("06#236")),
        ("recipient", json!("  ")),
        ("line1", json!("")),
    ] {
        let mut body = home();
        body[field] = value;
        let problem = assert_problem(
            app.post_json(BOOK, Some(&buyer), body).await,
            400,
            "VALIDATION_FAILED",
        )
        .await;
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(field)),
            "{problem}"
        );
    }
    let mut missing = home();
    missing.as_object_mut().expect("object").remove("city");
    assert_problem(
        app.post_json(BOOK, Some(&buyer), missing).await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert!(book(&app, &buyer).await.is_empty());

    let first = add(&app, &buyer, home()).await;
    assert_eq!(
        first["is_default"], true,
        "the first address is the default"
    );
    assert_eq!(first["line2"], "Apt 1201");
    let second = add(&app, &buyer, office()).await;
    assert_eq!(second["is_default"], false);
    assert_eq!(second["line2"], Value::Null);
    let (first, second) = (
        first["id"].as_i64().expect("id"),
        second["id"].as_i64().expect("id"),
    );
    assert_eq!(defaults(&book(&app, &buyer).await), vec![first]);

    let mut third = office();
    third["is_default"] = json!(true);
    let third = add(&app, &buyer, third).await["id"].as_i64().expect("id");
    assert_eq!(defaults(&book(&app, &buyer).await), vec![third]);

    let res = app
        .send(
            Method::PATCH,
            &format!("{BOOK}/{second}"),
            Some(&buyer),
            Some(json!({"is_default": true, "city": "Busan"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.expect("address");
    assert_eq!(
        (patched["city"].as_str(), patched["is_default"].as_bool()),
        (Some("Busan"), Some(true))
    );
    let listed = book(&app, &buyer).await;
    assert_eq!(defaults(&listed), vec![second]);
    assert_eq!(listed[0]["id"], second, "the default comes first");

    let res = app
        .send(
            Method::PATCH,
            &format!("{BOOK}/{second}"),
            Some(&buyer),
            Some(json!({"is_default": false})),
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = app
        .send(
            Method::PATCH,
            &format!("{BOOK}/{second}"),
            Some(&buyer),
            Some(json!({"phone": "call me"})),
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;

    // Deleting the default hands it on; the last one goes too.
    let res = app
        .send(
            Method::DELETE,
            &format!("{BOOK}/{second}"),
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        defaults(&book(&app, &buyer).await),
        vec![third],
        "the newest remaining"
    );
    for id in [third, first] {
        let res = app
            .send(Method::DELETE, &format!("{BOOK}/{id}"), Some(&buyer), None)
            .await;
        assert_eq!(res.status(), 204);
    }
    assert!(book(&app, &buyer).await.is_empty());
    let res = app
        .send(
            Method::DELETE,
            &format!("{BOOK}/{first}"),
            Some(&buyer),
            None,
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;

    // Others' addresses do not exist for the caller.
    let theirs = add(&app, &other, home()).await["id"].as_i64().expect("id");
    let res = app
        .send(
            Method::PATCH,
            &format!("{BOOK}/{theirs}"),
            Some(&buyer),
            Some(json!({"city": "Daegu"})),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .send(
            Method::DELETE,
            &format!("{BOOK}/{theirs}"),
            Some(&buyer),
            None,
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    assert!(book(&app, &buyer).await.is_empty());
    assert_eq!(book(&app, &other).await.len(), 1);

    // Bounded per buyer.
    for _ in 0..20 {
        add(&app, &buyer, office()).await;
    }
    assert_problem(
        app.post_json(BOOK, Some(&buyer), office()).await,
        409,
        "LIMIT_REACHED",
    )
    .await;

    for (method, path) in [
        (Method::GET, BOOK.to_string()),
        (Method::POST, BOOK.to_string()),
        (Method::PATCH, format!("{BOOK}/{theirs}")),
        (Method::DELETE, format!("{BOOK}/{theirs}")),
    ] {
        let anon = app.send(method.clone(), &path, None, Some(home())).await;
        assert_problem(anon, 401, "UNAUTHORIZED").await;
        let as_seller = app.send(method, &path, Some(&seller), Some(home())).await;
        assert_problem(as_seller, 403, "FORBIDDEN").await;
    }
    app.stop().await;
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

async fn orders_keep_their_copy(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let (_, other) = app.user("customer").await;
    let sku = app.product(&seller, &[(1_000, 50)], None).await[0];
    let items = json!([{"sku_id": sku, "quantity": 1}]);

    let saved = add(&app, &buyer, home()).await;
    let id = saved["id"].as_i64().expect("id");
    let res = place(
        &app,
        &buyer,
        "by-id",
        json!({"items": items, "shipping_address_id": id}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let by_id: Value = res.json().await.expect("order");
    assert_eq!(by_id["shipping"], home());
    assert!(
        by_id["shipping_address"]
            .as_str()
            .is_some_and(|s| s.contains("123 Teheran-ro"))
    );

    let res = place(
        &app,
        &buyer,
        "inline",
        json!({"items": items, "shipping": office()}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let inline: Value = res.json().await.expect("order");
    let mut expected = office();
    expected["line2"] = Value::Null;
    assert_eq!(inline["shipping"], expected);

    // The legacy text form still works, and shows no structured copy.
    let res = place(
        &app,
        &buyer,
        "text",
        json!({"items": items, "shipping_address": "Seoul, Gangnam-gu 1"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let text: Value = res.json().await.expect("order");
    assert_eq!(text["shipping_address"], "Seoul, Gangnam-gu 1");
    assert_eq!(text["shipping"], Value::Null);

    // Editing, then deleting, the saved address leaves the order alone.
    let path = format!("/api/v1/orders/{}", by_id["order_id"].as_str().expect("id"));
    let res = app
        .send(
            Method::PATCH,
            &format!("{BOOK}/{id}"),
            Some(&buyer),
            Some(json!({"city": "Busan", "line1": "1 Haeundae-ro"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let after_edit = app.get_json(&path, Some(&buyer)).await;
    assert_eq!(after_edit["shipping"], home());
    assert_eq!(after_edit["shipping_address"], by_id["shipping_address"]);
    let res = app
        .send(Method::DELETE, &format!("{BOOK}/{id}"), Some(&buyer), None)
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.get_json(&path, Some(&buyer)).await["shipping"], home());

    // Exactly one form; a deleted or someone else's address is not found.
    let res = place(
        &app,
        &buyer,
        "two",
        json!({"items": items, "shipping": office(), "shipping_address": "Seoul"}),
    )
    .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = place(&app, &buyer, "none", json!({"items": items})).await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = place(
        &app,
        &buyer,
        "gone",
        json!({"items": items, "shipping_address_id": id}),
    )
    .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let theirs = add(&app, &other, office()).await["id"]
        .as_i64()
        .expect("id");
    let res = place(
        &app,
        &buyer,
        "theirs",
        json!({"items": items, "shipping_address_id": theirs}),
    )
    .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let mut bad = office();
    bad["country"] = json!("ZZ");
    let res = place(
        &app,
        &buyer,
        "bad",
        json!({"items": items, "shipping": bad}),
    )
    .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;

    // Checkout takes the same forms.
    let res = app
        .send(
            Method::PUT,
            &format!("/api/v1/cart/items/{sku}"),
            Some(&buyer),
            Some(json!({"quantity": 2})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let saved = add(&app, &buyer, office()).await["id"]
        .as_i64()
        .expect("id");
    let res = app
        .client
        .post(app.url("/api/v1/cart/checkout"))
        .bearer_auth(&buyer)
        .header("Idempotency-Key", "cart-by-id")
        .json(&json!({"shipping_address_id": saved}))
        .send()
        .await
        .expect("checkout");
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.expect("order");
    assert_eq!(order["shipping"], expected);
    app.stop().await;
}

on_both_stores!(validation_and_one_default, orders_keep_their_copy);
