//! Product reviews over real HTTP on both stores: only after delivery,
//! once per product per buyer, and the product's rating (average and
//! count, on its detail and in listings) current after each review even
//! though catalog reads are cached. Hundreds of buyers reviewing one
//! product at once are all counted.

mod common;

use common::community::{members, scalar};
use common::{TestApp, TestDb, app_settings, assert_problem, fast_orders, spawn_app_with};
use serde_json::{Value, json};
use stampede::domain::ids::{OrderId, ProductId, UserId};
use stampede::domain::review::NewReview;
use stampede::persistence::{ReviewAdd, Store};
use std::time::Duration;

async fn app(db: TestDb) -> TestApp {
    let mut s = app_settings(&db);
    fast_orders(&mut s);
    spawn_app_with(db, s).await
}

/// Places a paid order of one unit of `sku`; answers its id.
async fn buy(app: &TestApp, token: &str, key: &str, sku: i64) -> String {
    let res = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(
            &json!({"items": [{"sku_id": sku, "quantity": 1}], "shipping_address": "Seoul",
                      "payment": {"method": "card"}}),
        )
        .send()
        .await
        .expect("POST /orders");
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.expect("order");
    order["order_id"].as_str().expect("id").to_string()
}

async fn until_delivered(app: &TestApp, token: &str, id: &str) {
    for _ in 0..250 {
        let o = app
            .get_json(&format!("/api/v1/orders/{id}"), Some(token))
            .await;
        if o["status"] == "DELIVERED" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("order {id} was not delivered");
}

async fn review(
    app: &TestApp,
    token: Option<&str>,
    product: i64,
    body: Value,
) -> reqwest::Response {
    app.post_json(&format!("/api/v1/products/{product}/reviews"), token, body)
        .await
}

async fn product_of(app: &TestApp, seller: &str, stock: i64) -> (i64, i64) {
    let res = app
        .post_json(
            "/api/v1/products",
            Some(seller),
            json!({"name": "Reviewed", "category": "reviews",
                   "skus": [{"sku_code": "R-1", "option": "one", "price": 1_000, "stock": stock}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let p: Value = res.json().await.expect("product");
    (
        p["id"].as_i64().expect("id"),
        p["skus"][0]["id"].as_i64().expect("sku"),
    )
}

async fn only_delivered_buyers_review_once(db: TestDb) {
    let app = app(db).await;
    let (seller_id, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let (_, second) = app.user("customer").await;
    let (_, stranger) = app.user("customer").await;
    let (product, sku) = product_of(&app, &seller, 10).await;
    let good = json!({"rating": 4, "text": "Arrived fast, works well."});

    // Read (and cache) the product before any review.
    let detail = app
        .get_json(&format!("/api/v1/products/{product}"), None)
        .await;
    assert_eq!(detail["rating"], json!({"average": null, "count": 0}));

    // Never bought, or bought but not delivered yet: refused.
    let res = review(&app, Some(&stranger), product, good.clone()).await;
    assert_problem(res, 403, "REVIEW_NOT_ALLOWED").await;
    let unpaid = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&second)
        .header("Idempotency-Key", "unpaid")
        .json(&json!({"items": [{"sku_id": sku, "quantity": 1}], "shipping_address": "Seoul"}))
        .send()
        .await
        .expect("order");
    assert_eq!(unpaid.status(), 201);
    let res = review(&app, Some(&second), product, good.clone()).await;
    assert_problem(res, 403, "REVIEW_NOT_ALLOWED").await;

    let order = buy(&app, &buyer, "to-review", sku).await;
    until_delivered(&app, &buyer, &order).await;
    for bad in [
        json!({"rating": 0, "text": "x"}),
        json!({"rating": 6, "text": "x"}),
        json!({"rating": 3, "text": "   "}),
        json!({"rating": 3}),
    ] {
        assert_problem(
            review(&app, Some(&buyer), product, bad).await,
            400,
            "VALIDATION_FAILED",
        )
        .await;
    }
    let res = review(&app, Some(&buyer), product, good.clone()).await;
    assert_eq!(res.status(), 201);
    let written: Value = res.json().await.expect("review");
    assert_eq!(
        (written["rating"].as_i64(), written["author"].as_str()),
        (Some(4), Some("Test User"))
    );
    let again = review(
        &app,
        Some(&buyer),
        product,
        json!({"rating": 1, "text": "changed my mind"}),
    )
    .await;
    assert_problem(again, 409, "CONFLICT").await;

    let detail = app
        .get_json(&format!("/api/v1/products/{product}"), None)
        .await;
    assert_eq!(
        detail["rating"],
        json!({"average": 4.0, "count": 1}),
        "not the cached read"
    );

    let order = buy(&app, &second, "second", sku).await;
    until_delivered(&app, &second, &order).await;
    let res = review(
        &app,
        Some(&second),
        product,
        json!({"rating": 5, "text": "Great"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let detail = app
        .get_json(&format!("/api/v1/products/{product}"), None)
        .await;
    assert_eq!(detail["rating"], json!({"average": 4.5, "count": 2}));
    let listing = app
        .get_json(&format!("/api/v1/products?seller_id={seller_id}"), None)
        .await;
    assert_eq!(
        listing["items"][0]["rating"],
        json!({"average": 4.5, "count": 2})
    );

    // Paginated, newest first, readable by anyone.
    let page = app
        .get_json(
            &format!("/api/v1/products/{product}/reviews?page_size=1"),
            None,
        )
        .await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["rating"], 5);
    let page2 = app
        .get_json(
            &format!("/api/v1/products/{product}/reviews?page=2&page_size=1"),
            None,
        )
        .await;
    assert_eq!(page2["items"][0]["rating"], 4);
    assert_problem(
        app.get(&format!("/api/v1/products/{product}/reviews?page=0"), None)
            .await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_problem(
        app.get("/api/v1/products/999999/reviews", None).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_problem(
        review(&app, Some(&buyer), 999_999, good.clone()).await,
        404,
        "NOT_FOUND",
    )
    .await;

    // Roles.
    assert_problem(
        review(&app, None, product, good.clone()).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_problem(
        review(&app, Some(&seller), product, good).await,
        403,
        "FORBIDDEN",
    )
    .await;
    app.stop().await;
}

/// A delivered order of one unit of `sku` (of `product`, by `seller`) for
/// `buyer`, written as rows: the drop's buyers without the drop.
async fn delivered(store: &Store, buyer: i64, product: i64, sku: i64, seller: i64) {
    let id = OrderId::derive(UserId::new(buyer), "delivered").to_string();
    sqlx::query(
        "INSERT INTO orders (id, buyer_id, idempotency_key, request_hash, status, step, \
         total, currency, shipping_address, pay_on_place, payment_due_at, attempts, \
         created_at, updated_at) \
         VALUES (?, ?, 'delivered', 'h', 'DELIVERED', 'done', 1000, 'KRW', 'Seoul', 1, 0, 0, 1, 1)",
    )
    .bind(id.clone())
    .bind(buyer)
    .execute(store.pool())
    .await
    .expect("order");
    sqlx::query(
        "INSERT INTO order_items (order_id, sku_id, product_id, seller_id, quantity, unit_price) \
         VALUES (?, ?, ?, ?, 1, 1000)",
    )
    .bind(id)
    .bind(sku)
    .bind(product)
    .bind(seller)
    .execute(store.pool())
    .await
    .expect("order line");
}

/// The day after a drop, its buyers review the product at once. Before the
/// fix each review inserted its row first, whose foreign key takes a shared
/// lock on the product's row, then added its rating to the product's
/// totals, which needs the exclusive lock: two reviews at once deadlocked
/// on MariaDB and one of them failed.
async fn a_crowd_of_buyers_reviews_one_product_at_once(db: TestDb) {
    const BUYERS: usize = 200;
    let app = app(db).await;
    let (seller_id, seller) = app.user("seller").await;
    let (product, sku) = product_of(&app, &seller, 10).await;
    let crowd = members(&app.store, BUYERS).await;
    for buyer in &crowd {
        delivered(&app.store, buyer.id, product, sku, seller_id).await;
    }
    let reviews = crowd.iter().map(|buyer| {
        let store = app.store.clone();
        let user = UserId::new(buyer.id);
        tokio::spawn(async move {
            let review = NewReview::parse(4, "arrived on time").expect("review");
            store
                .add_review(user, ProductId::new(product), &review)
                .await
        })
    });
    let mut failed = Vec::new();
    for answer in futures::future::join_all(reviews).await {
        match answer.expect("task") {
            Ok(ReviewAdd::Added(_)) => {}
            other => failed.push(format!("{other:?}")),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {BUYERS} reviews failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    let q = "SELECT rating_count FROM products WHERE id = ?";
    assert_eq!(scalar(&app.store, q, &[product]).await, BUYERS as i64);
    let q = "SELECT rating_sum FROM products WHERE id = ?";
    assert_eq!(scalar(&app.store, q, &[product]).await, 4 * BUYERS as i64);
}

on_both_stores!(
    only_delivered_buyers_review_once,
    a_crowd_of_buyers_reviews_one_product_at_once,
);
