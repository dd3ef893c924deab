//! The cart over real HTTP on both stores: lines with live prices and
//! availability, bounds, a restart, and checkout through the placing path
//! of `POST /orders` (per-line refusals, nothing held on a refusal, and a
//! retry with the same Idempotency-Key that leaves a refilled cart alone).

mod common;

use common::{
    TestApp, TestDb, app_settings, assert_problem, fast_orders, spawn_app, spawn_app_with,
};
use reqwest::Method;
use serde_json::{Value, json};

const CART: &str = "/api/v1/cart";

async fn app(db: TestDb) -> TestApp {
    let mut s = app_settings(&db);
    fast_orders(&mut s);
    spawn_app_with(db, s).await
}

async fn put_line(app: &TestApp, token: &str, sku: i64, quantity: i64) -> reqwest::Response {
    app.send(
        Method::PUT,
        &format!("{CART}/items/{sku}"),
        Some(token),
        Some(json!({ "quantity": quantity })),
    )
    .await
}

async fn cart(app: &TestApp, token: &str) -> Value {
    app.get_json(CART, Some(token)).await
}

fn line(cart: &Value, sku: i64) -> &Value {
    cart["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|l| l["sku_id"] == sku)
        .unwrap_or_else(|| panic!("no line for SKU {sku} in {cart}"))
}

async fn checkout(app: &TestApp, token: &str, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("{CART}/checkout")))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("POST /cart/checkout")
}

async fn availability(app: &TestApp, sku: i64) -> Value {
    app.get_json(&format!("/api/v1/skus/{sku}/availability"), None)
        .await
}

async fn lines_with_live_prices_and_availability(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let skus = app.product(&seller, &[(1_000, 5), (2_500, 1)], None).await;

    let empty = cart(&app, &buyer).await;
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["purchasable"], false);

    let res = put_line(&app, &buyer, skus[0], 2).await;
    assert_eq!(res.status(), 200);
    let res = put_line(&app, &buyer, skus[1], 3).await;
    assert_eq!(res.status(), 200, "more than in stock may sit in a cart");
    let c: Value = res.json().await.expect("cart");
    assert_eq!(line(&c, skus[1])["problem"], "OUT_OF_STOCK");
    assert_eq!(line(&c, skus[1])["available"], 1);
    assert_eq!(c["purchasable"], false);

    // Changing a quantity sets it (no second line).
    assert_eq!(put_line(&app, &buyer, skus[1], 1).await.status(), 200);
    let c = cart(&app, &buyer).await;
    assert_eq!(c["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(line(&c, skus[1])["quantity"], 1);
    assert_eq!(line(&c, skus[1])["problem"], Value::Null);
    assert_eq!(line(&c, skus[0])["unit_price"], 1_000);
    assert_eq!(line(&c, skus[0])["line_total"], 2_000);
    assert_eq!(line(&c, skus[0])["on_sale"], true);
    assert_eq!(c["total"], 4_500);
    assert_eq!(c["currency"], "KRW");
    assert_eq!(c["purchasable"], true);

    // Live price: the seller reprices.
    let pid = c["items"][0]["product_id"].as_i64().expect("product id");
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/v1/products/{pid}"),
            Some(&seller),
            Some(json!({"skus": [{"id": skus[0], "price": 1_200}]})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let c = cart(&app, &buyer).await;
    assert_eq!(line(&c, skus[0])["unit_price"], 1_200);
    assert_eq!(c["total"], 4_900);

    // Live availability: another buyer takes the last unit.
    let (_, other) = app.user("customer").await;
    assert_eq!(
        app.buy_one(&other, "last-unit", skus[1]).await.status(),
        201
    );
    let c = cart(&app, &buyer).await;
    assert_eq!(line(&c, skus[1])["available"], 0);
    assert_eq!(line(&c, skus[1])["problem"], "OUT_OF_STOCK");
    assert_eq!(c["purchasable"], false);

    // Remove one line, then empty the cart.
    let res = app
        .send(
            Method::DELETE,
            &format!("{CART}/items/{}", skus[1]),
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let c = cart(&app, &buyer).await;
    assert_eq!(c["items"].as_array().map(Vec::len), Some(1));
    let res = app
        .send(
            Method::DELETE,
            &format!("{CART}/items/{}", skus[1]),
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(res.status(), 204, "removing is idempotent");
    assert_eq!(
        app.send(Method::DELETE, CART, Some(&buyer), None)
            .await
            .status(),
        204
    );
    assert_eq!(cart(&app, &buyer).await["items"], json!([]));

    // Carts are per buyer.
    assert_eq!(put_line(&app, &buyer, skus[0], 1).await.status(), 200);
    assert_eq!(cart(&app, &other).await["items"], json!([]));
    app.stop().await;
}

async fn bounds_and_roles(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let prices = vec![(100, 1); 51];
    let skus = app.product(&seller, &prices, None).await;

    assert_problem(
        put_line(&app, &buyer, skus[0], 0).await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_problem(
        put_line(&app, &buyer, skus[0], 1_001).await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_problem(put_line(&app, &buyer, 999_999, 1).await, 404, "NOT_FOUND").await;
    let res = app
        .send(
            Method::PUT,
            &format!("{CART}/items/{}", skus[0]),
            Some(&buyer),
            Some(json!({"quantity": 1, "x": 1})),
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = app
        .send(
            Method::PUT,
            &format!("{CART}/items/abc"),
            Some(&buyer),
            Some(json!({"quantity": 1})),
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;

    for sku in &skus[..50] {
        assert_eq!(put_line(&app, &buyer, *sku, 1).await.status(), 200);
    }
    assert_problem(
        put_line(&app, &buyer, skus[50], 1).await,
        409,
        "LIMIT_REACHED",
    )
    .await;
    // A line already there can still change.
    assert_eq!(put_line(&app, &buyer, skus[0], 1).await.status(), 200);

    for (method, path) in [
        (Method::GET, CART.to_string()),
        (Method::DELETE, CART.to_string()),
        (Method::PUT, format!("{CART}/items/{}", skus[0])),
        (Method::DELETE, format!("{CART}/items/{}", skus[0])),
        (Method::POST, format!("{CART}/checkout")),
    ] {
        let body = Some(json!({"quantity": 1}));
        let anon = app.send(method.clone(), &path, None, body.clone()).await;
        assert_problem(anon, 401, "UNAUTHORIZED").await;
        let as_seller = app.send(method, &path, Some(&seller), body).await;
        assert_problem(as_seller, 403, "FORBIDDEN").await;
    }
    app.stop().await;
}

async fn the_cart_survives_a_restart(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let skus = app.product(&seller, &[(700, 9), (300, 9)], None).await;
    assert_eq!(put_line(&app, &buyer, skus[0], 4).await.status(), 200);
    assert_eq!(put_line(&app, &buyer, skus[1], 2).await.status(), 200);
    let before = cart(&app, &buyer).await;
    let db = app.stop().await;

    let app = spawn_app(db).await;
    let after = cart(&app, &buyer).await;
    assert_eq!(after, before);
    assert_eq!(line(&after, skus[0])["quantity"], 4);
    assert_eq!(after["total"], 3_400);
    app.stop().await;
}

async fn checkout_places_one_order_and_empties_the_cart(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let skus = app.product(&seller, &[(1_000, 5), (2_500, 3)], None).await;
    assert_eq!(put_line(&app, &buyer, skus[0], 2).await.status(), 200);
    assert_eq!(put_line(&app, &buyer, skus[1], 1).await.status(), 200);

    let res = checkout(
        &app,
        &buyer,
        "co-1",
        json!({"shipping_address": "Seoul, Mapo-gu 3"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.expect("order");
    assert_eq!(order["status"], "AWAITING_PAYMENT");
    assert_eq!(order["total"], 4_500);
    assert_eq!(order["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(order["shipping_address"], "Seoul, Mapo-gu 3");
    assert_eq!(availability(&app, skus[0]).await["reserved"], 2);
    assert_eq!(availability(&app, skus[1]).await["reserved"], 1);
    assert_eq!(cart(&app, &buyer).await["items"], json!([]));

    let id = order["order_id"].as_str().expect("id");
    let listed = app
        .get_json(&format!("/api/v1/orders/{id}"), Some(&buyer))
        .await;
    assert_eq!(listed["total"], 4_500);

    // Nothing to check out, a missing key, a missing address.
    let res = checkout(&app, &buyer, "co-2", json!({"shipping_address": "Seoul"})).await;
    assert_problem(res, 409, "CONFLICT").await;
    let res = app
        .post_json(
            &format!("{CART}/checkout"),
            Some(&buyer),
            json!({"shipping_address": "Seoul"}),
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    assert_eq!(put_line(&app, &buyer, skus[0], 1).await.status(), 200);
    let res = checkout(&app, &buyer, "co-3", json!({})).await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    assert_eq!(
        cart(&app, &buyer).await["items"].as_array().map(Vec::len),
        Some(1)
    );

    // Paying at once drives the order like POST /orders does.
    let res = checkout(
        &app,
        &buyer,
        "co-4",
        json!({"shipping_address": "Seoul", "payment": {"method": "card"}}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.expect("order");
    let id = order["order_id"].as_str().expect("id");
    let mut status = Value::Null;
    for _ in 0..250 {
        status = app
            .get_json(&format!("/api/v1/orders/{id}"), Some(&buyer))
            .await["status"]
            .clone();
        if status == "DELIVERED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "DELIVERED");
    app.stop().await;
}

async fn checkout_reports_each_line_that_cannot_be_bought(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let (_, rival) = app.user("customer").await;
    let skus = app.product(&seller, &[(1_000, 5), (2_500, 1)], None).await;
    let gone = app.product(&seller, &[(900, 5)], None).await[0];
    assert_eq!(put_line(&app, &buyer, skus[0], 2).await.status(), 200);
    assert_eq!(put_line(&app, &buyer, skus[1], 1).await.status(), 200);
    assert_eq!(put_line(&app, &buyer, gone, 1).await.status(), 200);

    // The last unit of one line sells elsewhere; another product is withdrawn.
    assert_eq!(app.buy_one(&rival, "rival-1", skus[1]).await.status(), 201);
    let pid = app.get_json(CART, Some(&buyer)).await;
    let gone_product = line(&pid, gone)["product_id"].as_i64().expect("product");
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/products/{gone_product}"),
            Some(&seller),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);

    let res = checkout(
        &app,
        &buyer,
        "co-sold-out",
        json!({"shipping_address": "Seoul"}),
    )
    .await;
    let problem = assert_problem(res, 409, "OUT_OF_STOCK").await;
    let mut lines: Vec<(i64, String)> = problem["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["sku_id"].as_i64().expect("sku"),
                l["code"].as_str().expect("code").to_string(),
            )
        })
        .collect();
    lines.sort();
    let mut expected = vec![
        (skus[1], "OUT_OF_STOCK".to_string()),
        (gone, "NOT_ON_SALE".to_string()),
    ];
    expected.sort();
    assert_eq!(lines, expected, "{problem}");

    // Nothing was taken from the line that could be bought, and the cart is as it was.
    let a = availability(&app, skus[0]).await;
    assert_eq!(
        (a["reserved"].as_i64(), a["available"].as_i64()),
        (Some(0), Some(5))
    );
    let c = cart(&app, &buyer).await;
    assert_eq!(c["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(line(&c, gone)["problem"], "NOT_ON_SALE");

    // Without the refused lines the same key goes through.
    for sku in [skus[1], gone] {
        let res = app
            .send(
                Method::DELETE,
                &format!("{CART}/items/{sku}"),
                Some(&buyer),
                None,
            )
            .await;
        assert_eq!(res.status(), 204);
    }
    let res = checkout(
        &app,
        &buyer,
        "co-sold-out",
        json!({"shipping_address": "Seoul"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(availability(&app, skus[0]).await["reserved"], 2);
    app.stop().await;
}

async fn a_retry_answers_the_same_order_and_keeps_a_refilled_cart(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let skus = app.product(&seller, &[(1_000, 10), (500, 10)], None).await;
    assert_eq!(put_line(&app, &buyer, skus[0], 3).await.status(), 200);
    let body = json!({"shipping_address": "Seoul"});
    let res = checkout(&app, &buyer, "co-retry", body.clone()).await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.expect("order");
    assert_eq!(cart(&app, &buyer).await["items"], json!([]));

    // The buyer fills the cart again, the same SKU and quantity included.
    assert_eq!(put_line(&app, &buyer, skus[0], 3).await.status(), 200);
    assert_eq!(put_line(&app, &buyer, skus[1], 1).await.status(), 200);
    let res = checkout(&app, &buyer, "co-retry", body.clone()).await;
    assert_eq!(res.status(), 201);
    let again: Value = res.json().await.expect("order");
    assert_eq!(again["order_id"], first["order_id"]);
    assert_eq!(again["items"], first["items"]);
    let c = cart(&app, &buyer).await;
    assert_eq!(c["items"].as_array().map(Vec::len), Some(2), "{c}");
    assert_eq!(
        availability(&app, skus[0]).await["reserved"],
        3,
        "reserved once"
    );

    // A new key checks the refilled cart out.
    let res = checkout(&app, &buyer, "co-retry-2", body).await;
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.expect("order");
    assert_ne!(second["order_id"], first["order_id"]);
    assert_eq!(second["total"], 3_500);
    assert_eq!(availability(&app, skus[0]).await["reserved"], 6);
    app.stop().await;
}

on_both_stores!(
    lines_with_live_prices_and_availability,
    bounds_and_roles,
    the_cart_survives_a_restart,
    checkout_places_one_order_and_empties_the_cart,
    checkout_reports_each_line_that_cannot_be_bought,
    a_retry_answers_the_same_order_and_keeps_a_refilled_cart,
);
