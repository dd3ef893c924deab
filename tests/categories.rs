//! The category tree over real HTTP on both stores: admins create, rename,
//! move and delete; anyone reads the tree; moves that would make a cycle
//! are refused; products belong to a category and the listing filters by a
//! category and everything below it, before and after a move.

mod common;

use common::{TestApp, TestDb, assert_problem, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

async fn create(app: &TestApp, token: &str, name: &str, parent: Option<i64>) -> i64 {
    let res = app
        .post_json(
            "/api/v1/categories",
            Some(token),
            json!({"name": name, "parent_id": parent}),
        )
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let body: Value = res.json().await.expect("category");
    assert_eq!(body["name"], name);
    assert_eq!(body["parent_id"], json!(parent));
    body["id"].as_i64().expect("id")
}

async fn patch(app: &TestApp, token: Option<&str>, id: i64, body: Value) -> reqwest::Response {
    app.send(
        Method::PATCH,
        &format!("/api/v1/categories/{id}"),
        token,
        Some(body),
    )
    .await
}

async fn product(app: &TestApp, token: &str, name: &str, category_id: Option<i64>) -> Value {
    let mut body = json!({"name": name,
        "skus": [{"sku_code": "S", "option": "One", "price": 1000, "stock": 1}]});
    match category_id {
        Some(id) => body["category_id"] = json!(id),
        None => body["category"] = json!("misc"),
    }
    let res = app.post_json("/api/v1/products", Some(token), body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json().await.expect("product")
}

async fn names_in(app: &TestApp, category: i64) -> Vec<String> {
    let list = app
        .get_json(&format!("/api/v1/products?category_id={category}"), None)
        .await;
    let mut names: Vec<String> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect();
    names.sort();
    assert_eq!(list["total"], names.len());
    names
}

/// `(name, children)` of the tree, for comparisons.
fn shape(nodes: &Value) -> Value {
    Value::Array(
        nodes
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| json!([n["name"], shape(&n["children"])]))
            .collect(),
    )
}

async fn admins_manage_the_tree(db: TestDb) {
    let app = spawn_app(db).await;
    let admin = app.admin_token().await;
    let (_, seller) = app.user("seller").await;
    let electronics = create(&app, &admin, "Electronics", None).await;
    let phones = create(&app, &admin, "Phones", Some(electronics)).await;
    let android = create(&app, &admin, "Android", Some(phones)).await;
    let books = create(&app, &admin, "Books", None).await;
    let tree = app.get_json("/api/v1/categories", None).await;
    assert_eq!(
        shape(&tree),
        json!([
            ["Books", []],
            ["Electronics", [["Phones", [["Android", []]]]]]
        ])
    );
    assert_eq!(tree[1]["children"][0]["id"], phones);
    assert_eq!(tree[1]["children"][0]["parent_id"], electronics);

    // Only admins write; anyone reads.
    let body = json!({"name": "Toys"});
    let res = app
        .post_json("/api/v1/categories", None, body.clone())
        .await;
    assert_problem(res, 401, "UNAUTHORIZED").await;
    let res = app
        .post_json("/api/v1/categories", Some(&seller), body)
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;
    assert_problem(
        patch(&app, Some(&seller), books, json!({"name": "B"})).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_problem(
        patch(&app, None, books, json!({"name": "B"})).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/categories/{books}"),
            Some(&seller),
            None,
        )
        .await;
    assert_problem(res, 403, "FORBIDDEN").await;

    // Bad input.
    for bad in [
        json!({"name": ""}),
        json!({"name": "n".repeat(51)}),
        json!({"name": "x", "extra": 1}),
        json!({}),
    ] {
        let res = app.post_json("/api/v1/categories", Some(&admin), bad).await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let res = app
        .post_json(
            "/api/v1/categories",
            Some(&admin),
            json!({"name": "Orphan", "parent_id": 999_999}),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    assert_problem(
        patch(&app, Some(&admin), books, json!({})).await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_problem(
        patch(&app, Some(&admin), 999_999, json!({"name": "X"})).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_problem(
        patch(&app, Some(&admin), books, json!({"parent_id": 999_999})).await,
        404,
        "NOT_FOUND",
    )
    .await;

    // No cycles: not under itself, not under a descendant.
    for target in [electronics, phones, android] {
        let res = patch(
            &app,
            Some(&admin),
            electronics,
            json!({"parent_id": target}),
        )
        .await;
        assert_problem(res, 409, "CONFLICT").await;
    }
    // Rename, and move a subtree.
    let res = patch(
        &app,
        Some(&admin),
        phones,
        json!({"name": "Mobiles", "parent_id": books}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let moved: Value = res.json().await.expect("category");
    assert_eq!(moved["name"], "Mobiles");
    assert_eq!(moved["parent_id"], books);
    let tree = app.get_json("/api/v1/categories", None).await;
    assert_eq!(
        shape(&tree),
        json!([
            ["Books", [["Mobiles", [["Android", []]]]]],
            ["Electronics", []]
        ])
    );
    // Now Books may not go under Android, but Electronics may.
    let res = patch(&app, Some(&admin), books, json!({"parent_id": android})).await;
    assert_problem(res, 409, "CONFLICT").await;
    assert_eq!(
        patch(
            &app,
            Some(&admin),
            electronics,
            json!({"parent_id": android})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        patch(&app, Some(&admin), electronics, json!({"parent_id": null}))
            .await
            .status(),
        200
    );

    // Too deep a tree is refused.
    let mut parent = electronics;
    for level in 2..=10 {
        parent = create(&app, &admin, &format!("Level {level}"), Some(parent)).await;
    }
    let res = app
        .post_json(
            "/api/v1/categories",
            Some(&admin),
            json!({"name": "Too deep", "parent_id": parent}),
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    let res = patch(&app, Some(&admin), books, json!({"parent_id": parent})).await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;

    // Delete: refused while it has children or products.
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/categories/{books}"),
            Some(&admin),
            None,
        )
        .await;
    assert_problem(res, 409, "CONFLICT").await;
    let listed = product(&app, &seller, "Novel", Some(android)).await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/categories/{android}"),
            Some(&admin),
            None,
        )
        .await;
    assert_problem(res, 409, "CONFLICT").await;
    let id = listed["id"].as_i64().expect("id");
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/products/{id}"),
            Some(&seller),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/categories/{android}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .send(
            Method::DELETE,
            &format!("/api/v1/categories/{android}"),
            Some(&admin),
            None,
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let tree = app.get_json("/api/v1/categories", None).await;
    assert_eq!(shape(&tree)[0], json!(["Books", [["Mobiles", []]]]));
    app.stop().await;
}

async fn listing_filters_by_category_and_descendants(db: TestDb) {
    let app = spawn_app(db).await;
    let admin = app.admin_token().await;
    let (_, seller) = app.user("seller").await;
    let electronics = create(&app, &admin, "Electronics", None).await;
    let phones = create(&app, &admin, "Phones", Some(electronics)).await;
    let android = create(&app, &admin, "Android", Some(phones)).await;
    let laptops = create(&app, &admin, "Laptops", Some(electronics)).await;
    let books = create(&app, &admin, "Books", None).await;

    // The category's name stands in for the free text when it is left out.
    let galaxy = product(&app, &seller, "Galaxy", Some(android)).await;
    assert_eq!(galaxy["category_id"], android);
    assert_eq!(galaxy["category"], "Android");
    product(&app, &seller, "Feature phone", Some(phones)).await;
    product(&app, &seller, "Notebook", Some(laptops)).await;
    product(&app, &seller, "Novel", Some(books)).await;
    product(&app, &seller, "Loose", None).await;
    // Both texts given: both kept.
    let res = app
        .post_json(
            "/api/v1/products",
            Some(&seller),
            json!({"name": "Pixel", "category": "phones", "category_id": android,
                   "skus": [{"sku_code": "P", "option": "One", "price": 1, "stock": 1}]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let pixel: Value = res.json().await.expect("product");
    assert_eq!(
        (pixel["category"].as_str(), pixel["category_id"].as_i64()),
        (Some("phones"), Some(android))
    );

    assert_eq!(
        names_in(&app, electronics).await,
        ["Feature phone", "Galaxy", "Notebook", "Pixel"]
    );
    assert_eq!(
        names_in(&app, phones).await,
        ["Feature phone", "Galaxy", "Pixel"]
    );
    assert_eq!(names_in(&app, android).await, ["Galaxy", "Pixel"]);
    assert_eq!(names_in(&app, books).await, ["Novel"]);
    assert!(names_in(&app, 999_999).await.is_empty());
    // The free-text filter still works, and combines.
    let list = app.get_json("/api/v1/products?category=phones", None).await;
    assert_eq!(list["total"], 1);
    let list = app
        .get_json(
            &format!("/api/v1/products?category_id={electronics}&q=gal"),
            None,
        )
        .await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["category_id"], android);
    let res = app.get("/api/v1/products?category_id=abc", None).await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;

    // A move takes the subtree's products along (and the cached pages
    // follow).
    let res = patch(&app, Some(&admin), phones, json!({"parent_id": books})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(names_in(&app, electronics).await, ["Notebook"]);
    assert_eq!(
        names_in(&app, books).await,
        ["Feature phone", "Galaxy", "Novel", "Pixel"]
    );

    // A product changes category; an unknown one is refused.
    let id = galaxy["id"].as_i64().expect("id");
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/v1/products/{id}"),
            Some(&seller),
            Some(json!({"category_id": laptops})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("product");
    assert_eq!(body["category_id"], laptops);
    assert_eq!(names_in(&app, electronics).await, ["Galaxy", "Notebook"]);
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/v1/products/{id}"),
            Some(&seller),
            Some(json!({"category_id": 999_999})),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/v1/products/{id}"),
            Some(&seller),
            Some(json!({"category_id": null})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let detail = app.get_json(&format!("/api/v1/products/{id}"), None).await;
    assert_eq!(detail["category_id"], Value::Null);
    assert_eq!(names_in(&app, electronics).await, ["Notebook"]);
    let res = app
        .post_json(
            "/api/v1/products",
            Some(&seller),
            json!({"name": "Ghost", "category_id": 999_999,
                   "skus": [{"sku_code": "G", "option": "One", "price": 1, "stock": 1}]}),
        )
        .await;
    assert_problem(res, 404, "NOT_FOUND").await;
    let res = app
        .post_json(
            "/api/v1/products",
            Some(&seller),
            json!({"name": "Nowhere", "skus": [{"sku_code": "G", "option": "One", "price": 1, "stock": 1}]}),
        )
        .await;
    assert_problem(res, 400, "VALIDATION_FAILED").await;
    app.stop().await;
}

on_both_stores!(
    admins_manage_the_tree,
    listing_filters_by_category_and_descendants
);
