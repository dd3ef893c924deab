//! The pages and the control room's feed over plain HTTP: `/` leads
//! somewhere, `/docs` serves the vendored Swagger UI for `/openapi.json`,
//! `/admin` and its assets come from the binary, the live feed is for
//! admins only, streams snapshots built from the actors' counters, and ends
//! when the server stops. (The page itself, in a browser, is
//! `control_room.rs`.)

mod common;

use common::{TestApp, TestDb, assert_problem, spawn_app};
use serde_json::Value;
use std::time::Duration;

fn content_type(res: &reqwest::Response) -> String {
    res.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn page(app: &TestApp, path: &str, kind: &str) -> String {
    let res = app.get(path, None).await;
    assert_eq!(res.status(), 200, "GET {path}");
    let ct = content_type(&res);
    assert!(ct.starts_with(kind), "GET {path}: {ct}");
    res.text().await.expect("body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_leads_to_the_explorer_the_control_room_and_health() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let html = page(&app, "/", "text/html").await;
    for link in ["/docs/", "/admin", "/health/ready", "/openapi.json"] {
        assert!(
            html.contains(&format!("href=\"{link}\"")),
            "no link to {link}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_serve_swagger_ui_for_our_document_from_the_binary() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = plain.get(app.url("/docs")).send().await.expect("GET /docs");
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/docs/");
    let html = page(&app, "/docs/", "text/html").await;
    assert!(html.contains("swagger-ui"), "{html}");
    let init = app
        .get("/docs/swagger-initializer.js", None)
        .await
        .text()
        .await
        .expect("initializer");
    assert!(init.contains("/openapi.json"), "{init}");
    let bundle = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status(), 200);
    assert_problem(
        app.get("/docs/no-such-file.js", None).await,
        404,
        "NOT_FOUND",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_room_page_and_its_assets_come_from_the_binary() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let html = page(&app, "/admin", "text/html").await;
    assert!(html.contains("id=\"login-form\""));
    assert!(html.contains("/admin/assets/console.js"));
    let res = app.get("/admin", None).await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let js = page(&app, "/admin/assets/console.js", "text/javascript").await;
    assert!(js.contains("/api/v1/admin/live"));
    page(&app, "/admin/assets/console.css", "text/css").await;
    for missing in [
        "/admin/assets/nope.js",
        "/admin/assets/index.html",
        "/admin/assets/..%2Findex.html",
    ] {
        assert_problem(app.get(missing, None).await, 404, "NOT_FOUND").await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_is_for_admins_only() {
    let app = spawn_app(TestDb::sqlite().await).await;
    assert_problem(
        app.get("/api/v1/admin/live", None).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let (_, customer) = app.user("customer").await;
    assert_problem(
        app.get("/api/v1/admin/live", Some(&customer)).await,
        403,
        "FORBIDDEN",
    )
    .await;
    app.stop().await;
}

/// Reads the feed until a snapshot satisfies `done`; answers it.
async fn snapshot_where(res: &mut reqwest::Response, done: impl Fn(&Value) -> bool) -> Value {
    let mut buffer = String::new();
    let read = async {
        loop {
            let chunk = res.chunk().await.expect("read feed").expect("feed ended");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if !frame.starts_with("event: snapshot") {
                    continue;
                }
                let data = frame
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("data line");
                let snapshot: Value = serde_json::from_str(data).expect("snapshot JSON");
                if done(&snapshot) {
                    return snapshot;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), read)
        .await
        .expect("a matching snapshot within 15 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_streams_the_actors_counters() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let admin = app.admin_token().await;
    let (_, seller) = app.user("seller").await;
    let (_, buyer) = app.user("customer").await;
    let sku = app.product(&seller, &[(1_000, 2)], None).await[0];
    let mut res = app.get("/api/v1/admin/live", Some(&admin)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(content_type(&res), "text/event-stream");
    for key in ["a", "b", "c"] {
        app.buy_one(&buyer, key, sku).await;
    }
    let snap = snapshot_where(&mut res, |s| {
        s["skus"].as_array().is_some_and(|skus| {
            skus.iter()
                .any(|k| k["sku_id"] == sku && k["purchases"]["out_of_stock"] == 1)
        })
    })
    .await;
    let row = snap["skus"]
        .as_array()
        .and_then(|skus| skus.iter().find(|k| k["sku_id"] == sku))
        .expect("the SKU");
    assert_eq!(row["reserved"], 2, "{row}");
    assert_eq!(row["available"], 0, "{row}");
    assert_eq!(row["purchases"]["reserved"], 2, "{row}");
    assert_eq!(row["on_sale"], true, "{row}");
    assert_eq!(snap["orders"]["live_total"], 2, "{snap}");
    // No broker configured: the relay only counts what waits in the outbox
    // (the signups and the orders above), from its memory.
    assert_eq!(snap["engine"]["outbox"]["broker"], "unconfigured", "{snap}");
    assert_eq!(snap["engine"]["outbox"]["connected"], false, "{snap}");
    assert!(
        snap["engine"]["batches_committed"].as_u64() > Some(0),
        "{snap}"
    );
    let seconds = snap["requests"].as_array().expect("chart");
    assert!(seconds.len() >= 60, "a few minutes of chart");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_do_not_hold_the_server_up() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let admin = app.admin_token().await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let res = app.get("/api/v1/admin/live", Some(&admin)).await;
        assert_eq!(res.status(), 200);
        streams.push(res);
    }
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(5), app.stop())
        .await
        .expect("the server stops with streams open");
    assert!(started.elapsed() < Duration::from_secs(5));
    for mut s in streams {
        // Each stream ends (cleanly or cut); none hangs.
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(Some(_)) = s.chunk().await {}
        })
        .await;
        assert!(ended.is_ok(), "a stream outlived the server");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_the_pages_and_the_feed() {
    let app = spawn_app(TestDb::sqlite().await).await;
    let doc = app.get_json("/openapi.json", None).await;
    let live = &doc["paths"]["/api/v1/admin/live"]["get"];
    let ok = &live["responses"]["200"]["content"]["text/event-stream"]["schema"]["$ref"];
    assert_eq!(ok, "#/components/schemas/LiveSnapshot", "{live}");
    assert!(doc["components"]["schemas"]["LiveSnapshot"].is_object());
    for path in ["/", "/admin", "/docs/"] {
        assert!(
            doc["paths"][path]["get"]["responses"]["200"]["content"]["text/html"].is_object(),
            "{path} documented as HTML"
        );
    }
    for path in ["/docs", "/docs/{file}", "/admin/assets/{file}"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} documented");
    }
    app.stop().await;
}
