//! The real HTTP server on a random port: probes, availability, admin auth,
//! problem answers, the OpenAPI document and the shutdown path.

mod common;

use common::{TestDb, assert_problem, id, qty, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use stampede::config::AckMode;
use stampede::domain::ids::UserId;
use stampede::domain::rules::SaleRules;
use stampede::domain::time::Timestamp;
use std::time::Duration;

async fn probes_answer(db: TestDb) {
    let app = spawn_app(db).await;
    for path in ["/health/live", "/health/ready"] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), 200, "{path}");
    }
    app.stop().await;
}

async fn availability_is_live(db: TestDb) {
    let app = spawn_app(db).await;
    let opens = Timestamp::now().plus(Duration::from_secs(3600));
    let rules = SaleRules::new(Some(opens), None, Some(2)).expect("rules");
    let sku = app
        .inventory
        .create_sku(qty(10), SaleRules::default())
        .await
        .expect("sku");
    let later = app.inventory.create_sku(qty(5), rules).await.expect("sku");
    app.inventory
        .reserve(sku, id("o1"), UserId::new(1), qty(3))
        .await
        .expect("reserve");

    let body = app
        .get_json(&format!("/api/v1/skus/{}/availability", sku.get()), None)
        .await;
    assert_eq!(body["available"], 7);
    assert_eq!(body["reserved"], 3);
    assert_eq!(body["sold"], 0);
    assert_eq!(body["on_sale"], true);

    let body = app
        .get_json(&format!("/api/v1/skus/{}/availability", later.get()), None)
        .await;
    assert_eq!(body["on_sale"], false);
    assert_eq!(body["opens_at"], opens.to_rfc3339());
    assert_eq!(body["per_user_limit"], 2);

    let missing = app.get("/api/v1/skus/999999/availability", None).await;
    assert_problem(missing, 404, "NOT_FOUND").await;
    let bad = app.get("/api/v1/skus/abc/availability", None).await;
    assert_problem(bad, 400, "VALIDATION_FAILED").await;
    let huge = app
        .get("/api/v1/skus/99999999999999999999999/availability", None)
        .await;
    assert_problem(huge, 400, "VALIDATION_FAILED").await;
    let nowhere = app.get("/api/v1/nowhere", None).await;
    assert_problem(nowhere, 404, "NOT_FOUND").await;
    app.stop().await;
}

async fn admin_views_need_an_admin(db: TestDb) {
    let app = spawn_app(db).await;
    let sku = app
        .inventory
        .create_sku(qty(4), SaleRules::default())
        .await
        .expect("sku");
    let path = format!("/api/v1/admin/actors/skus/{}", sku.get());

    let anon = app.get("/api/v1/admin/actors", None).await;
    assert_problem(anon, 401, "UNAUTHORIZED").await;
    let forged = app.get("/api/v1/admin/actors", Some("not.a.jwt")).await;
    assert_problem(forged, 401, "UNAUTHORIZED").await;
    // A valid token for a customer is refused.
    let customer = stampede::http::auth::TokenKeys::new(
        common::JWT_SECRET.as_bytes(),
        Duration::from_secs(60),
    )
    .issue(
        UserId::new(42),
        stampede::domain::role::Role::Customer,
        true,
    )
    .expect("token");
    let res = app.get(&path, Some(&customer)).await;
    assert_problem(res, 403, "FORBIDDEN").await;
    // A token signed with another secret is refused.
    let other = stampede::http::auth::TokenKeys::new(b"another-secret", Duration::from_secs(60))
        .issue(UserId::new(1), stampede::domain::role::Role::Admin, true)
        .expect("token");
    let res = app.get(&path, Some(&other)).await;
    assert_problem(res, 401, "UNAUTHORIZED").await;

    let token = app.admin_token().await;
    let view = app.get_json(&path, Some(&token)).await;
    assert_eq!(view["stock"]["available"], 4);
    assert_eq!(view["restarts"], 0);
    for key in [
        "mailbox_depth",
        "unflushed_decisions",
        "last_flush_size",
        "activated_at",
    ] {
        assert!(!view[key].is_null(), "{key} missing: {view}");
    }
    app.inventory
        .reserve(sku, id("r"), UserId::new(3), qty(1))
        .await
        .expect("reserve");
    let overview = app.get_json("/api/v1/admin/actors", Some(&token)).await;
    assert_eq!(overview["active_sku_actors"], 1);
    assert_eq!(overview["ack_mode"], "durable");
    assert!(
        overview["persister"]["batches_committed"]
            .as_u64()
            .expect("batches")
            >= 1
    );
    assert!(overview["persister"]["last_flush_at"].is_string());
    app.stop().await;
}

async fn login_refuses_bad_input(db: TestDb) {
    let app = spawn_app(db).await;
    let login = app.url("/api/v1/auth/login");
    let wrong = app
        .client
        .post(&login)
        .json(&json!({"email": common::ADMIN_EMAIL, "password": "wrong password"}))
        .send()
        .await
        .expect("post");
    assert_problem(wrong, 401, "UNAUTHORIZED").await;
    let unknown = app
        .client
        .post(&login)
        .json(&json!({"email": "nobody@stampede.test", "password": "whatever1"}))
        .send()
        .await
        .expect("post");
    assert_problem(unknown, 401, "UNAUTHORIZED").await;
    let cases = [
        (
            r#"{"email": "not-an-email", "password": "x"}"#,
            "application/json",
            400,
        ),
        (r#"{"email": 5, "password": "x"}"#, "application/json", 400),
        (r#"{"email": "a@b.io"}"#, "application/json", 400),
        (
            r#"{"email": "a@b.io", "password": "#,
            "application/json",
            400,
        ),
        (r#"email=a@b.io"#, "application/x-www-form-urlencoded", 415),
    ];
    for (body, ct, status) in cases {
        let res = app
            .client
            .post(&login)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .expect("post");
        assert_problem(res, status, "VALIDATION_FAILED").await;
    }
    let big = format!(
        r#"{{"email": "a@b.io", "password": "{}"}}"#,
        "p".repeat(100_000)
    );
    let res = app
        .client
        .post(&login)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("post");
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    app.stop().await;
}

async fn openapi_lists_every_route(db: TestDb) {
    let app = spawn_app(db).await;
    let doc = app.get_json("/openapi.json", None).await;
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    for schema in ["Problem", "SkuSnapshot", "ActorsOverview", "SkuActorView"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} schema missing"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let paths = doc["paths"].as_object().expect("paths");
    // Errors are documented with the media type they are sent with.
    let conflict = &paths["/api/v1/auth/signup"]["post"]["responses"]["409"]["content"];
    assert!(
        conflict["application/problem+json"]["schema"].is_object(),
        "{conflict}"
    );
    assert!(conflict.get("application/json").is_none(), "{conflict}");
    // A documented path called with another method: 405 naming the others.
    let res = app
        .client
        .put(app.url("/api/v1/products/7"))
        .send()
        .await
        .expect("put");
    assert_eq!(
        res.headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
        "GET, DELETE, PATCH"
    );
    assert_problem(res, 405, "METHOD_NOT_ALLOWED").await;
    let res = app.get("/api/v1/no/such/route", None).await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let expected = [
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/api/v1/auth/signup", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/logout-all", "post"),
        ("/api/v1/auth/whoami", "get"),
        ("/api/v1/auth/verify-email", "post"),
        ("/api/v1/auth/verify-email", "get"),
        ("/api/v1/auth/resend-verification", "post"),
        ("/api/v1/users/me", "get"),
        ("/api/v1/users/me", "patch"),
        ("/api/v1/users/me", "delete"),
        ("/api/v1/users/me/picture", "put"),
        ("/api/v1/users/me/picture", "delete"),
        ("/api/v1/skus/{id}/availability", "get"),
        ("/api/v1/skus/{id}/restock", "post"),
        ("/api/v1/products", "post"),
        ("/api/v1/products", "get"),
        ("/api/v1/products/{id}", "get"),
        ("/api/v1/products/{id}", "patch"),
        ("/api/v1/products/{id}", "delete"),
        ("/api/v1/products/{id}/images", "post"),
        ("/api/v1/products/{id}/images", "patch"),
        ("/api/v1/products/{id}/images/{image_id}", "delete"),
        ("/api/v1/categories", "get"),
        ("/api/v1/categories", "post"),
        ("/api/v1/categories/{id}", "patch"),
        ("/api/v1/categories/{id}", "delete"),
        ("/media/{key}", "get"),
        ("/api/v1/wishlist", "get"),
        ("/api/v1/wishlist", "post"),
        ("/api/v1/wishlist/{product_id}", "delete"),
        ("/api/v1/cart", "get"),
        ("/api/v1/cart", "delete"),
        ("/api/v1/cart/items/{sku_id}", "put"),
        ("/api/v1/cart/items/{sku_id}", "delete"),
        ("/api/v1/cart/checkout", "post"),
        ("/api/v1/addresses", "get"),
        ("/api/v1/addresses", "post"),
        ("/api/v1/addresses/{id}", "patch"),
        ("/api/v1/addresses/{id}", "delete"),
        ("/api/v1/payment-methods", "get"),
        ("/api/v1/payment-methods", "post"),
        ("/api/v1/payment-methods/{id}", "delete"),
        ("/api/v1/products/{id}/reviews", "post"),
        ("/api/v1/products/{id}/reviews", "get"),
        ("/api/v1/posts/{id}/like", "put"),
        ("/api/v1/posts/{id}/like", "delete"),
        ("/api/v1/comments/{id}/like", "put"),
        ("/api/v1/comments/{id}/like", "delete"),
        ("/api/v1/users/{id}/follow", "put"),
        ("/api/v1/users/{id}/follow", "delete"),
        ("/api/v1/users/{id}/social", "get"),
        ("/api/v1/users/{id}/followers", "get"),
        ("/api/v1/users/{id}/following", "get"),
        ("/api/v1/posts", "post"),
        ("/api/v1/posts/{id}", "get"),
        ("/api/v1/posts/{id}", "patch"),
        ("/api/v1/posts/{id}", "delete"),
        ("/api/v1/users/{id}/posts", "get"),
        ("/api/v1/posts/{id}/comments", "post"),
        ("/api/v1/posts/{id}/comments", "get"),
        ("/api/v1/comments/{id}", "patch"),
        ("/api/v1/comments/{id}", "delete"),
        ("/api/v1/feed", "get"),
        ("/api/v1/users/me/activities", "get"),
        ("/api/v1/users/me/activities/unread-count", "get"),
        ("/api/v1/users/me/activities/read", "post"),
        ("/api/v1/users/{id}/block", "put"),
        ("/api/v1/users/{id}/block", "delete"),
        ("/api/v1/users/me/blocks", "get"),
        ("/api/v1/posts/{id}/reports", "post"),
        ("/api/v1/admin/reports", "get"),
        ("/api/v1/admin/reports/{id}/resolve", "post"),
        ("/api/v1/orders", "post"),
        ("/api/v1/orders", "get"),
        ("/api/v1/orders/{id}", "get"),
        ("/api/v1/orders/{id}/payment", "post"),
        ("/api/v1/orders/{id}/cancel", "post"),
        ("/api/v1/orders/{id}/events", "get"),
        ("/api/v1/seller/orders", "get"),
        ("/api/v1/admin/sagas", "get"),
        ("/api/v1/admin/sagas/{order_id}", "get"),
        ("/api/v1/admin/actors", "get"),
        ("/api/v1/admin/actors/counters", "get"),
        ("/api/v1/admin/actors/skus/{id}", "get"),
        ("/api/v1/admin/cluster", "get"),
        ("/api/v1/admin/outbox", "get"),
        ("/api/v1/admin/events", "get"),
        ("/api/v1/admin/mail", "get"),
        ("/api/v1/admin/live", "get"),
        ("/", "get"),
        ("/admin", "get"),
        ("/admin/assets/{file}", "get"),
        ("/docs", "get"),
        ("/docs/", "get"),
        ("/docs/{file}", "get"),
    ];
    let operations: usize = paths
        .values()
        .map(|p| p.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(operations, expected.len(), "{:?}", paths.keys());
    for (path, method) in expected {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
        // And the route really exists: nothing documented answers the
        // router's NOT_FOUND for a missing route.
        let url = app.url(
            &path
                .replace("{id}", "1")
                .replace("{product_id}", "1")
                .replace("{order_id}", "1")
                .replace("{image_id}", "1")
                .replace("{key}", "missing.png")
                .replace("{sku_id}", "1")
                .replace("{file}", "console.js"),
        );
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let res = app
            .client
            .request(method, url)
            .json(&json!({}))
            .send()
            .await
            .expect("call");
        if res.status() == 404 {
            let body: Value = res.json().await.expect("json");
            assert!(
                !body["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("no route"),
                "{path}"
            );
        }
    }
    app.stop().await;
}

async fn shutdown_flushes_pending_decisions(db: TestDb) {
    let mut s = common::app_settings(&db);
    // Memory mode with a long flush interval: decisions wait in the queue.
    s.inventory.ack = AckMode::Memory;
    s.inventory.flush_interval_ms = 60_000;
    let app = spawn_app_with(db, s).await;
    let sku = app
        .inventory
        .create_sku(qty(100), SaleRules::default())
        .await
        .expect("sku");
    for n in 0..40 {
        app.inventory
            .reserve(sku, id(format!("o{n}")), UserId::new(n), qty(1))
            .await
            .expect("reserve");
    }
    assert_eq!(
        common::db_levels(&app.store, sku).await,
        (100, 0, 0),
        "nothing flushed yet"
    );
    let store = app.store.clone();
    let _db = app.stop().await;
    assert_eq!(common::db_levels(&store, sku).await, (100, 40, 0));
    assert_eq!(common::db_count(&store, sku, "reserved").await, 40);
}

/// Every answer says `nosniff` and carries a request id (the caller's when
/// it sent a usable one); token answers are never cached.
async fn answers_carry_safety_headers(db: TestDb) {
    let app = spawn_app(db).await;
    let header = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut seen = std::collections::HashSet::new();
    for (path, status) in [
        ("/health/live", 200),
        ("/no/such/route", 404),
        ("/api/v1/orders", 401),
    ] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(
            header(&res, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        let id = header(&res, "x-request-id").unwrap_or_else(|| panic!("{path}: no X-Request-Id"));
        assert!(
            !id.is_empty() && seen.insert(id),
            "{path}: a fresh id per request"
        );
    }
    let echoed = app
        .client
        .get(app.url("/health/live"))
        .header("X-Request-Id", "gateway-7f3a")
        .send()
        .await
        .expect("request");
    assert_eq!(
        header(&echoed, "x-request-id").as_deref(),
        Some("gateway-7f3a")
    );
    let unusable = app
        .client
        .get(app.url("/health/live"))
        .header("X-Request-Id", "x".repeat(300))
        .send()
        .await
        .expect("request");
    let replaced = header(&unusable, "x-request-id").expect("an id");
    assert!(
        replaced.len() <= 128,
        "an unusable id is replaced: {replaced}"
    );

    let admin = app
        .post_json(
            "/api/v1/auth/login",
            None,
            json!({"email": common::ADMIN_EMAIL, "password": common::ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(admin.status(), 200);
    assert_eq!(header(&admin, "cache-control").as_deref(), Some("no-store"));
    let tokens: Value = admin.json().await.expect("json");
    let refreshed = app
        .post_json(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status(), 200);
    assert_eq!(
        header(&refreshed, "cache-control").as_deref(),
        Some("no-store")
    );
    app.stop().await;
}

on_both_stores!(
    answers_carry_safety_headers,
    probes_answer,
    availability_is_live,
    admin_views_need_an_admin,
    login_refuses_bad_input,
    openapi_lists_every_route,
    shutdown_flushes_pending_decisions,
);

/// The real binary stops cleanly on SIGTERM.
#[tokio::test]
async fn binary_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .current_dir(dir.path())
        .env("STAMPEDE_BIND", format!("127.0.0.1:{port}"))
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn stampede");
    let client = reqwest::Client::new();
    let live = format!("http://127.0.0.1:{port}/health/live");
    let mut up = false;
    for _ in 0..100 {
        if client
            .get(&live)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "stampede did not come up with no configuration");
    assert!(
        dir.path().join("stampede.db").exists(),
        "embedded SQLite file created"
    );
    let pid = child.id().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits within 20 s")
        .expect("wait");
    assert!(status.success(), "exit status {status}");
}
