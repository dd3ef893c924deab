//! What the service lets out: a seller sees only their own lines of paid
//! orders and only what shipping needs of the buyer; an order's events
//! never carry a provider's or the store's raw error text; connection
//! secrets never appear in error messages; `/metrics` can require a token.

mod common;

use async_trait::async_trait;
use common::{TestApp, TestDb, app_settings, assert_problem, fast_orders, spawn_app_with};
use serde_json::{Value, json};
use stampede::actors::Orders;
use stampede::actors::orders::handle::PlaceOrder;
use stampede::actors::orders::saga::SagaDeps;
use stampede::actors::orders::writer::OrderWriter;
use stampede::actors::{Inventory, StockPort};
use stampede::domain::ids::{OrderId, SkuId, UserId};
use stampede::domain::money::Amount;
use stampede::domain::quantity::Quantity;
use stampede::persistence::{RevocationCache, Store};
use stampede::providers::{PaymentProvider, ProviderError, SimulatedShipments};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::task::TaskTracker;

const ORDERS: &str = "/api/v1/orders";
const SELLER_ORDERS: &str = "/api/v1/seller/orders";

async fn app(db: TestDb) -> TestApp {
    let mut s = app_settings(&db);
    fast_orders(&mut s);
    // Paid orders stay PAID/SHIPPING while the test looks at them.
    s.shipments.ship_after_ms = 60_000;
    spawn_app_with(db, s).await
}

async fn place(app: &TestApp, buyer: &str, key: &str, items: Value) -> String {
    let res = app
        .client
        .post(app.url(ORDERS))
        .bearer_auth(buyer)
        .header("Idempotency-Key", key)
        .json(&json!({"items": items, "shipping_address": "Busan, Haeundae-gu 7"}))
        .send()
        .await
        .expect("POST /orders");
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let order: Value = res.json().await.expect("order");
    order["order_id"].as_str().expect("order_id").to_string()
}

async fn pay(app: &TestApp, buyer: &str, id: &str) {
    let res = app
        .send(
            reqwest::Method::POST,
            &format!("{ORDERS}/{id}/payment"),
            Some(buyer),
            None,
        )
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

/// Every key of every object in `v`, at any depth.
fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// One order holds lines of two sellers; each sees only their own lines,
/// priced, with their own subtotal, the recipient and the address, and
/// nothing of the buyer's account or the other seller. An unpaid order and
/// one cancelled before payment are not shown at all; one cancelled after
/// payment is (the seller must not ship it).
async fn sellers_see_their_own_lines_of_paid_orders(db: TestDb) {
    let app = app(db).await;
    let (_, seller_a) = app.user("seller").await;
    let (_, seller_b) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let a = app.product(&seller_a, &[(700, 10)], None).await[0];
    let b = app.product(&seller_b, &[(300, 10)], None).await[0];

    let mixed = place(
        &app,
        &buyer,
        "mixed",
        json!([{"sku_id": a, "quantity": 2}, {"sku_id": b, "quantity": 3}]),
    )
    .await;
    let unpaid = place(
        &app,
        &buyer,
        "unpaid",
        json!([{"sku_id": a, "quantity": 1}]),
    )
    .await;
    let cancelled = place(
        &app,
        &buyer,
        "dropped",
        json!([{"sku_id": a, "quantity": 1}]),
    )
    .await;
    let refunded = place(
        &app,
        &buyer,
        "refunded",
        json!([{"sku_id": a, "quantity": 1}]),
    )
    .await;
    pay(&app, &buyer, &refunded).await;
    for id in [&cancelled, &refunded] {
        let res = app
            .send(
                reqwest::Method::POST,
                &format!("{ORDERS}/{id}/cancel"),
                Some(&buyer),
                None,
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    pay(&app, &buyer, &mixed).await;

    let page = app.get_json(SELLER_ORDERS, Some(&seller_a)).await;
    assert_eq!(page["total"], 2, "only the orders that were paid: {page}");
    let orders = page["items"].as_array().expect("items");
    let shown: Vec<&str> = orders
        .iter()
        .filter_map(|o| o["order_id"].as_str())
        .collect();
    assert_eq!(
        shown,
        [refunded.as_str(), mixed.as_str()],
        "newest first: {page}"
    );
    assert!(!shown.contains(&unpaid.as_str()) && !shown.contains(&cancelled.as_str()));
    assert_eq!(orders[0]["status"], "CANCELLED");
    assert_eq!(orders[0]["reason"], "BUYER_CANCELLED");
    let order = &orders[1];
    assert_eq!(order["status"], "PAID");
    let lines = order["items"].as_array().expect("lines");
    assert_eq!(lines.len(), 1, "only seller A's line: {order}");
    assert_eq!(lines[0]["sku_id"], a);
    assert_eq!(lines[0]["quantity"], 2);
    assert_eq!(lines[0]["unit_price"], 700);
    assert_eq!(order["subtotal"], 1_400, "A's lines only: {order}");
    assert_eq!(order["recipient_name"], "Test User");
    assert_eq!(order["shipping_address"], "Busan, Haeundae-gu 7");

    let text = page.to_string();
    let mut fields = Vec::new();
    keys(&page, &mut fields);
    for hidden in [
        "total_amount",
        "buyer_id",
        "email",
        "payment_due_at",
        "seller_id",
    ] {
        assert!(!fields.iter().any(|k| k == hidden), "{hidden} in {page}");
    }
    // Nothing of the other seller's line, nor the whole order's total.
    assert!(!text.contains(&format!("\"sku_id\":{b}")), "{page}");
    for o in orders {
        assert!(o.get("total").is_none(), "the whole order's total: {o}");
    }
    assert!(!text.contains("shop.test"), "an email leaked: {page}");

    let page_b = app.get_json(SELLER_ORDERS, Some(&seller_b)).await;
    assert_eq!(page_b["total"], 1, "{page_b}");
    let lines = page_b["items"][0]["items"].as_array().expect("lines");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["sku_id"], b);
    assert_eq!(page_b["items"][0]["subtotal"], 900);
    app.stop().await;
}

/// A payment provider whose refusals carry its internal diagnostics, as a
/// real gateway's sometimes do.
struct LeakyPayments;

const LEAK: &str = "ORA-01017 at db7.pay.internal:1521 user=svc_pay password=hunter2";

#[async_trait]
impl PaymentProvider for LeakyPayments {
    async fn authorize(&self, _: OrderId, _: Amount, _: Option<&str>) -> Result<(), ProviderError> {
        Err(ProviderError::Declined(LEAK.into()))
    }
    async fn capture(&self, _: OrderId) -> Result<(), ProviderError> {
        Err(ProviderError::Unavailable(LEAK.into()))
    }
    async fn refund(&self, _: OrderId) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The order sagas of the real service (real store, SKU actors, order
/// writer) wired to `LeakyPayments` instead of the simulated provider.
async fn orders_with_leaky_payments(store: &Store) -> (Orders, OrderWriter, Inventory) {
    let mut s = stampede::config::Settings {
        inventory: common::settings(stampede::config::AckMode::Durable),
        ..Default::default()
    };
    fast_orders(&mut s);
    let inventory = Inventory::start(store.clone(), s.inventory.clone())
        .await
        .expect("inventory");
    let writer = OrderWriter::start(store.clone(), &s.orders)
        .await
        .expect("writer");
    let orders = Orders::start(SagaDeps {
        store: store.clone(),
        inventory: Arc::new(inventory.clone()) as Arc<dyn StockPort>,
        payments: Arc::new(LeakyPayments),
        shipments: Arc::new(SimulatedShipments::new(s.shipments.clone(), store.clone())),
        settings: s.orders.clone(),
        writer: writer.clone(),
        reservation_ttl: s.inventory.reservation_ttl(),
        behind: TaskTracker::new(),
        gauges: Default::default(),
        incidents: Default::default(),
        homes: None,
    })
    .await
    .expect("orders");
    (orders, writer, inventory)
}

/// A payment refused with the provider's internal text: the buyer's event
/// log (read over HTTP) says what happened in our words, and the provider's
/// text stays in our log.
async fn events_carry_no_raw_error_text(db: TestDb) {
    let app = app(db).await;
    let (_, seller) = app.user("seller").await;
    let (buyer_id, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(500, 5)], None).await[0];
    let db = app.stop().await;

    let store = db.store().await;
    let (orders, writer, inventory) = orders_with_leaky_payments(&store).await;
    let request = PlaceOrder {
        items: vec![(SkuId::new(sku), Quantity::new(1).expect("qty"))],
        shipping_address: "Incheon 3".into(),
        shipping: None,
        pay_now: true,
        payment_method: None,
    };
    orders
        .place(UserId::new(buyer_id), "leaky", request)
        .await
        .expect("placed");
    let id = OrderId::derive(UserId::new(buyer_id), "leaky");
    let mut done = false;
    for _ in 0..250 {
        let order = store.order(id).await.expect("read").expect("order");
        if order.status.is_final() {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(done, "the declined order was not cancelled");
    orders.shutdown().await;
    writer.shutdown().await.expect("writer drained");
    inventory.shutdown().await.expect("inventory drained");
    store.close().await;

    let app = app_with_db(db).await;
    let events = app
        .get_json(&format!("{ORDERS}/{id}/events"), Some(&buyer))
        .await;
    let details: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(
        events
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "payment_declined"),
        "{events}"
    );
    for detail in &details {
        for secret in ["ORA-", "internal", "hunter2", "1521"] {
            assert!(
                !detail.contains(secret),
                "raw text in event detail: {detail}"
            );
        }
    }
    let order = app.get_json(&format!("{ORDERS}/{id}"), Some(&buyer)).await;
    assert_eq!(order["reason"], "PAYMENT_DECLINED");
    assert!(!order.to_string().contains("ORA-"), "{order}");
    app.stop().await;
}

async fn app_with_db(db: TestDb) -> TestApp {
    app(db).await
}

on_both_stores!(
    sellers_see_their_own_lines_of_paid_orders,
    events_carry_no_raw_error_text,
);

/// A Redis URL's password appears in no error text a failed start prints.
#[tokio::test]
async fn the_redis_password_is_never_printed() {
    let url = "redis://:secretpw@127.0.0.1:1";
    let Err(err) = RevocationCache::connect(url).await else {
        panic!("nothing listens on port 1");
    };
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("secretpw"), "{text}");
        assert!(
            text.contains("127.0.0.1:1"),
            "the address still helps: {text}"
        );
    }
    let db = TestDb::sqlite().await;
    let mut s = app_settings(&db);
    s.redis_url = Some(url.into());
    let Err(err) = stampede::startup::Application::build(s).await else {
        panic!("start-up must fail");
    };
    let text = format!("{err} / {err:?}");
    // `main` returns anyhow's error, which prints the whole chain.
    let text = format!("{text} / {:?}", anyhow::Error::from(err));
    assert!(!text.contains("secretpw"), "{text}");
}

/// Likewise the database URL's password.
#[tokio::test]
async fn the_database_password_is_never_printed() {
    {
        let url = "mysql://root:secretpw@127.0.0.1:1/shop";
        let Err(err) = Store::connect(url, 1).await else {
            panic!("nothing listens on port 1");
        };
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("secretpw"), "{text}");
        }
        let db = TestDb::sqlite().await;
        let mut s = app_settings(&db);
        s.database_url = url.into();
        let Err(err) = stampede::startup::Application::build(s).await else {
            panic!("start-up must fail");
        };
        let text = format!("{err} / {err:?}");
        assert!(!text.contains("secretpw"), "{text}");
    }
}

/// With a metrics token, `/metrics` answers only to it; the comparison
/// does not depend on where a wrong token differs.
#[tokio::test]
async fn metrics_can_require_a_token() {
    let db = TestDb::sqlite().await;
    let mut s = app_settings(&db);
    s.metrics_token = Some("scrape-me-0123456789abcdef".into());
    let app = spawn_app_with(db, s).await;
    let scrape = |token: Option<&'static str>| {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let none = scrape(None).await.expect("send");
    assert!(none.headers().contains_key("www-authenticate"));
    assert_problem(none, 401, "UNAUTHORIZED").await;
    for wrong in [
        "scrape-me-0123456789abcdeX",
        "nope",
        "scrape-me-0123456789abcdef0",
    ] {
        assert_problem(scrape(Some(wrong)).await.expect("send"), 403, "FORBIDDEN").await;
    }
    let ok = scrape(Some("scrape-me-0123456789abcdef"))
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.expect("body").contains("stampede_"));
    app.stop().await;
}

/// Without a token (the default) `/metrics` stays open, as `cargo run` and
/// Prometheus set-ups without one expect.
#[tokio::test]
async fn metrics_are_open_by_default() {
    let db = TestDb::sqlite().await;
    let s = app_settings(&db);
    let app = spawn_app_with(db, s).await;
    assert_eq!(app.get("/metrics", None).await.status(), 200);
    app.stop().await;
}
