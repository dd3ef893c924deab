//! Per-IP request budgets on the real server: the client behind a trusted
//! proxy is the rightmost `X-Forwarded-For` hop we did not add ourselves, an
//! IPv6 client is one /64, public reads have a budget of their own, and an
//! unknown SKU id costs no actor activation or store read once known.

mod common;

use common::{TestApp, TestDb, app_settings, assert_problem, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

const REFRESH: &str = "/api/v1/auth/refresh";

/// An app whose auth budget is one request per client, refilled slowly.
async fn one_auth_request_each(db: TestDb, trust_forwarded_for: bool) -> TestApp {
    let mut s = app_settings(&db);
    s.rate_limit.auth_per_second = 1;
    s.rate_limit.auth_burst = 1;
    s.rate_limit.trust_forwarded_for = trust_forwarded_for;
    spawn_app_with(db, s).await
}

/// A refresh with a bad token (answered 401 at once, no hashing) sent with
/// the given `X-Forwarded-For` header lines.
async fn refresh_via(app: &TestApp, forwarded_for: &[&str]) -> u16 {
    let mut req = app.client.post(app.url(REFRESH));
    for line in forwarded_for {
        req = req.header("x-forwarded-for", *line);
    }
    req.json(&json!({"refresh_token": "garbage"}))
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

/// The test client connects from loopback, our (default) trusted proxy; the
/// entry it appended is the rightmost one. Whatever the client wrote to the
/// left of it does not pick a fresh bucket.
#[tokio::test]
async fn a_spoofed_leftmost_forwarded_for_is_ignored() {
    let app = one_auth_request_each(TestDb::sqlite().await, true).await;
    assert_eq!(refresh_via(&app, &["198.51.100.1, 203.0.113.7"]).await, 401);
    assert_eq!(
        refresh_via(&app, &["198.51.100.2, 203.0.113.7"]).await,
        429,
        "same client behind the proxy, another made-up leftmost entry"
    );
    // Hops added by further trusted proxies are skipped; header lines join.
    assert_eq!(
        refresh_via(&app, &["198.51.100.3", "203.0.113.7, 127.0.0.5"]).await,
        429
    );
    // Another client has its own bucket.
    assert_eq!(refresh_via(&app, &["203.0.113.8"]).await, 401);
    app.stop().await;
}

/// IPv6 clients get a whole /64 each, so an address per request buys
/// nothing; the next /64 is someone else.
#[tokio::test]
async fn an_ipv6_client_is_its_slash_64() {
    let app = one_auth_request_each(TestDb::sqlite().await, true).await;
    assert_eq!(refresh_via(&app, &["2001:db8:1:2::1"]).await, 401);
    assert_eq!(
        refresh_via(&app, &["2001:db8:1:2:ffff:ffff:ffff:ffff"]).await,
        429
    );
    assert_eq!(refresh_via(&app, &["2001:db8:1:3::1"]).await, 401);
    app.stop().await;
}

/// Without `trust_forwarded_for` the header means nothing: every request
/// here comes from the same loopback address.
#[tokio::test]
async fn forwarded_for_is_ignored_unless_trusted() {
    let app = one_auth_request_each(TestDb::sqlite().await, false).await;
    assert_eq!(refresh_via(&app, &["203.0.113.1"]).await, 401);
    assert_eq!(refresh_via(&app, &["203.0.113.2"]).await, 429);
    app.stop().await;
}

/// Listing, product detail, availability and readiness share one per-IP
/// budget; past it they answer 429 with `Retry-After`, other routes not.
async fn public_reads_have_a_budget(db: TestDb) {
    let mut s = app_settings(&db);
    s.rate_limit.public_per_second = 1;
    s.rate_limit.public_burst = 4;
    let app = spawn_app_with(db, s).await;
    let (_, seller) = app.user("seller").await;
    let body = json!({"name": "Drop item", "category": "drops",
                      "skus": [{"sku_code": "A", "option": "a", "price": 100, "stock": 1}]});
    let res = app.post_json("/api/v1/products", Some(&seller), body).await;
    assert_eq!(res.status(), 201);
    let product: Value = res.json().await.expect("product");
    let sku = common::sku_ids(&product)[0];
    let reads = [
        "/api/v1/products".to_string(),
        format!("/api/v1/products/{}", product["id"]),
        format!("/api/v1/skus/{sku}/availability"),
        "/health/ready".to_string(),
    ];
    for path in &reads {
        assert_eq!(app.get(path, None).await.status(), 200, "{path}");
    }
    for path in &reads {
        let res = app.get(path, None).await;
        assert!(res.headers().contains_key("retry-after"), "{path}");
        assert_problem(res, 429, "RATE_LIMITED").await;
    }
    assert_eq!(app.get("/health/live", None).await.status(), 200);
    assert_eq!(
        app.get("/api/v1/users/me", Some(&seller)).await.status(),
        200
    );
    app.stop().await;
}

/// `GET /admin/actors`' activation counts of this app.
async fn activations(app: &TestApp, admin: &str) -> Value {
    app.get_json("/api/v1/admin/actors", Some(admin)).await["sku_activations"].clone()
}

/// An unknown SKU is looked up once: reading it again (after its actor
/// would have been passivated) neither activates an actor nor reads the
/// store, until a SKU by that id is created, which is visible at once.
async fn unknown_skus_are_remembered(db: TestDb) {
    let mut s = app_settings(&db);
    // A SKU actor that found nothing retires at its first housekeeping.
    s.inventory.housekeeping_ms = 20;
    let app = spawn_app_with(db, s).await;
    let admin = app.admin_token().await;
    let (_, seller) = app.user("seller").await;
    let known = app.product(&seller, &[(100, 1)], None).await[0];
    // SKU ids are handed out in order: this is the next one.
    let next = known + 1;
    let before = activations(&app, &admin).await;
    for _ in 0..10 {
        let res = app
            .get(&format!("/api/v1/skus/{next}/availability"), None)
            .await;
        assert_problem(res, 404, "NOT_FOUND").await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let after = activations(&app, &admin).await;
    assert_eq!(
        after["unknown"].as_u64().expect("unknown") - before["unknown"].as_u64().expect("unknown"),
        1,
        "one lookup for ten reads: {before} -> {after}"
    );
    let created = app.product(&seller, &[(100, 3)], None).await[0];
    assert_eq!(created, next);
    let now = app
        .get_json(&format!("/api/v1/skus/{next}/availability"), None)
        .await;
    assert_eq!(now["available"], 3);
    app.stop().await;
}

/// A SKU created while the actor that found its id missing is still up is
/// visible at once, not after that actor's passivation.
async fn a_sku_created_after_a_miss_is_visible_at_once(db: TestDb) {
    let mut s = app_settings(&db);
    s.inventory.housekeeping_ms = 60_000;
    let app = spawn_app_with(db, s).await;
    let (_, seller) = app.user("seller").await;
    let known = app.product(&seller, &[(100, 1)], None).await[0];
    let next = known + 1;
    let path = format!("/api/v1/skus/{next}/availability");
    assert_problem(app.get(&path, None).await, 404, "NOT_FOUND").await;
    assert_problem(app.get(&path, None).await, 404, "NOT_FOUND").await;
    assert_eq!(app.product(&seller, &[(100, 4)], None).await[0], next);
    assert_eq!(app.get_json(&path, None).await["available"], 4);
    app.stop().await;
}

on_both_stores!(
    public_reads_have_a_budget,
    unknown_skus_are_remembered,
    a_sku_created_after_a_miss_is_visible_at_once,
);
