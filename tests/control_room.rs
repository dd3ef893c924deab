//! The control room in a real browser: headless Debian Chromium, driven
//! over the DevTools protocol (chromiumoxide, no downloaded browser), opens
//! `/admin` on the real app, signs in through the form, watches a small
//! drop, and the numbers it shows must match the API at the end: sold,
//! reserved and available for the SKU (`/skus/{id}/availability`), live
//! sagas by state (`/admin/sagas`).
//!
//! The browser is `STAMPEDE_TEST_CHROMIUM` (default `/usr/bin/chromium`;
//! `scripts/test.sh` installs Debian's `chromium`). Without it the test
//! fails and says so. With `STAMPEDE_TEST_SCREENSHOT=FILE` it also runs a
//! bigger drop and saves a screenshot of the page during it to FILE (that
//! is how `docs/control-room.png` is made).

mod common;

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::page::ScreenshotParams;
use common::browser::{Chromium, chromium, eval, sign_in, wait_for};
use common::{TestApp, TestDb, app_settings, fast_orders};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The live (non-final) order statuses the page lists.
const LIVE_STATUSES: [&str; 5] = ["PENDING", "AWAITING_PAYMENT", "PAID", "SHIPPING", "SHIPPED"];

/// What the page shows for `sku` and the live sagas, read from the DOM.
async fn shown(page: &Page, sku: i64) -> Value {
    eval(
        page,
        &format!(
            r#"(() => {{
                const row = document.querySelector('#sku-rows tr[data-sku="{sku}"]');
                const live = {{}};
                for (const dd of document.querySelectorAll('#orders-live dd[data-status]'))
                    live[dd.dataset.status] = Number(dd.dataset.count);
                const cell = (f) => row && row.querySelector(`[data-field="${{f}}"]`).textContent;
                return {{
                    sku: row ? {{ available: Number(row.dataset.available),
                                 reserved: Number(row.dataset.reserved),
                                 sold: Number(row.dataset.sold),
                                 text: [cell("available"), cell("reserved"), cell("sold")] }} : null,
                    live,
                    seq: Number(document.getElementById('room').dataset.seq),
                }};
            }})()"#
        ),
    )
    .await
}

/// The API's answer: the SKU's availability and live sagas by status.
async fn api(app: &TestApp, admin: &str, sku: i64) -> Value {
    let a = app
        .get_json(&format!("/api/v1/skus/{sku}/availability"), None)
        .await;
    let sagas = app.get_json("/api/v1/admin/sagas", Some(admin)).await;
    let mut live: BTreeMap<&str, i64> = LIVE_STATUSES.iter().map(|s| (*s, 0)).collect();
    for saga in sagas["sagas"].as_array().expect("sagas") {
        if let Some(n) = saga["status"].as_str().and_then(|s| live.get_mut(s)) {
            *n += 1;
        }
    }
    json!({
        "sku": {"available": a["available"], "reserved": a["reserved"], "sold": a["sold"]},
        "live": live,
    })
}

/// A placed order and the index of its buyer.
type Placed = (String, usize);

/// Buys one unit each, `buyers` at once; answers the 201s and the count
/// of 409s.
async fn burst(app: &TestApp, buyers: &[String], sku: i64, round: usize) -> (Vec<Placed>, usize) {
    let tries = buyers.iter().enumerate().map(|(i, token)| async move {
        let res = app
            .buy_one(token, &format!("drop-{sku}-{round}-{i}"), sku)
            .await;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        (
            status,
            body["order_id"].as_str().map(|id| (id.to_owned(), i)),
        )
    });
    let answers = futures::future::join_all(tries).await;
    let placed = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .filter_map(|(_, id)| id.clone())
        .collect();
    let refused = answers.iter().filter(|(s, _)| *s == 409).count();
    assert!(
        answers.iter().all(|(s, _)| *s == 201 || *s == 409),
        "every purchase is placed or refused: {:?}",
        answers.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    (placed, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_page_shows_what_the_api_says_after_a_drop() {
    chromium();
    let db = TestDb::sqlite().await;
    let mut settings = app_settings(&db);
    fast_orders(&mut settings);
    let app = common::spawn_app_with(db, settings).await;
    let admin = app.admin_token().await;
    let (_, seller) = app.user("seller").await;
    let sku = app.product(&seller, &[(15_000, 12)], None).await[0];
    let mut buyers = Vec::new();
    for _ in 0..8 {
        buyers.push(app.user("customer").await.1);
    }

    let chromium = Chromium::launch().await;
    let page = sign_in(
        &chromium.browser,
        &app.url(""),
        common::ADMIN_EMAIL,
        common::ADMIN_PASSWORD,
    )
    .await;

    // 8 buyers twice at once on 12 units: 12 placed, 4 out of stock.
    let (mut placed, mut refused) = burst(&app, &buyers, sku, 0).await;
    let (more, more_refused) = burst(&app, &buyers, sku, 1).await;
    placed.extend(more);
    refused += more_refused;
    assert_eq!((placed.len(), refused), (12, 4));
    // A third of the orders are paid (they ship and are delivered); the
    // rest wait for payment, holding their units as reserved.
    pay_some(&app, &buyers, &placed).await;

    // The page settles on what the API says.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (page_view, api_view) = loop {
        let expected = api(&app, &admin, sku).await;
        let seen = shown(&page, sku).await;
        let same = seen["sku"]["available"] == expected["sku"]["available"]
            && seen["sku"]["reserved"] == expected["sku"]["reserved"]
            && seen["sku"]["sold"] == expected["sku"]["sold"]
            && LIVE_STATUSES
                .iter()
                .all(|s| seen["live"][*s] == expected["live"][*s]);
        let settled = expected["live"]["PAID"] == 0
            && expected["live"]["SHIPPING"] == 0
            && expected["live"]["SHIPPED"] == 0;
        if same && settled {
            break (seen, expected);
        }
        assert!(
            Instant::now() < deadline,
            "the page does not match the API\npage: {seen}\napi:  {expected}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The cluster panel says this is one process.
    wait_for(
        &page,
        "document.getElementById('cluster-mode').textContent.startsWith('single process')",
        Duration::from_secs(10),
    )
    .await;
    // Sold + reserved + available is the stock; what was paid is sold.
    let sku_view = &api_view["sku"];
    assert_eq!(sku_view["sold"], 4, "{api_view}");
    assert_eq!(sku_view["reserved"], 8, "{api_view}");
    assert_eq!(sku_view["available"], 0, "{api_view}");
    assert_eq!(api_view["live"]["AWAITING_PAYMENT"], 8, "{api_view}");
    // The cells people read say the same as the data attributes.
    assert_eq!(
        page_view["sku"]["text"],
        json!(["0", "8", "4"]),
        "{page_view}"
    );

    if let Ok(file) = std::env::var("STAMPEDE_TEST_SCREENSHOT") {
        screenshot_during_a_bigger_drop(&app, &seller, &page, &file).await;
    }
    chromium.close().await;
    app.stop().await;
}

/// Pays every third placed order, as its buyer.
async fn pay_some(app: &TestApp, buyers: &[String], placed: &[Placed]) {
    for (order, buyer) in placed.iter().step_by(3) {
        let res = app
            .post_json(
                &format!("/api/v1/orders/{order}/payment"),
                Some(&buyers[*buyer]),
                json!({}),
            )
            .await;
        assert!(res.status().is_success(), "pay {order}: {}", res.status());
    }
}

/// A bigger drop on three SKUs: one sells out, one binds its per-user
/// limit while it sells, one is not on sale yet (its countdown runs). The
/// page is photographed in the middle of it.
async fn screenshot_during_a_bigger_drop(app: &TestApp, seller: &str, page: &Page, file: &str) {
    let opens = chrono::Utc::now() + chrono::Duration::minutes(12);
    let later = app
        .product(
            seller,
            &[(99_000, 500)],
            Some(json!({"opens_at": opens.to_rfc3339(), "per_user_limit": 2})),
        )
        .await[0];
    // Its actor wakes up for this read, so the page shows its countdown.
    app.get_json(&format!("/api/v1/skus/{later}/availability"), None)
        .await;
    let limited = app
        .product(
            seller,
            &[(21_000, 2_000)],
            Some(json!({"per_user_limit": 60})),
        )
        .await[0];
    let scarce = app.product(seller, &[(15_000, 400)], None).await[0];
    let mut buyers = Vec::new();
    for _ in 0..24 {
        buyers.push(app.user("customer").await.1);
    }
    let started = Instant::now();
    let mut round = 100;
    let mut png = None;
    while started.elapsed() < Duration::from_secs(12) {
        let waves = [limited, scarce].map(|sku| burst(app, &buyers, sku, round));
        let placed: Vec<(Vec<Placed>, usize)> = futures::future::join_all(waves).await;
        for (orders, _) in &placed {
            pay_some(app, &buyers, &orders[..orders.len().min(6)]).await;
        }
        round += 1;
        if png.is_none() && started.elapsed() > Duration::from_secs(8) {
            png = Some(
                page.screenshot(
                    ScreenshotParams::builder()
                        .format(CaptureScreenshotFormat::Png)
                        .full_page(true)
                        .build(),
                )
                .await
                .expect("screenshot"),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::write(file, png.expect("a screenshot was taken")).expect("write screenshot");
}
