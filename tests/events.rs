//! Events out to a real NATS JetStream: the outbox written in the same
//! transactions as the changes, relayed in order, each event id once in the
//! stream, through a SIGKILL of stampede between commit and publish and a
//! broker stopped and started again in the middle of a drop. Without a
//! broker, the same events are read at the admin feed.

mod common;

use common::nats::{Channel, PrivateNats, Stored, delete_stream, read_stream, shared_url};
use common::process::{self, free_port, post, start_binary};
use common::{TestApp, TestDb, USER_PASSWORD, app_settings, assert_problem, fast_orders};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// Outbox rows in `seq` order: (event id, type, subject, published).
async fn outbox(pool: &sqlx::AnyPool) -> Vec<(String, String, String, bool)> {
    let rows: Vec<(String, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT event_id, event_type, subject, published_at FROM outbox ORDER BY seq",
    )
    .fetch_all(pool)
    .await
    .expect("outbox rows");
    rows.into_iter()
        .map(|(id, t, s, p)| (id, t, s, p.is_some()))
        .collect()
}

/// Waits until every outbox row is published and no new one came for a
/// while; answers the rows.
async fn until_all_published(
    pool: &sqlx::AnyPool,
    within: Duration,
) -> Vec<(String, String, String, bool)> {
    let deadline = Instant::now() + within;
    let mut last = 0;
    let mut still_since = Instant::now();
    loop {
        let rows = outbox(pool).await;
        let waiting = rows.iter().filter(|r| !r.3).count();
        if rows.len() != last {
            last = rows.len();
            still_since = Instant::now();
        }
        if waiting == 0 && still_since.elapsed() > Duration::from_millis(600) {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} of {} outbox events still unpublished after {within:?}",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The stream holds exactly the outbox's events, each once, in outbox
/// order, each under its own id and the subject its type names.
fn assert_stream_is_the_outbox(
    stream: &[Stored],
    rows: &[(String, String, String, bool)],
    prefix: &str,
) {
    let ids: Vec<&str> = stream.iter().map(|m| m.msg_id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "an event id appears twice in the stream"
    );
    let expected: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        ids.len(),
        expected.len(),
        "stream and outbox hold different counts"
    );
    assert_eq!(ids, expected, "the stream is not in outbox order");
    for m in stream {
        assert_eq!(
            m.event["id"],
            m.msg_id.as_str(),
            "Nats-Msg-Id is the event id"
        );
        assert_eq!(m.event["specversion"], "1.0");
        let kind = m.event["type"].as_str().expect("type");
        let suffix = kind
            .strip_prefix("stampede.")
            .expect("stampede.<area>.<event>");
        assert_eq!(m.subject, format!("{prefix}.{suffix}"));
        assert!(m.event["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(m.event["source"].is_string() && m.event["subject"].is_string());
        assert!(
            m.event["dataschema"]
                .as_str()
                .is_some_and(|s| s.ends_with(":v1"))
        );
    }
}

/// The types of the stream's events about `subject`, in stream order.
fn types_of(stream: &[Stored], subject: &str) -> Vec<String> {
    stream
        .iter()
        .filter(|m| m.event["subject"] == subject)
        .map(|m| {
            m.event["type"]
                .as_str()
                .unwrap_or_default()
                .replace("stampede.", "")
        })
        .collect()
}

async fn until_status(app: &TestApp, token: &str, id: &str, status: &str) {
    for _ in 0..500 {
        let o = app
            .get_json(&format!("/api/v1/orders/{id}"), Some(token))
            .await;
        if o["status"] == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("order {id} never reached {status}");
}

async fn every_event_of_an_order_arrives_once_in_order(db: TestDb) {
    let channel = Channel::fresh("orders");
    let mut s = app_settings(&db);
    fast_orders(&mut s);
    channel.apply(&mut s, &shared_url());
    s.outbox.sale_clock_ms = 50;
    let app = common::spawn_app_with(db, s).await;
    let (seller_id, seller) = app.user("seller").await;
    let (buyer_id, buyer) = app.user("customer").await;
    let skus = app.product(&seller, &[(9_000, 1), (4_000, 1)], None).await;
    // A sale that opens and closes while the test runs.
    let opens = stampede::domain::time::Timestamp::now().plus(Duration::from_millis(300));
    let closes = opens.plus(Duration::from_millis(300));
    let window = json!({"opens_at": opens.to_rfc3339(), "closes_at": closes.to_rfc3339()});
    let timed = app.product(&seller, &[(1_000, 5)], Some(window)).await[0];
    // An account that leaves.
    let (leaver_id, leaver) = app.user("customer").await;
    let res = app
        .send(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&leaver),
            Some(json!({"current_password": USER_PASSWORD})),
        )
        .await;
    assert!(res.status().is_success(), "withdraw: {}", res.status());

    // Delivered: bought, paid, shipped, delivered; its SKU sells out.
    let res = app.buy_one(&buyer, "events-delivered", skus[0]).await;
    assert_eq!(res.status(), 201);
    let delivered = res.json::<Value>().await.expect("order")["order_id"]
        .as_str()
        .expect("id")
        .to_string();
    let paid = app
        .send(
            Method::POST,
            &format!("/api/v1/orders/{delivered}/payment"),
            Some(&buyer),
            None,
        )
        .await;
    assert_eq!(paid.status(), 200);
    until_status(&app, &buyer, &delivered, "DELIVERED").await;

    // Cancelled: its SKU sells out, then is back in stock; then restocked.
    let res = app.buy_one(&buyer, "events-cancelled", skus[1]).await;
    assert_eq!(res.status(), 201);
    let cancelled = res.json::<Value>().await.expect("order")["order_id"]
        .as_str()
        .expect("id")
        .to_string();
    let res = app
        .send(
            Method::POST,
            &format!("/api/v1/orders/{cancelled}/cancel"),
            Some(&buyer),
            None,
        )
        .await;
    assert!(res.status().is_success(), "cancel: {}", res.status());
    until_status(&app, &buyer, &cancelled, "CANCELLED").await;
    let res = app
        .post_json(
            &format!("/api/v1/skus/{}/restock", skus[0]),
            Some(&seller),
            json!({"quantity": 3}),
        )
        .await;
    assert_eq!(res.status(), 200);

    // The sale window has closed by now; its events follow within a tick.
    while stampede::domain::time::Timestamp::now() < closes.plus(Duration::from_millis(200)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = until_all_published(app.store.pool(), Duration::from_secs(20)).await;
    let stream = read_stream(&shared_url(), &channel.stream).await;
    assert_stream_is_the_outbox(&stream, &rows, &channel.prefix);

    assert_eq!(
        types_of(&stream, &format!("skus/{timed}")),
        ["stock.sale_opened", "stock.sale_closed"]
    );
    assert_eq!(
        types_of(&stream, &format!("users/{leaver_id}")),
        ["accounts.signed_up", "accounts.withdrawn"]
    );
    assert_eq!(
        types_of(&stream, &format!("orders/{delivered}")),
        [
            "orders.created",
            "orders.payment_requested",
            "orders.payment_authorized",
            "orders.paid",
            "orders.stock_committed",
            "orders.delivery_requested",
            "orders.shipped",
            "orders.delivered"
        ]
    );
    assert_eq!(
        types_of(&stream, &format!("orders/{cancelled}")),
        ["orders.created", "orders.compensating", "orders.cancelled"]
    );
    assert_eq!(
        types_of(&stream, &format!("skus/{}", skus[0])),
        ["stock.sold_out", "stock.restocked", "stock.back_in_stock"]
    );
    assert_eq!(
        types_of(&stream, &format!("skus/{}", skus[1])),
        ["stock.sold_out", "stock.back_in_stock"]
    );
    for user in [seller_id, buyer_id] {
        assert_eq!(
            types_of(&stream, &format!("users/{user}")),
            ["accounts.signed_up"]
        );
    }

    // The data a warehouse needs, by the schema in docs/events.md.
    let paid = stream
        .iter()
        .find(|m| m.event["type"] == "stampede.orders.paid")
        .expect("a paid event");
    let data = &paid.event["data"];
    assert_eq!(data["order_id"], delivered.as_str());
    assert_eq!(data["buyer_id"], buyer_id);
    assert_eq!(data["status"], "PAID");
    assert_eq!(data["total"], 9_000);
    assert_eq!(data["currency"], "KRW");
    assert_eq!(data["shipping_address"], "Seoul, Gangnam-gu 1");
    assert_eq!(data["items"][0]["sku_id"], skus[0]);
    assert_eq!(data["items"][0]["quantity"], 1);
    let restocked = stream
        .iter()
        .find(|m| m.event["type"] == "stampede.stock.restocked")
        .expect("a restock event");
    assert_eq!(restocked.event["data"]["added"], 3);
    assert_eq!(restocked.event["data"]["available"], 3);

    let admin = app.admin_token().await;
    let view = app.get_json("/api/v1/admin/outbox", Some(&admin)).await;
    assert_eq!(view["broker"], "up");
    assert_eq!(view["pending"], 0);
    assert!(
        view["published"]
            .as_u64()
            .is_some_and(|n| n as usize == rows.len())
    );
    app.stop().await;
    delete_stream(&shared_url(), &channel.stream).await;
}

on_both_stores!(every_event_of_an_order_arrives_once_in_order);

/// Env for the binary: fast providers, purchases paid at once.
const FAST: &[(&str, &str)] = &[
    ("STAMPEDE_PAYMENTS_LATENCY_MS", "5"),
    ("STAMPEDE_SHIPMENTS_LATENCY_MS", "5"),
    ("STAMPEDE_SHIPMENTS_SHIP_AFTER_MS", "100"),
    ("STAMPEDE_SHIPMENTS_DELIVER_AFTER_MS", "200"),
    ("STAMPEDE_ORDERS_TRACK_INTERVAL_MS", "50"),
];

async fn start(db: &TestDb, port: u16, extra: &[(&'static str, String)]) -> tokio::process::Child {
    let mut env: Vec<(&str, &str)> = FAST.to_vec();
    env.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    start_binary(&db.url, port, &env).await
}

async fn kill(mut child: tokio::process::Child) {
    child.start_kill().expect("SIGKILL stampede");
    child.wait().await.expect("reap stampede");
}

/// Twenty purchases (half of them paid at once) of a product with stock.
async fn some_purchases(base: &str) {
    let client = reqwest::Client::new();
    let seller = process::account(&client, base, "seller@events.test", "seller").await;
    let product = post(
        &client,
        format!("{base}/api/v1/products"),
        Some(&seller),
        json!({"name": "Drop", "category": "drops",
               "skus": [{"sku_code": "A", "option": "a", "price": 1000, "stock": 15}]}),
    )
    .await;
    let sku = product["skus"][0]["id"].as_i64().expect("sku");
    let mut tasks = Vec::new();
    for b in 0..4 {
        let buyer = process::account(&client, base, &format!("b{b}@events.test"), "customer").await;
        for n in 0..5 {
            let (client, base, buyer) = (client.clone(), base.to_string(), buyer.clone());
            tasks.push(tokio::spawn(async move {
                let mut body = json!({"items": [{"sku_id": sku, "quantity": 1}],
                                      "shipping_address": "Seoul"});
                if n % 2 == 0 {
                    body["payment"] = json!({"method": "card"});
                }
                client
                    .post(format!("{base}/api/v1/orders"))
                    .bearer_auth(&buyer)
                    .header("Idempotency-Key", format!("k{n}"))
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }));
        }
    }
    let mut placed = 0;
    for t in tasks {
        if t.await.expect("join").is_ok_and(|s| s == 201) {
            placed += 1;
        }
    }
    assert_eq!(placed, 15, "exactly the stock was placed");
}

/// Committed events outlive a SIGKILL before their publish, and events
/// published but not yet marked when the process died are published again
/// without a second copy in the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_between_commit_and_publish_loses_and_repeats_nothing() {
    let db = TestDb::mysql("events_sigkill").await;
    let channel = Channel::fresh("sigkill");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // A broker nobody listens at: every event stays in the outbox.
    let nowhere = format!("nats://127.0.0.1:{}", free_port());
    let child = start(&db, port, &channel.env(&nowhere)).await;
    some_purchases(&base).await;
    let store = db.store().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = outbox(store.pool()).await;
    assert!(before.len() > 20, "events were committed: {}", before.len());
    assert!(
        before.iter().all(|r| !r.3),
        "nothing can have been published"
    );
    kill(child).await;

    // Back with the broker: everything committed before the kill goes out.
    let child = start(&db, port, &channel.env(&shared_url())).await;
    let rows = until_all_published(store.pool(), Duration::from_secs(30)).await;
    let ids: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(
        before.iter().all(|r| ids.contains(r.0.as_str())),
        "an event was lost"
    );
    let stream = read_stream(&shared_url(), &channel.stream).await;
    assert_stream_is_the_outbox(&stream, &rows, &channel.prefix);
    kill(child).await;

    // Killed after publishing and before marking: the rows look unpublished.
    sqlx::query("UPDATE outbox SET published_at = NULL")
        .execute(store.pool())
        .await
        .expect("unmark");
    let child = start(&db, port, &channel.env(&shared_url())).await;
    let again = until_all_published(store.pool(), Duration::from_secs(30)).await;
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let repeated: f64 = metrics
        .lines()
        .find(|l| l.starts_with("stampede_outbox_published_total{duplicate=\"true\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    assert!(
        repeated >= rows.len() as f64,
        "every row was published again ({repeated} repeats for {} rows)",
        rows.len()
    );
    let stream = read_stream(&shared_url(), &channel.stream).await;
    assert_stream_is_the_outbox(&stream, &again, &channel.prefix);
    kill(child).await;
    delete_stream(&shared_url(), &channel.stream).await;
}

/// nats-server killed in the middle of a drop and started again: the shop
/// keeps selling while events wait, then every one arrives, in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_restart_mid_drop_loses_nothing() {
    let mut nats = PrivateNats::start().await;
    let db = TestDb::mysql("events_broker_restart").await;
    let channel = Channel::fresh("restart");
    let mut s = app_settings(&db);
    fast_orders(&mut s);
    channel.apply(&mut s, &nats.url());
    let app = std::sync::Arc::new(common::spawn_app_with(db, s).await);
    let (_, seller) = app.user("seller").await;
    let skus = app.product(&seller, &[(1_000, 150)], None).await;
    let sku = skus[0];
    let mut buyers = Vec::new();
    for _ in 0..20 {
        buyers.push(app.user("customer").await.1);
    }
    let admin = app.admin_token().await;

    // 400 purchases from 20 buyers, all at once.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let placed_while_down = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..400 {
        let (app, token) = (app.clone(), buyers[n % buyers.len()].clone());
        let (answered, placed_while_down, down) =
            (answered.clone(), placed_while_down.clone(), down.clone());
        tasks.push(tokio::spawn(async move {
            // Spread over about two seconds, so the kill lands mid-drop.
            tokio::time::sleep(Duration::from_millis((n as u64 % 100) * 20)).await;
            let status = app
                .buy_one(&token, &format!("drop-{n}"), sku)
                .await
                .status();
            answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if status == 201 && down.load(std::sync::atomic::Ordering::Relaxed) {
                placed_while_down.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            status.as_u16()
        }));
    }
    while answered.load(std::sync::atomic::Ordering::Relaxed) < 60 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nats.kill().await;
    down.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for t in tasks {
        *statuses.entry(t.await.expect("join")).or_default() += 1;
    }
    assert_eq!(
        statuses.get(&201),
        Some(&150),
        "exactly the stock sold: {statuses:?}"
    );
    assert!(
        placed_while_down.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the shop kept selling while the broker was down"
    );
    // The relay noticed, and the events wait.
    let mut seen_down = false;
    for _ in 0..100 {
        let view = app.get_json("/api/v1/admin/outbox", Some(&admin)).await;
        if view["broker"] == "down" && view["pending"].as_u64().is_some_and(|n| n > 0) {
            seen_down = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen_down,
        "/admin/outbox showed the broker down with events waiting"
    );

    nats.restart().await;
    let rows = until_all_published(app.store.pool(), Duration::from_secs(60)).await;
    let stream = read_stream(&nats.url(), &channel.stream).await;
    assert_stream_is_the_outbox(&stream, &rows, &channel.prefix);
    let created = stream
        .iter()
        .filter(|m| m.event["type"] == "stampede.orders.created")
        .count();
    assert_eq!(created, 150, "one created event per placed order");
    let view = app.get_json("/api/v1/admin/outbox", Some(&admin)).await;
    assert_eq!(view["broker"], "up");
    assert_eq!(view["pending"], 0);
    match std::sync::Arc::try_unwrap(app) {
        Ok(app) => {
            app.stop().await;
        }
        Err(_) => panic!("the app is still shared"),
    }
}

/// Without a broker the outbox is still written, and admins read it as a
/// feed; a sale window opening is announced by the sale clock.
async fn without_a_broker_events_are_read_at_the_feed(db: TestDb) {
    let mut s = app_settings(&db);
    s.outbox.sale_clock_ms = 50;
    let app = common::spawn_app_with(db, s).await;
    let admin = app.admin_token().await;
    let (seller_id, seller) = app.user("seller").await;
    let opens = stampede::domain::time::Timestamp::now().plus(Duration::from_millis(300));
    let skus = app
        .product(
            &seller,
            &[(1_000, 5)],
            Some(json!({"opens_at": opens.to_rfc3339()})),
        )
        .await;

    let view = app.get_json("/api/v1/admin/outbox", Some(&admin)).await;
    assert_eq!(view["broker"], "unconfigured");

    let subject = format!("skus/{}", skus[0]);
    let mut feed = Vec::new();
    for _ in 0..100 {
        let page = app
            .get_json("/api/v1/admin/events?after=0&limit=500", Some(&admin))
            .await;
        feed = page["events"].as_array().expect("events").clone();
        if feed
            .iter()
            .any(|e| e["event"]["subject"] == subject.as_str())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let opened = feed
        .iter()
        .find(|e| e["event"]["subject"] == subject.as_str())
        .unwrap_or_else(|| panic!("no sale_opened in {feed:?}"));
    assert_eq!(opened["event"]["type"], "stampede.stock.sale_opened");
    assert_eq!(opened["event"]["time"], opens.to_rfc3339());
    assert!(opened["published_at"].is_null());
    let signed_up = feed
        .iter()
        .find(|e| e["event"]["subject"] == format!("users/{seller_id}").as_str())
        .expect("the seller's signup");
    assert_eq!(signed_up["event"]["type"], "stampede.accounts.signed_up");
    assert_eq!(signed_up["event"]["data"]["role"], "seller");

    // Paging: one at a time, each page starting after the last.
    let first = app
        .get_json("/api/v1/admin/events?limit=1", Some(&admin))
        .await;
    let next = first["next_after"].as_i64().expect("next_after");
    assert_eq!(first["events"][0]["seq"], next);
    let second = app
        .get_json(
            &format!("/api/v1/admin/events?after={next}&limit=1"),
            Some(&admin),
        )
        .await;
    assert!(
        second["events"][0]["seq"]
            .as_i64()
            .is_some_and(|s| s > next)
    );

    // Withdrawal is an event too.
    let res = app
        .send(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&seller),
            Some(json!({"current_password": USER_PASSWORD})),
        )
        .await;
    assert!(res.status().is_success(), "withdraw: {}", res.status());
    let all = app
        .get_json("/api/v1/admin/events?limit=500", Some(&admin))
        .await;
    assert!(all["events"].as_array().expect("events").iter().any(|e| {
        e["event"]["type"] == "stampede.accounts.withdrawn"
            && e["event"]["subject"] == format!("users/{seller_id}").as_str()
    }));

    for bad in ["limit=0", "limit=501", "after=-1", "limit=x"] {
        let res = app
            .get(&format!("/api/v1/admin/events?{bad}"), Some(&admin))
            .await;
        assert_problem(res, 400, "VALIDATION_FAILED").await;
    }
    let (_, customer) = app.user("customer").await;
    let res = app.get("/api/v1/admin/events", Some(&customer)).await;
    assert_problem(res, 403, "FORBIDDEN").await;
    app.stop().await;
}

on_both_stores!(without_a_broker_events_are_read_at_the_feed);
