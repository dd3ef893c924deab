//! The catalog over real HTTP on both stores: products and SKUs, listings,
//! live availability, ownership, soft delete, sale rules reaching the
//! actors, the read cache, wishlists and refusals of bad input.

mod common;

use common::{TestApp, TestDb, assert_problem, id, qty, sku_ids, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use stampede::actors::InventoryError;
use stampede::domain::catalog::{NewProduct, NewSku};
use stampede::domain::ids::{SkuId, UserId};
use stampede::domain::ledger::Rejection;
use stampede::domain::rules::SaleRules;
use stampede::domain::time::Timestamp;
use stampede::persistence::StoreError;
use std::collections::HashSet;
use std::time::Duration;

fn phone(name: &str, category: &str) -> Value {
    json!({
        "name": name,
        "description": "A phone.\nWith two lines.",
        "category": category,
        "skus": [
            {"sku_code": "BLK-128", "option": "Black / 128GB", "price": 1_250_000, "stock": 10},
            {"sku_code": "WHT-256", "option": "White / 256GB", "price": 1_450_000, "stock": 0},
        ],
    })
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post_json("/api/v1/products", Some(token), body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.expect("product")
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect()
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.store.pool())
        .await
        .expect("count")
}

async fn patch(app: &TestApp, product: i64, token: &str, body: Value) -> reqwest::Response {
    app.send(
        Method::PATCH,
        &format!("/api/v1/products/{product}"),
        Some(token),
        Some(body),
    )
    .await
}

async fn seller_creates_a_product(db: TestDb) {
    let app = spawn_app(db).await;
    let (seller, token) = app.user("seller").await;
    let opens = Timestamp::now().plus(Duration::from_secs(3600));
    let closes = opens.plus(Duration::from_secs(7200));
    let mut body = phone("Galaxy Fold", "phones");
    body["sale"] = json!({"opens_at": opens.to_rfc3339(), "closes_at": closes.to_rfc3339(), "per_user_limit": 2});
    let res = app.post_json("/api/v1/products", Some(&token), body).await;
    assert_eq!(res.status(), 201);
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_string();
    let created: Value = res.json().await.expect("json");
    let id = created["id"].as_i64().expect("id");
    assert_eq!(location, format!("/api/v1/products/{id}"));
    assert_eq!(created["seller_id"], seller);
    assert_eq!(created["name"], "Galaxy Fold");
    assert_eq!(created["description"], "A phone.\nWith two lines.");
    assert_eq!(created["category"], "phones");
    let skus = created["skus"].as_array().expect("skus");
    assert_eq!(skus.len(), 2);
    assert_eq!(skus[0]["sku_code"], "BLK-128");
    assert_eq!(skus[0]["option"], "Black / 128GB");
    assert_eq!(skus[0]["price"], 1_250_000);
    assert_eq!(skus[0]["currency"], "KRW");
    assert_eq!(skus[0]["availability"]["available"], 10);
    assert_eq!(skus[1]["availability"]["available"], 0);
    for sku in skus {
        assert_eq!(sku["availability"]["on_sale"], false);
        assert_eq!(sku["availability"]["opens_at"], opens.to_rfc3339());
        assert_eq!(sku["availability"]["closes_at"], closes.to_rfc3339());
        assert_eq!(sku["availability"]["per_user_limit"], 2);
    }

    // The detail answers the same, and each SKU id is its stock's id.
    let detail = app.get_json(&location, None).await;
    assert_eq!(detail, created);
    for (sku, stock) in sku_ids(&created).into_iter().zip([10, 0]) {
        let live = app
            .get_json(&format!("/api/v1/skus/{sku}/availability"), None)
            .await;
        assert_eq!(live["available"], stock);
        assert_eq!(
            common::db_levels(&app.store, SkuId::new(sku)).await,
            (stock, 0, 0)
        );
    }
    app.stop().await;
}

/// A failure inside the creation transaction leaves no product, SKU or
/// stock row behind.
async fn product_creation_is_atomic(db: TestDb) {
    let app = spawn_app(db).await;
    let (seller, _) = app.user("seller").await;
    let sku = |code: &str| NewSku::parse(code, "One size", 1000, None, 5).expect("sku");
    // Bypasses validation so that the database refuses the second SKU.
    let doomed = NewProduct {
        name: "Doomed".into(),
        description: None,
        category: "misc".into(),
        category_id: None,
        skus: vec![sku("SAME"), sku("SAME")],
    };
    let err = app
        .store
        .create_product(UserId::new(seller), &doomed, SaleRules::default())
        .await
        .expect_err("duplicate code");
    assert!(matches!(err, StoreError::Duplicate(_)), "{err}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM products").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM skus").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sku_stock").await, 0);
    app.stop().await;
}

async fn anyone_lists_searches_and_paginates(db: TestDb) {
    let app = spawn_app(db).await;
    let (alice, a) = app.user("seller").await;
    let (bob, b) = app.user("seller").await;
    let mut ids = Vec::new();
    for (token, name, category) in [
        (&a, "Galaxy Phone", "phones"),
        (&a, "Pixel phone", "phones"),
        (&b, "iPHONE 17", "phones"),
        (&b, "Laptop 50% off_sale", "laptops"),
        (&a, "Laptop stand", "accessories"),
        (&b, "무선 이어폰 PHONES", "audio"),
        (&a, "Phoenix mug", "kitchen"),
    ] {
        ids.push(
            create(&app, token, phone(name, category)).await["id"]
                .as_i64()
                .expect("id"),
        );
    }
    let newest_first: Vec<i64> = ids.iter().rev().copied().collect();

    let all = app.get_json("/api/v1/products", None).await;
    assert_eq!(all["total"], 7);
    assert_eq!(all["page"], 1);
    assert_eq!(all["page_size"], 20);
    let listed: Vec<i64> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(listed, newest_first);
    let first = &all["items"][0];
    assert_eq!(first["price_min"], 1_250_000);
    assert_eq!(first["price_max"], 1_450_000);
    assert_eq!(first["currency"], "KRW");
    assert_eq!(first["sku_count"], 2);
    assert!(first.get("description").is_none(), "summaries stay small");

    // Case-insensitive substring search, ASCII and beyond.
    let found = app.get_json("/api/v1/products?q=PhOnE", None).await;
    assert_eq!(found["total"], 4);
    assert_eq!(
        names(&found),
        [
            "무선 이어폰 PHONES",
            "iPHONE 17",
            "Pixel phone",
            "Galaxy Phone"
        ]
    );
    let found = app
        .get_json("/api/v1/products?q=%EC%9D%B4%EC%96%B4%ED%8F%B0", None)
        .await;
    assert_eq!(names(&found), ["무선 이어폰 PHONES"]);
    // LIKE wildcards in the search text are plain characters.
    let found = app.get_json("/api/v1/products?q=50%25%20off_", None).await;
    assert_eq!(names(&found), ["Laptop 50% off_sale"]);
    let found = app.get_json("/api/v1/products?q=%25", None).await;
    assert_eq!(found["total"], 1);
    let found = app.get_json("/api/v1/products?q=_", None).await;
    assert_eq!(found["total"], 1);
    // Filters combine; the category matches exactly.
    let found = app.get_json("/api/v1/products?category=phones", None).await;
    assert_eq!(found["total"], 3);
    let found = app.get_json("/api/v1/products?category=Phones", None).await;
    assert_eq!(found["total"], 0);
    let found = app
        .get_json(&format!("/api/v1/products?seller_id={alice}"), None)
        .await;
    assert_eq!(found["total"], 4);
    let found = app
        .get_json(
            &format!("/api/v1/products?seller_id={bob}&category=phones&q=iphone"),
            None,
        )
        .await;
    assert_eq!(names(&found), ["iPHONE 17"]);
    let found = app
        .get_json("/api/v1/products?q=nothing-like-it", None)
        .await;
    assert_eq!(found["total"], 0);
    assert_eq!(found["items"], json!([]));

    // Pages of 3 cover everything once, in the same order.
    let mut paged = Vec::new();
    for page in 1..=3 {
        let body = app
            .get_json(&format!("/api/v1/products?page={page}&page_size=3"), None)
            .await;
        assert_eq!(body["total"], 7);
        assert_eq!(body["page"], page);
        assert_eq!(body["page_size"], 3);
        for p in body["items"].as_array().expect("items") {
            paged.push(p["id"].as_i64().expect("id"));
        }
    }
    assert_eq!(paged, newest_first);
    let beyond = app
        .get_json("/api/v1/products?page=9&page_size=3", None)
        .await;
    assert_eq!(beyond["items"], json!([]));
    assert_eq!(beyond["total"], 7);

    // A new product shows up at once in a listing that was cached.
    let newest = create(&app, &a, phone("Brand new phone", "phones")).await;
    let all = app.get_json("/api/v1/products?page_size=1", None).await;
    assert_eq!(all["total"], 8);
    assert_eq!(all["items"][0]["id"], newest["id"]);
    app.stop().await;
}

async fn detail_shows_live_availability(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, token) = app.user("seller").await;
    let product = create(&app, &token, phone("Phone", "phones")).await;
    let path = format!("/api/v1/products/{}", product["id"]);
    let skus = sku_ids(&product);

    app.inventory
        .reserve(SkuId::new(skus[0]), id("order-1"), UserId::new(77), qty(4))
        .await
        .expect("reserve");
    let detail = app.get_json(&path, None).await;
    assert_eq!(detail["skus"][0]["availability"]["available"], 6);
    assert_eq!(detail["skus"][0]["availability"]["reserved"], 4);

    let res = app
        .post_json(
            &format!("/api/v1/skus/{}/restock", skus[1]),
            Some(&token),
            json!({"quantity": 25}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let levels: Value = res.json().await.expect("json");
    assert_eq!(levels["sku_id"], skus[1]);
    assert_eq!(levels["on_hand"], 25);
    assert_eq!(levels["available"], 25);
    let res = app
        .post_json(
            &format!("/api/v1/skus/{}/restock", skus[0]),
            Some(&token),
            json!({"quantity": 5}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let detail = app.get_json(&path, None).await;
    assert_eq!(detail["skus"][0]["availability"]["available"], 11);
    assert_eq!(detail["skus"][0]["availability"]["on_hand"], 15);
    assert_eq!(detail["skus"][1]["availability"]["available"], 25);
    let live = app
        .get_json(&format!("/api/v1/skus/{}/availability", skus[1]), None)
        .await;
    assert_eq!(live["available"], 25);
    app.stop().await;
}

async fn only_owners_manage_products(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, seller_a) = app.user("seller").await;
    let (_, seller_b) = app.user("seller").await;
    let (_, customer) = app.user("customer").await;
    let admin = app.admin_token().await;
    let product = create(&app, &seller_a, phone("Phone", "phones")).await;
    let pid = product["id"].as_i64().expect("id");
    let sku = sku_ids(&product)[0];
    let path = format!("/api/v1/products/{pid}");
    let restock = format!("/api/v1/skus/{sku}/restock");

    let attempts = |token: Option<String>| {
        let (path, restock) = (path.clone(), restock.clone());
        let app = &app;
        async move {
            let t = token.as_deref();
            vec![
                app.post_json("/api/v1/products", t, phone("Mine", "phones"))
                    .await,
                app.send(Method::PATCH, &path, t, Some(json!({"name": "Taken"})))
                    .await,
                app.send(Method::DELETE, &path, t, None).await,
                app.post_json(&restock, t, json!({"quantity": 1})).await,
            ]
        }
    };
    for res in attempts(None).await {
        assert_problem(res, 401, "UNAUTHORIZED").await;
    }
    for res in attempts(Some(customer.clone())).await {
        assert_problem(res, 403, "FORBIDDEN").await;
    }
    // A customer is refused even for a product that does not exist.
    let res = patch(&app, 999_999, &customer, json!({"name": "x"})).await;
    assert_problem(res, 403, "FORBIDDEN").await;
    // Seller B may list their own products but not touch A's.
    let mut refused = attempts(Some(seller_b.clone())).await.into_iter();
    assert_eq!(refused.next().expect("create").status(), 201);
    for res in refused {
        assert_problem(res, 403, "FORBIDDEN").await;
    }
    // Admins moderate (PATCH, DELETE) but neither list products nor restock.
    let res = app
        .post_json("/api/v1/products", Some(&admin), phone("Ops", "phones"))
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;
    let res = app
        .post_json(&restock, Some(&admin), json!({"quantity": 1}))
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;

    let detail = app.get_json(&path, None).await;
    assert_eq!(detail["name"], "Phone", "nothing changed");
    assert_eq!(detail["skus"][0]["availability"]["on_hand"], 10);

    let res = patch(&app, pid, &admin, json!({"name": "Phone (moderated)"})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["name"], "Phone (moderated)");
    let res = patch(&app, pid, &seller_a, json!({"category": "smartphones"})).await;
    assert_eq!(res.status(), 200);
    let res = app.send(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(res.status(), 204);
    app.stop().await;
}

async fn soft_delete_hides_everywhere(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, customer) = app.user("customer").await;
    let kept = create(&app, &seller, phone("Kept", "phones")).await;
    let gone = create(&app, &seller, phone("Gone", "phones")).await;
    let gone_id = gone["id"].as_i64().expect("id");
    let gone_sku = sku_ids(&gone)[0];
    let path = format!("/api/v1/products/{gone_id}");
    let res = app
        .post_json(
            "/api/v1/wishlist",
            Some(&customer),
            json!({"product_id": gone_id}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // Warm the caches so the delete has something to invalidate.
    app.get_json(&path, None).await;
    assert_eq!(app.get_json("/api/v1/products", None).await["total"], 2);

    let res = app.send(Method::DELETE, &path, Some(&seller), None).await;
    assert_eq!(res.status(), 204);

    assert_problem(app.get(&path, None).await, 404, "NOT_FOUND").await;
    let all = app.get_json("/api/v1/products", None).await;
    assert_eq!(all["total"], 1);
    assert_eq!(all["items"][0]["id"], kept["id"]);
    let wishlist = app.get_json("/api/v1/wishlist", Some(&customer)).await;
    assert_eq!(wishlist["total"], 0);
    let res = app
        .post_json(
            "/api/v1/wishlist",
            Some(&customer),
            json!({"product_id": gone_id}),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    for res in [
        app.send(Method::DELETE, &path, Some(&seller), None).await,
        patch(&app, gone_id, &seller, json!({"name": "Back"})).await,
        app.post_json(
            &format!("/api/v1/skus/{gone_sku}/restock"),
            Some(&seller),
            json!({"quantity": 1}),
        )
        .await,
    ] {
        assert_problem(res, 404, "NOT_FOUND").await;
    }
    // Nothing was removed: the rows and the stock stay for existing orders.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM products").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM skus").await, 4);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM wishlist_items").await, 1);
    let live = app
        .get_json(&format!("/api/v1/skus/{gone_sku}/availability"), None)
        .await;
    assert_eq!(live["available"], 10);
    app.stop().await;
}

async fn sale_rules_reach_the_actors(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, seller) = app.user("seller").await;
    let product = create(&app, &seller, phone("Drop", "phones")).await;
    let pid = product["id"].as_i64().expect("id");
    let skus = sku_ids(&product);
    let opens = Timestamp::now().plus(Duration::from_secs(600));

    let res = patch(
        &app,
        pid,
        &seller,
        json!({"sale": {"opens_at": opens.to_rfc3339(), "per_user_limit": 1}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body["skus"][1]["availability"]["opens_at"],
        opens.to_rfc3339()
    );
    for sku in &skus {
        let live = app
            .get_json(&format!("/api/v1/skus/{sku}/availability"), None)
            .await;
        assert_eq!(live["on_sale"], false);
        assert_eq!(live["opens_at"], opens.to_rfc3339());
        assert_eq!(live["per_user_limit"], 1);
    }
    let refused = app
        .inventory
        .reserve(SkuId::new(skus[0]), id("early"), UserId::new(5), qty(1))
        .await;
    assert!(
        matches!(
            refused,
            Err(InventoryError::Rejected(Rejection::NotOnSale { .. }))
        ),
        "{refused:?}"
    );

    // `null` lifts the rules; the limit goes with them.
    let res = patch(&app, pid, &seller, json!({"sale": null})).await;
    assert_eq!(res.status(), 200);
    for sku in &skus {
        let live = app
            .get_json(&format!("/api/v1/skus/{sku}/availability"), None)
            .await;
        assert_eq!(live["on_sale"], true);
        assert!(live["opens_at"].is_null());
        assert!(live["per_user_limit"].is_null());
    }
    app.inventory
        .reserve(SkuId::new(skus[0]), id("now"), UserId::new(5), qty(2))
        .await
        .expect("on sale without a limit");
    // The rules are written behind by the actor, not by the catalog.
    app.inventory.sync().await.expect("sync");
    let stored: Option<i64> = sqlx::query_scalar("SELECT opens_at FROM sku_stock WHERE sku_id = ?")
        .bind(skus[0])
        .fetch_one(app.store.pool())
        .await
        .expect("row");
    assert_eq!(stored, None);
    app.stop().await;
}

async fn cache_never_serves_a_stale_price(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, seller) = app.user("seller").await;
    let product = create(&app, &seller, phone("Cached phone", "phones")).await;
    let pid = product["id"].as_i64().expect("id");
    let sku = sku_ids(&product)[0];
    let detail_path = format!("/api/v1/products/{pid}");
    let list_path = "/api/v1/products?q=cached";

    // Readers keep filling the cache while the prices change.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|n| {
            let client = app.client.clone();
            let url = app.url(if n % 2 == 0 { &detail_path } else { list_path });
            let stop = std::sync::Arc::clone(&stop);
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let res = client.get(&url).send().await.expect("GET");
                    assert_eq!(res.status(), 200);
                }
            })
        })
        .collect();

    for round in 1..=20_i64 {
        let price = 1_000_000 + round;
        let res = patch(
            &app,
            pid,
            &seller,
            json!({"skus": [{"id": sku, "price": price}], "name": format!("Cached phone v{round}")}),
        )
        .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["skus"][0]["price"], price);
        // Right after the PATCH answers, every read shows the new price.
        for _ in 0..3 {
            let detail = app.get_json(&detail_path, None).await;
            assert_eq!(detail["skus"][0]["price"], price, "detail, round {round}");
            assert_eq!(detail["name"], format!("Cached phone v{round}"));
            let list = app.get_json(list_path, None).await;
            assert_eq!(
                list["items"][0]["price_min"], price,
                "listing, round {round}"
            );
            let found = app
                .get_json(&format!("/api/v1/products?q=v{round}"), None)
                .await;
            assert!(
                names(&found).contains(&format!("Cached phone v{round}")),
                "search by the new name, round {round}"
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        reader.await.expect("reader");
    }
    app.stop().await;
}

async fn wishlist_is_idempotent_and_private(db: TestDb) {
    let app = spawn_app(db).await;
    let (seller_id, seller) = app.user("seller").await;
    let (_, alice) = app.user("customer").await;
    let (_, bob) = app.user("customer").await;
    let first = create(&app, &seller, phone("First", "phones")).await;
    let second = create(&app, &seller, phone("Second", "phones")).await;
    let (p1, p2) = (first["id"].clone(), second["id"].clone());

    let res = app
        .post_json("/api/v1/wishlist", Some(&alice), json!({"product_id": p1}))
        .await;
    assert_eq!(res.status(), 201);
    let added: Value = res.json().await.expect("json");
    assert_eq!(added["product_id"], p1);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let res = app
        .post_json("/api/v1/wishlist", Some(&alice), json!({"product_id": p1}))
        .await;
    assert_eq!(res.status(), 200, "adding twice is fine");
    let again: Value = res.json().await.expect("json");
    assert_eq!(again, added, "the first add stands");
    let res = app
        .post_json("/api/v1/wishlist", Some(&alice), json!({"product_id": p2}))
        .await;
    assert_eq!(res.status(), 201);

    let list = app.get_json("/api/v1/wishlist", Some(&alice)).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["page"], 1);
    let items = list["items"].as_array().expect("items");
    assert_eq!(items[0]["product_id"], p2, "most recent first");
    assert_eq!(items[1]["product_id"], p1);
    assert_eq!(items[1]["added_at"], added["added_at"]);
    assert_eq!(items[1]["product"]["name"], "First");
    assert_eq!(items[1]["product"]["seller_id"], seller_id);
    assert_eq!(items[1]["product"]["price_min"], 1_250_000);
    let paged = app
        .get_json("/api/v1/wishlist?page=2&page_size=1", Some(&alice))
        .await;
    assert_eq!(paged["items"][0]["product_id"], p1);
    assert_eq!(paged["total"], 2);

    // Bob sees only his own list, and removing from his leaves Alice's.
    let list = app.get_json("/api/v1/wishlist", Some(&bob)).await;
    assert_eq!(list["total"], 0);
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/wishlist/{p1}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get_json("/api/v1/wishlist", Some(&alice)).await["total"],
        2
    );

    for _ in 0..2 {
        let res = app
            .send(
                Method::DELETE,
                &format!("/api/v1/wishlist/{p1}"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(res.status(), 204, "removing is idempotent");
    }
    let list = app.get_json("/api/v1/wishlist", Some(&alice)).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["product_id"], p2);

    // Only customers have wishlists.
    assert_problem(app.get("/api/v1/wishlist", None).await, 401, "UNAUTHORIZED").await;
    assert_problem(
        app.get("/api/v1/wishlist", Some(&seller)).await,
        403,
        "FORBIDDEN",
    )
    .await;
    let res = app
        .post_json("/api/v1/wishlist", Some(&seller), json!({"product_id": p1}))
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;
    let res = app
        .post_json(
            "/api/v1/wishlist",
            Some(&alice),
            json!({"product_id": 999_999}),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    app.stop().await;
}

async fn bad_input_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let (_, seller) = app.user("seller").await;
    let (_, customer) = app.user("customer").await;
    let product = create(&app, &seller, phone("Phone", "phones")).await;
    let pid = product["id"].as_i64().expect("id");
    let sku = sku_ids(&product)[0];

    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = phone("Phone", "phones");
        f(&mut body);
        body
    };
    let sku_with = |f: &dyn Fn(&mut Value)| with(&|b| f(&mut b["skus"][0]));
    let many_skus: Vec<Value> = (0..101)
        .map(|i| json!({"sku_code": format!("S{i}"), "option": "o", "price": 1, "stock": 1}))
        .collect();
    let bad_products = [
        with(&|b| {
            b.as_object_mut().expect("obj").remove("name");
        }),
        with(&|b| {
            b.as_object_mut().expect("obj").remove("skus");
        }),
        with(&|b| {
            b.as_object_mut().expect("obj").remove("category");
        }),
        with(&|b| b["name"] = json!("   ")),
        with(&|b| b["name"] = json!(42)),
        with(&|b| b["name"] = json!("n".repeat(201))),
        with(&|b| b["description"] = json!("d".repeat(5001))),
        with(&|b| b["category"] = json!("c".repeat(51))),
        with(&|b| b["skus"] = json!([])),
        with(&|b| b["skus"] = json!("BLK")),
        with(&|b| b["skus"] = json!(many_skus.clone())),
        with(&|b| b["skus"][1]["sku_code"] = json!("BLK-128")),
        with(&|b| b["skus"][1]["currency"] = json!("USD")),
        with(&|b| b["surprise"] = json!(true)),
        with(&|b| {
            b["sale"] =
                json!({"opens_at": "2030-01-02T00:00:00Z", "closes_at": "2030-01-01T00:00:00Z"})
        }),
        with(&|b| b["sale"] = json!({"opens_at": "tomorrow"})),
        with(&|b| b["sale"] = json!({"per_user_limit": 0})),
        with(&|b| b["sale"] = json!({"per_user_limit": -1})),
        sku_with(&|s| s["price"] = json!(-1)),
        sku_with(&|s| s["price"] = json!("1000")),
        sku_with(&|s| s["price"] = json!(1.5)),
        sku_with(&|s| s["price"] = json!(1_000_000_000_001_i64)),
        sku_with(&|s| s["price"] = json!(u64::MAX)),
        sku_with(&|s| s["stock"] = json!(-1)),
        sku_with(&|s| s["stock"] = json!(1_000_000_001)),
        sku_with(&|s| {
            s.as_object_mut().expect("obj").remove("stock");
        }),
        sku_with(&|s| s["sku_code"] = json!("c".repeat(65))),
        sku_with(&|s| s["sku_code"] = json!("")),
        sku_with(&|s| s["option"] = json!("o".repeat(101))),
        sku_with(&|s| s["option"] = json!(null)),
        sku_with(&|s| s["currency"] = json!("krw")),
        sku_with(&|s| s["colour"] = json!("red")),
    ];
    for body in bad_products {
        let res = app
            .post_json("/api/v1/products", Some(&seller), body.clone())
            .await;
        let status = res.status();
        assert_eq!(status, 400, "{body}");
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    // Limits are inclusive.
    let edge = with(&|b| {
        b["name"] = json!("n".repeat(200));
        b["description"] = json!("d".repeat(5000));
        b["category"] = json!("c".repeat(50));
        b["skus"][0]["sku_code"] = json!("c".repeat(64));
        b["skus"][0]["option"] = json!("o".repeat(100));
        b["skus"][0]["price"] = json!(1_000_000_000_000_i64);
        b["skus"][0]["stock"] = json!(1_000_000_000);
        b["skus"][1]["price"] = json!(0);
    });
    create(&app, &seller, edge).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM products").await, 2);

    let products = app.url("/api/v1/products");
    let raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(&products)
            .bearer_auth(&seller)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let res = raw(r#"{"name": "Phone", "#, "application/json")
        .await
        .expect("post");
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = raw("name=Phone", "application/x-www-form-urlencoded")
        .await
        .expect("post");
    assert_problem(res, 415, "VALIDATION_FAILED").await;
    let huge = json!({"name": "x".repeat(100_000), "category": "c", "skus": []});
    let res = app.post_json("/api/v1/products", Some(&seller), huge).await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;

    for query in [
        "page_size=0",
        "page_size=1000",
        "page_size=-1",
        "page=0",
        "page=abc",
        "page=",
        "seller_id=abc",
        "sort=price",
        &format!("q={}", "q".repeat(201)),
    ] {
        let res = app.get(&format!("/api/v1/products?{query}"), None).await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let edge = app.get_json("/api/v1/products?page_size=100", None).await;
    assert_eq!(edge["page_size"], 100);

    for path in [
        "/api/v1/products/abc",
        "/api/v1/products/99999999999999999999",
    ] {
        assert_problem(app.get(path, None).await, 400, "VALIDATION_FAILED").await;
    }
    assert_problem(
        app.get("/api/v1/products/999999", None).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let res = app
        .send(
            Method::DELETE,
            "/api/v1/products/999999",
            Some(&seller),
            None,
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;

    for body in [
        json!({"name": null}),
        json!({"category": null}),
        json!({"name": ""}),
        json!({"name": "n".repeat(201)}),
        json!({"skus": [{"id": sku, "price": -5}]}),
        json!({"skus": [{"id": sku, "price": 1}, {"id": sku, "price": 2}]}),
        json!({"skus": [{"id": sku}]}),
        json!({"sale": {"per_user_limit": 0}}),
        json!({"stock": 5}),
        json!("name"),
    ] {
        let res = patch(&app, pid, &seller, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let res = patch(&app, 999_999, &seller, json!({"name": "x"})).await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let other = create(&app, &seller, phone("Other", "phones")).await;
    let foreign_sku = sku_ids(&other)[0];
    let res = patch(
        &app,
        pid,
        &seller,
        json!({"skus": [{"id": foreign_sku, "price": 1}]}),
    )
    .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let unchanged = app
        .get_json(&format!("/api/v1/products/{}", other["id"]), None)
        .await;
    assert_eq!(unchanged["skus"][0]["price"], 1_250_000);
    // `null` clears the description; an empty patch changes nothing.
    let res = patch(&app, pid, &seller, json!({"description": null})).await;
    assert_eq!(res.status(), 200);
    let res = patch(&app, pid, &seller, json!({})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert!(body["description"].is_null());
    assert_eq!(body["name"], "Phone");

    let restock = format!("/api/v1/skus/{sku}/restock");
    for body in [
        json!({"quantity": 0}),
        json!({"quantity": -5}),
        json!({"quantity": 1_000_000_001}),
        json!({"quantity": "5"}),
        json!({}),
        json!({"quantity": 1, "note": "x"}),
    ] {
        let res = app.post_json(&restock, Some(&seller), body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let res = app
        .post_json(
            "/api/v1/skus/999999/restock",
            Some(&seller),
            json!({"quantity": 1}),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .client
        .post(app.url(&restock))
        .bearer_auth(&seller)
        .header("content-type", "text/plain")
        .body("5")
        .send()
        .await
        .expect("post");
    assert_problem(res, 415, "VALIDATION_FAILED").await;

    for body in [
        json!({"product_id": "x"}),
        json!({}),
        json!({"product_id": 1, "x": 1}),
    ] {
        let res = app
            .post_json("/api/v1/wishlist", Some(&customer), body.clone())
            .await;
        assert_eq!(res.status(), 400, "{body}");
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let res = app
        .send(
            Method::DELETE,
            "/api/v1/wishlist/abc",
            Some(&customer),
            None,
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    for query in ["page_size=0", "page_size=101", "page=0", "q=x"] {
        let res = app
            .get(&format!("/api/v1/wishlist?{query}"), Some(&customer))
            .await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    app.stop().await;
}

async fn openapi_documents_the_catalog(db: TestDb) {
    let app = spawn_app(db).await;
    let doc = app.get_json("/openapi.json", None).await;
    let routes = [
        ("/api/v1/products", "post", true),
        ("/api/v1/products", "get", false),
        ("/api/v1/products/{id}", "get", false),
        ("/api/v1/products/{id}", "patch", true),
        ("/api/v1/products/{id}", "delete", true),
        ("/api/v1/skus/{id}/restock", "post", true),
        ("/api/v1/wishlist", "get", true),
        ("/api/v1/wishlist", "post", true),
        ("/api/v1/wishlist/{product_id}", "delete", true),
    ];
    let mut seen = HashSet::new();
    for (path, method, secured) in routes {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        assert_eq!(
            op["security"].is_array(),
            secured,
            "{method} {path} security"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(responses.contains_key("400"), "{method} {path}: 400");
        if secured {
            assert!(responses.contains_key("401"), "{method} {path}: 401");
            assert!(responses.contains_key("403"), "{method} {path}: 403");
        }
        seen.insert(path);
    }
    for schema in [
        "CreateProductRequest",
        "PatchProductRequest",
        "ProductView",
        "ProductList",
        "ProductSummary",
        "RestockResponse",
        "WishlistPage",
        "AddToWishlist",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} schema missing"
        );
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/products"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        params,
        [
            "q",
            "category",
            "category_id",
            "seller_id",
            "page",
            "page_size"
        ]
    );
    assert_eq!(seen.len(), 5);
    app.stop().await;
}

on_both_stores!(
    seller_creates_a_product,
    product_creation_is_atomic,
    anyone_lists_searches_and_paginates,
    detail_shows_live_availability,
    only_owners_manage_products,
    soft_delete_hides_everywhere,
    sale_rules_reach_the_actors,
    cache_never_serves_a_stale_price,
    wishlist_is_idempotent_and_private,
    bad_input_is_refused,
    openapi_documents_the_catalog,
);
