//! Three real stampede processes as one cluster over one MariaDB and one
//! NATS (issue 16): buyers press "buy" on one SKU at its opening, each
//! purchase sent to any of the three nodes; the SKU's shard is owned by one
//! of them, and the other two forward their reserves to it in batches.
//!
//! - spread: exactly the stock is sold, no buyer holds more than the limit
//!   (the owner holds it), every 201 is an order in the database, and the
//!   two other nodes really forwarded;
//! - the owner SIGKILLed mid-drop: another node serves the shard within a
//!   lease and one second, buyers retry with their keys on the survivors,
//!   and the drop still ends with exactly the stock sold and every
//!   acknowledged order found;
//! - the owner SIGSTOPped with decisions waiting for their batch, past its
//!   lease: another node takes the shard and sells; on SIGCONT the stale
//!   owner's batch is refused by the database fence (counted in its
//!   `/metrics`), nothing is oversold and nothing acknowledged is lost;
//! - nats-server SIGKILLed mid-drop and started again: purchases that
//!   needed another node are answered 503 meanwhile and succeed on retry;
//!   nothing is oversold.
//!
//! - sagas: an order's saga runs where its order's shard is; paying on
//!   another node reaches it, and when that node is SIGKILLed the shard's
//!   next owner resumes its sagas (paid ones go on, unpaid ones lapse and
//!   give their units back).
//! - hand-over: a node with hundreds (CI) or thousands of live SKU actors
//!   stopped with SIGTERM hands every shard over with its books intact;
//!   the test reports how long that took.
//!
//! CI runs a short form (`STAMPEDE_TEST_CLUSTER_PURCHASES`, default 3,000);
//! the README reports the long one (10,000).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::browser::{Chromium, eval, sign_in, wait_for};
use common::nats::{Channel, PrivateNats, shared_url};
use common::process::{
    ADMIN_EMAIL, ADMIN_PASSWORD, account, free_port, post, run_to_exit, start_binary,
};
use common::{TestDb, db_levels};
use futures::StreamExt;
use serde_json::{Value, json};
use stampede::domain::ids::{OrderId, SkuId};
use stampede::domain::shard::ShardCount;
use stampede::persistence::Store;
use tokio::process::Child;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const STOCK: i64 = 200;
const BUYERS: usize = 40;
const LIMIT: i64 = 10;
const SHARDS: u32 = 16;
const LEASE_MS: u64 = 2_000;

fn purchases() -> usize {
    std::env::var("STAMPEDE_TEST_CLUSTER_PURCHASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3_000)
}

struct Node {
    id: String,
    port: u16,
    child: Option<Child>,
}

impl Node {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

struct Cluster {
    nodes: Vec<Node>,
    client: reqwest::Client,
    admin: String,
}

async fn start_cluster(db: &TestDb, test: &str) -> Cluster {
    start_cluster_with(db, test, &[]).await
}

/// One cluster at a time: three clusters of three nodes on a 2-core
/// machine would measure the machine, not the cluster.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn start_cluster_with(db: &TestDb, test: &str, extra: &[(&str, &str)]) -> Cluster {
    start_cluster_on(db, test, &shared_url(), extra).await
}

async fn start_cluster_on(
    db: &TestDb,
    test: &str,
    nats_url: &str,
    extra: &[(&str, &str)],
) -> Cluster {
    let channel = Channel::fresh(test);
    let bucket = format!("{}_shards", channel.prefix);
    let nats = channel.env(nats_url);
    let mut nodes = Vec::new();
    // One after the other: the first creates the schema and the admin.
    for n in 1..=3 {
        let id = format!("n{n}");
        let port = free_port();
        let mut env: Vec<(&str, String)> = nats.clone();
        env.extend([
            ("STAMPEDE_NODE_ID", id.clone()),
            ("STAMPEDE_CLUSTER_SHARDS", SHARDS.to_string()),
            ("STAMPEDE_CLUSTER_LEASE_MS", LEASE_MS.to_string()),
            ("STAMPEDE_CLUSTER_BUCKET", bucket.clone()),
        ]);
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra);
        let child = start_binary(&db.url, port, &env).await;
        nodes.push(Node {
            id,
            port,
            child: Some(child),
        });
    }
    let client = reqwest::Client::new();
    let tokens = post(
        &client,
        format!("{}/api/v1/auth/login", nodes[0].base()),
        None,
        json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
    )
    .await;
    let admin = tokens["access_token"].as_str().expect("token").to_string();
    let cluster = Cluster {
        nodes,
        client,
        admin,
    };
    cluster.until_spread(3).await;
    cluster
}

impl Cluster {
    async fn view(&self, node: &Node) -> Option<Value> {
        let res = self
            .client
            .get(format!("{}/api/v1/admin/cluster", node.base()))
            .bearer_auth(&self.admin)
            .send()
            .await
            .ok()?;
        assert_eq!(res.status(), 200);
        res.json().await.ok()
    }

    fn live(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.child.is_some())
    }

    /// Waits until every live node sees every shard owned, by `nodes`
    /// distinct nodes.
    async fn until_spread(&self, nodes: usize) {
        for _ in 0..300 {
            let mut settled = true;
            for node in self.live() {
                let Some(view) = self.view(node).await else {
                    settled = false;
                    continue;
                };
                let owned = view["shards"]
                    .as_array()
                    .expect("shards")
                    .iter()
                    .all(|s| s["owner"].is_string());
                settled &= owned && view["nodes"].as_array().map(Vec::len) == Some(nodes);
            }
            if settled {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the shards never spread over {nodes} nodes");
    }

    /// Waits until node `via` names another owner than `from` for `sku`;
    /// answers how long after `since` that was.
    async fn until_taken_over(&self, via: usize, sku: i64, from: &str, since: Instant) -> Duration {
        loop {
            let now = self.owner_now(&self.nodes[via], sku).await;
            if now.is_some_and(|now| now != from) {
                return since.elapsed();
            }
            assert!(
                since.elapsed() < Duration::from_secs(30),
                "the shard was never taken over"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The index of node `id`.
    fn index_of(&self, id: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .expect("owner is a node")
    }

    async fn stop_all(&mut self) {
        for node in &mut self.nodes {
            kill(node).await;
        }
    }

    /// The node owning `sku`'s shard, as `via` sees it.
    async fn owner(&self, via: &Node, sku: i64) -> String {
        self.owner_now(via, sku)
            .await
            .expect("the SKU view names its owner")
    }

    /// Like [`Cluster::owner`]; `None` while nobody answers for the SKU
    /// (503: its owner is gone and not yet replaced).
    async fn owner_now(&self, via: &Node, sku: i64) -> Option<String> {
        let res = self
            .client
            .get(format!("{}/api/v1/admin/actors/skus/{sku}", via.base()))
            .bearer_auth(&self.admin)
            .send()
            .await
            .expect("sku view");
        if res.status() == 503 {
            return None;
        }
        assert_eq!(res.status(), 200);
        let view: Value = res.json().await.expect("json");
        Some(
            view["owner_node"]
                .as_str()
                .unwrap_or_else(|| panic!("no owner_node in {view}"))
                .to_string(),
        )
    }
}

struct Drop {
    bases: Vec<String>,
    client: reqwest::Client,
    sku: i64,
    buyers: Vec<String>,
    opens: Instant,
}

#[derive(Clone)]
struct Shot {
    key: String,
    buyer: usize,
    status: Option<u16>,
    order_id: Option<String>,
}

async fn prepare(cluster: &Cluster) -> Drop {
    let base = cluster.nodes[0].base();
    let client = cluster.client.clone();
    let seller = account(&client, &base, "seller@cluster.test", "seller").await;
    let mut buyers = Vec::new();
    for i in 0..BUYERS {
        buyers.push(account(&client, &base, &format!("b{i}@cluster.test"), "customer").await);
    }
    let lead = Duration::from_millis(1_500);
    let opens_at = chrono::Utc::now() + lead;
    let opens = Instant::now() + lead + Duration::from_millis(5);
    let product = post(
        &client,
        format!("{base}/api/v1/products"),
        Some(&seller),
        json!({"name": "Cluster drop", "category": "drops",
               "skus": [{"sku_code": "C", "option": "one", "price": 99_000, "stock": STOCK}],
               "sale": {"opens_at": opens_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "per_user_limit": LIMIT}}),
    )
    .await;
    Drop {
        bases: cluster.nodes.iter().map(Node::base).collect(),
        client,
        sku: product["skus"][0]["id"].as_i64().expect("sku id"),
        buyers,
        opens,
    }
}

/// One purchase on node `node`; `None` when no answer came.
async fn buy(drop: &Drop, node: usize, key: &str, buyer: usize) -> (Option<u16>, Option<String>) {
    let res = drop
        .client
        .post(format!("{}/api/v1/orders", drop.bases[node]))
        .bearer_auth(&drop.buyers[buyer])
        .header("Idempotency-Key", key)
        .json(&json!({"items": [{"sku_id": drop.sku, "quantity": 1}],
                      "shipping_address": "Cluster street"}))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    match res {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or_default();
            (Some(status), body["order_id"].as_str().map(str::to_string))
        }
        Err(_) => (None, None),
    }
}

/// Presses every purchase at the opening, purchase `i` on node `i % 3`.
fn fire(drop: &Arc<Drop>, created: &Arc<AtomicUsize>) -> JoinHandle<Vec<Shot>> {
    let (drop, created) = (Arc::clone(drop), Arc::clone(created));
    tokio::spawn(async move {
        tokio::time::sleep_until(drop.opens).await;
        let shots = (0..purchases()).map(|i| {
            let (drop, created) = (Arc::clone(&drop), Arc::clone(&created));
            async move {
                let key = format!("cluster-{i}");
                let buyer = i % BUYERS;
                let (status, order_id) = buy(&drop, i % drop.bases.len(), &key, buyer).await;
                if status == Some(201) {
                    created.fetch_add(1, Ordering::Relaxed);
                }
                Shot {
                    key,
                    buyer,
                    status,
                    order_id,
                }
            }
        });
        futures::future::join_all(shots).await
    })
}

/// Retries every purchase without a final answer with its own key, on the
/// live nodes in turn, until it gets one (201 or 409); answers every order
/// id acknowledged.
async fn settle(drop: &Drop, live: &[usize], shots: &[Shot]) -> Vec<String> {
    let finals: Vec<Option<String>> = futures::stream::iter(shots.iter().enumerate())
        .map(|(i, shot)| async move {
            let (mut status, mut order_id) = (shot.status, shot.order_id.clone());
            for attempt in 0..120 {
                if matches!(status, Some(201 | 409)) {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                let node = live[(i + attempt) % live.len()];
                (status, order_id) = buy(drop, node, &shot.key, shot.buyer).await;
            }
            if shot.status == Some(201) {
                assert_eq!(order_id, shot.order_id, "a retry changed the order");
            }
            match status {
                Some(201) => Some(order_id.expect("201 carries order_id")),
                Some(409) => None,
                other => panic!("purchase {} never got a final answer: {other:?}", shot.key),
            }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    finals.into_iter().flatten().collect()
}

/// Exactly the stock held, by exactly the acknowledged orders, none over
/// the per-buyer limit.
async fn assert_sold_exactly(store: &Store, drop: &Drop, acknowledged: &[String]) {
    assert_eq!(acknowledged.len() as i64, STOCK, "every unit sold once");
    let (on_hand, reserved, sold) = db_levels(store, SkuId::new(drop.sku)).await;
    assert_eq!((on_hand, reserved + sold), (STOCK, STOCK), "stock levels");
    let holding: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM reservations WHERE sku_id = ? AND status IN ('reserved', 'committed')",
    )
    .bind(drop.sku)
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert_eq!(holding, STOCK, "holding reservations");
    for id in acknowledged {
        let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE id = ?")
            .bind(id.clone())
            .fetch_one(store.pool())
            .await
            .expect("order");
        assert_eq!(found, 1, "acknowledged order {id} is not in the database");
    }
    let most: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(n), 0) FROM (SELECT user_id, COUNT(*) AS n FROM reservations \
         WHERE sku_id = ? AND status IN ('reserved', 'committed') GROUP BY user_id) AS per_buyer",
    )
    .bind(drop.sku)
    .fetch_one(store.pool())
    .await
    .expect("per buyer");
    assert!(
        most <= LIMIT,
        "a buyer holds {most} units, over the limit {LIMIT}"
    );
}

/// How long after `since_ms` (wall clock, shared by every process on this
/// machine) the current owner of `sku`'s shard recorded its epoch.
async fn taken_after(store: &Store, sku: i64, since_ms: i64) -> Duration {
    let recorded_at: i64 =
        sqlx::query_scalar("SELECT recorded_at FROM shard_epochs WHERE shard = ?")
            .bind(sku % i64::from(SHARDS))
            .fetch_one(store.pool())
            .await
            .expect("epoch row");
    Duration::from_millis(u64::try_from(recorded_at - since_ms).expect("recorded after"))
}

/// Every purchase answered 201 during the burst is among the final ones.
fn assert_acknowledged_kept(shots: &[Shot], acknowledged: &[String]) {
    for shot in shots.iter().filter(|s| s.status == Some(201)) {
        assert!(
            acknowledged.contains(shot.order_id.as_ref().expect("id")),
            "an acknowledged order was lost"
        );
    }
}

async fn kill(node: &mut Node) {
    if let Some(mut child) = node.child.take() {
        child.start_kill().expect("kill");
        let _ = child.wait().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_drop_spread_over_three_nodes_sells_exactly_the_stock() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_spread").await;
    let mut cluster = start_cluster(&db, "spread").await;
    let drop = Arc::new(prepare(&cluster).await);
    let owner = cluster.owner(&cluster.nodes[1], drop.sku).await;
    for node in &cluster.nodes {
        assert_eq!(cluster.owner(node, drop.sku).await, owner, "nodes agree");
    }
    let created = Arc::new(AtomicUsize::new(0));
    let shots = fire(&drop, &created).await.expect("burst");
    let mut answers = std::collections::BTreeMap::new();
    for shot in &shots {
        *answers.entry(shot.status).or_insert(0) += 1;
    }
    eprintln!("answers by status: {answers:?}");
    // 503 (and, on a saturated machine, no answer in time) are the
    // designed answers to overload: retried below until final.
    assert!(
        answers
            .keys()
            .all(|s| matches!(s, None | Some(201 | 409 | 503))),
        "only 201, 409 or a retryable 503: {answers:?}"
    );
    let acknowledged = settle(&drop, &[0, 1, 2], &shots).await;
    let store = db.store().await;
    assert_sold_exactly(&store, &drop, &acknowledged).await;
    for node in &cluster.nodes {
        let view = cluster.view(node).await.expect("cluster view");
        let sent = view["forwarding"]["calls_sent"].as_u64().expect("sent");
        let served = view["forwarding"]["calls_served"].as_u64().expect("served");
        if node.id == owner {
            assert!(served > 0, "the owner served the others' reserves");
        } else {
            assert!(sent > 0, "{} forwarded its reserves", node.id);
            let batches = view["forwarding"]["batches_sent"]
                .as_u64()
                .expect("batches");
            eprintln!(
                "{}: {sent} calls forwarded in {batches} batches ({:.1} per batch)",
                node.id,
                sent as f64 / batches.max(1) as f64
            );
        }
    }
    // One relay publishes the outbox (the node holding shard 0): relays on
    // every node would publish the same rows again and again.
    let mut again = 0.0;
    for node in &cluster.nodes {
        again += metric(
            &cluster.client,
            node,
            "stampede_outbox_published_total{duplicate=\"true\"}",
        )
        .await;
    }
    assert_eq!(again, 0.0, "events published twice");
    // The sale clock runs on the leading node only, and it did announce
    // the opening: once.
    let opened: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE event_type LIKE '%sale_opened' AND subject = ?",
    )
    .bind(format!("skus/{}", drop.sku))
    .fetch_one(store.pool())
    .await
    .expect("outbox");
    assert_eq!(opened, 1, "the opening announced once");
    // The owner stopped cleanly (SIGTERM) hands its shards over on the way
    // out: the next owner takes the SKU at once, not after a lease.
    let stopping = cluster.index_of(&owner);
    let survivor = (stopping + 1) % 3;
    signal(&cluster.nodes[stopping], "-TERM");
    let asked = Instant::now();
    let taken = cluster
        .until_taken_over(survivor, drop.sku, &owner, asked)
        .await;
    eprintln!("shard handed over {taken:?} after SIGTERM");
    assert!(
        taken < Duration::from_millis(LEASE_MS),
        "a clean stop's shard waited {taken:?}, as long as a lapse"
    );
    let exit = cluster.nodes[stopping]
        .child
        .take()
        .expect("running")
        .wait()
        .await
        .expect("exit");
    assert!(exit.success(), "the stopped node exited {exit}");
    let (status, _) = buy(&drop, survivor, "after-the-hand-over", 1).await;
    assert_eq!(status, Some(409), "the new owner sells from the same books");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_owner_killed_mid_drop_loses_nothing_acknowledged() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_kill").await;
    let mut cluster = start_cluster(&db, "kill").await;
    let drop = Arc::new(prepare(&cluster).await);
    let owner = cluster.owner(&cluster.nodes[0], drop.sku).await;
    let victim = cluster.index_of(&owner);
    let created = Arc::new(AtomicUsize::new(0));
    let burst = fire(&drop, &created);
    for _ in 0..6_000 {
        if created.load(Ordering::Relaxed) >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(created.load(Ordering::Relaxed) >= 40, "the drop got going");
    let killed_at = chrono::Utc::now().timestamp_millis();
    kill(&mut cluster.nodes[victim]).await;
    let killed = Instant::now();
    let survivor = (victim + 1) % 3;
    // Taken over: another node names itself the owner. How long that took
    // is read from when the new owner recorded its epoch (the nodes share
    // this machine's clock), not from when this test, polling an HTTP
    // stack busy with the drop, got to see it.
    let seen = cluster
        .until_taken_over(survivor, drop.sku, &owner, killed)
        .await;
    let store = db.store().await;
    let taken = taken_after(&store, drop.sku, killed_at).await;
    eprintln!("shard taken over {taken:?} after the kill (seen after {seen:?})");
    assert!(
        taken <= Duration::from_millis(LEASE_MS + 1_000),
        "taken over after {taken:?}, past a lease and one second"
    );
    let shots = burst.await.expect("burst");
    let live: Vec<usize> = (0..3).filter(|i| *i != victim).collect();
    let acknowledged = settle(&drop, &live, &shots).await;
    assert_acknowledged_kept(&shots, &acknowledged);
    let store = db.store().await;
    assert_sold_exactly(&store, &drop, &acknowledged).await;
    cluster.stop_all().await;
}

fn signal(node: &Node, sig: &str) {
    let pid = node.child.as_ref().and_then(Child::id).expect("running");
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {sig} {pid}");
}

/// A counter's value in a node's `/metrics` (0 when not yet counted).
async fn metric(client: &reqwest::Client, node: &Node, name: &str) -> f64 {
    let text = client
        .get(format!("{}/metrics", node.base()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_owner_is_fenced_when_it_wakes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_pause").await;
    // Batches every 300 ms, so that decisions wait for one when it pauses.
    let mut cluster = start_cluster_with(
        &db,
        "pause",
        &[("STAMPEDE_INVENTORY_FLUSH_INTERVAL_MS", "300")],
    )
    .await;
    let drop = Arc::new(prepare(&cluster).await);
    let owner = cluster.owner(&cluster.nodes[0], drop.sku).await;
    let stale = cluster.index_of(&owner);
    let created = Arc::new(AtomicUsize::new(0));
    let burst = fire(&drop, &created);
    // Mid-drop, with decisions queued for the next batch.
    tokio::time::sleep_until(drop.opens).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "the owner never had decisions queued"
        );
        {
            let actors: Value = cluster
                .client
                .get(format!(
                    "{}/api/v1/admin/actors",
                    cluster.nodes[stale].base()
                ))
                .bearer_auth(&cluster.admin)
                .send()
                .await
                .expect("actors")
                .json()
                .await
                .expect("json");
            if actors["persister"]["queued"].as_i64().unwrap_or(0) > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let paused_at = chrono::Utc::now().timestamp_millis();
    signal(&cluster.nodes[stale], "-STOP");
    let paused = Instant::now();
    let survivor = (stale + 1) % 3;
    let seen = cluster
        .until_taken_over(survivor, drop.sku, &owner, paused)
        .await;
    let taken = taken_after(&db.store().await, drop.sku, paused_at).await;
    eprintln!("shard taken over {taken:?} after the pause (seen after {seen:?})");
    // The new owner sells: a purchase placed now is decided there.
    let before = created.load(Ordering::Relaxed);
    let (status, _) = buy(&drop, survivor, "after-the-pause", 0).await;
    assert!(
        matches!(status, Some(201 | 409)),
        "the new owner answers: {status:?}"
    );
    signal(&cluster.nodes[stale], "-CONT");
    let shots = burst.await.expect("burst");
    eprintln!("{} created before the takeover's first sale", before);
    let fenced = metric(
        &cluster.client,
        &cluster.nodes[stale],
        "stampede_cluster_fenced_batches_total",
    )
    .await;
    assert!(
        fenced >= 1.0,
        "the stale owner's batch was refused ({fenced})"
    );
    let live = [0, 1, 2];
    let mut acknowledged = settle(&drop, &live, &shots).await;
    if status == Some(201) {
        let (again, id) = buy(&drop, survivor, "after-the-pause", 0).await;
        assert_eq!(again, Some(201));
        acknowledged.push(id.expect("order id"));
    }
    assert_acknowledged_kept(&shots, &acknowledged);
    let store = db.store().await;
    assert_sold_exactly(&store, &drop, &acknowledged).await;
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nats_restart_mid_drop_is_answered_503_then_sells_on_retry() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_nats").await;
    let mut nats = PrivateNats::start().await;
    let mut cluster = start_cluster_on(&db, "natsdown", &nats.url(), &[]).await;
    let drop = Arc::new(prepare(&cluster).await);
    let created = Arc::new(AtomicUsize::new(0));
    let burst = fire(&drop, &created);
    for _ in 0..6_000 {
        if created.load(Ordering::Relaxed) >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    nats.kill().await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    nats.restart().await;
    let shots = burst.await.expect("burst");
    let unavailable = shots.iter().filter(|s| s.status == Some(503)).count();
    eprintln!("{unavailable} purchases answered 503 while NATS was down");
    assert!(unavailable > 0, "purchases needing another node got 503");
    assert!(
        shots
            .iter()
            .all(|s| matches!(s.status, None | Some(201 | 409 | 503))),
        "only 201, 409 or 503"
    );
    let acknowledged = settle(&drop, &[0, 1, 2], &shots).await;
    let store = db.store().await;
    assert_sold_exactly(&store, &drop, &acknowledged).await;
    cluster.stop_all().await;
}

/// Cluster mode refuses, with a reason, what it cannot fence or share.
#[tokio::test]
async fn cluster_mode_refuses_what_it_cannot_fence() {
    let db = TestDb::mysql("cluster_refusals").await;
    let sqlite = TestDb::sqlite().await;
    let nats = shared_url();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 3] = [
        (
            &sqlite.url,
            vec![("STAMPEDE_NATS_URL", nats.as_str())],
            "needs a MySQL/MariaDB DATABASE_URL",
        ),
        (
            &db.url,
            vec![
                ("STAMPEDE_NATS_URL", nats.as_str()),
                ("STAMPEDE_INVENTORY_ACK", "memory"),
            ],
            "refuses inventory.ack = memory",
        ),
        (&db.url, vec![], "needs STAMPEDE_NATS_URL"),
    ];
    for (url, mut env, why) in cases {
        env.push(("STAMPEDE_NODE_ID", "n1"));
        let out = run_to_exit(url, free_port(), &env, Duration::from_secs(30)).await;
        let said = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "started despite: {why}");
        assert!(said.contains(why), "no `{why}` in: {said}");
    }
}

/// Orders placed in this test, with their buyer.
const SAGA_ORDERS: usize = 60;
/// Long enough to pay every order after a take-over, short enough that the
/// unpaid ones lapse within the test.
const SAGA_PAYMENT_WINDOW_MS: u64 = 10_000;

/// Pays order `id` for `buyer` on the live nodes in turn until it is
/// answered 200 (a 503 while its saga's shard has no owner is retried).
async fn pay_until_paid(drop: &Drop, live: &[usize], buyer: usize, id: &str) {
    let mut last = None;
    for attempt in 0..200 {
        let node = live[attempt % live.len()];
        let res = drop
            .client
            .post(format!("{}/api/v1/orders/{id}/payment", drop.bases[node]))
            .bearer_auth(&drop.buyers[buyer])
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match res.map(|r| r.status().as_u16()) {
            Ok(200) => return,
            Ok(503) | Err(_) => {}
            Ok(other) => panic!("paying {id} answered {other}"),
        }
        last = Some(attempt);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("order {id} was never paid ({last:?} retries)");
}

/// Which node runs each order's saga: the owner of its order shard, as
/// node `via` sees the shards.
async fn saga_homes(cluster: &Cluster, via: usize, orders: &[String]) -> Vec<String> {
    let view = cluster.view(&cluster.nodes[via]).await.expect("view");
    let owners: Vec<String> = view["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .map(|s| s["owner"].as_str().expect("every shard owned").to_string())
        .collect();
    let count = ShardCount::new(SHARDS).expect("shards");
    orders
        .iter()
        .map(|id| {
            let shard = count.of_order(OrderId::parse(id).expect("order id"));
            owners[shard.get() as usize].clone()
        })
        .collect()
}

/// Issue 16's sagas: an order's saga runs on the node holding its order's
/// shard, whichever node placed it. Paying through a node that does not
/// run the saga reaches the one that does; when that node is SIGKILLed,
/// the next owner of the shard resumes its sagas from their recorded
/// steps: the paid ones go on, the unpaid ones lapse and give their stock
/// back. Before this, no node resumed another's sagas: the dead node's
/// unpaid orders held their units until the reservation TTL, and paying
/// them answered 503 for as long as that.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_nodes_sagas_go_on_at_the_next_owner_of_their_shard() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_sagas").await;
    let window = SAGA_PAYMENT_WINDOW_MS.to_string();
    let mut cluster = start_cluster_with(
        &db,
        "sagas",
        &[
            ("STAMPEDE_ORDERS_PAYMENT_WINDOW_MS", &window),
            ("STAMPEDE_PAYMENTS_DECLINE_RATE", "0"),
            ("STAMPEDE_PAYMENTS_LATENCY_MS", "5"),
        ],
    )
    .await;
    let drop = prepare(&cluster).await;
    tokio::time::sleep_until(drop.opens).await;
    let mut orders: Vec<(usize, String)> = Vec::new();
    for i in 0..SAGA_ORDERS {
        let buyer = i % BUYERS;
        let (status, id) = buy(&drop, i % 3, &format!("saga-{i}"), buyer).await;
        assert_eq!(status, Some(201), "order {i} was not placed");
        orders.push((buyer, id.expect("order id")));
    }
    let ids: Vec<String> = orders.iter().map(|(_, id)| id.clone()).collect();
    let homes = saga_homes(&cluster, 0, &ids).await;
    // The node running the most sagas is the one to die.
    let victim = (0..3)
        .max_by_key(|n| homes.iter().filter(|h| **h == cluster.nodes[*n].id).count())
        .expect("a node");
    let victim_id = cluster.nodes[victim].id.clone();
    let on_victim: Vec<usize> = (0..SAGA_ORDERS)
        .filter(|i| homes[*i] == victim_id)
        .collect();
    assert!(
        on_victim.iter().any(|i| i % 2 == 0) && on_victim.iter().any(|i| i % 2 == 1),
        "the victim runs paid and unpaid orders' sagas"
    );
    // Paid through a node that does not run the saga: handed to its home.
    let first = on_victim[0];
    let elsewhere = (victim + 1) % 3;
    pay_until_paid(&drop, &[elsewhere], orders[first].0, &orders[first].1).await;
    kill(&mut cluster.nodes[victim]).await;
    let live: Vec<usize> = (0..3).filter(|n| *n != victim).collect();
    // Every other even order is paid through the survivors; odd ones are
    // left to lapse.
    for i in (0..SAGA_ORDERS).filter(|i| i % 2 == 0 && *i != first) {
        pay_until_paid(&drop, &live, orders[i].0, &orders[i].1).await;
    }
    let store = db.store().await;
    let lapsed_by = Instant::now() + Duration::from_millis(SAGA_PAYMENT_WINDOW_MS + 30_000);
    let statuses = loop {
        let mut statuses = Vec::with_capacity(SAGA_ORDERS);
        for (_, id) in &orders {
            let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
                .bind(id.clone())
                .fetch_one(store.pool())
                .await
                .expect("order");
            statuses.push(status);
        }
        let unpaid_ended = statuses
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 1 && *i != first)
            .all(|(_, s)| s == "CANCELLED");
        if unpaid_ended || Instant::now() > lapsed_by {
            break statuses;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (i, status) in statuses.iter().enumerate() {
        let paid = i % 2 == 0 || i == first;
        let home = &homes[i];
        if paid {
            assert!(
                !matches!(
                    status.as_str(),
                    "AWAITING_PAYMENT" | "CANCELLED" | "REJECTED"
                ),
                "paid order {i} (saga on {home}) is {status}"
            );
        } else {
            assert_eq!(status, "CANCELLED", "unpaid order {i} (saga on {home})");
        }
    }
    // Their units came back: only the paid orders hold stock.
    let paid = statuses
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0 || *i == first)
        .count() as i64;
    let mut levels = (0, 0, 0);
    for _ in 0..100 {
        levels = db_levels(&store, SkuId::new(drop.sku)).await;
        if levels.1 + levels.2 == paid {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (levels.0, levels.1 + levels.2),
        (STOCK, paid),
        "on hand, and held by the paid orders only"
    );
    cluster.stop_all().await;
}

/// Waits up to two seconds for `check` to hold on node `node`.
async fn within_two_seconds<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} within two seconds");
}

/// Issue 16's shared state: what one node changes, the others hear of at
/// once. A product renamed on one node reads renamed on the others (before,
/// their catalog caches kept the old product until evicted), and a logout
/// everywhere on one node refuses the account's access tokens on the others
/// (before, they took them until the tokens expired, 15 minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_other_nodes_hear_of_a_catalog_write_and_a_logout_everywhere() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_notes").await;
    let mut cluster = start_cluster(&db, "notes").await;
    let client = cluster.client.clone();
    let bases: Vec<String> = cluster.nodes.iter().map(Node::base).collect();
    let seller = account(&client, &bases[0], "seller@notes.test", "seller").await;
    let product = post(
        &client,
        format!("{}/api/v1/products", bases[0]),
        Some(&seller),
        json!({"name": "Before", "category": "drops",
               "skus": [{"sku_code": "N", "option": "one", "price": 1_000, "stock": 5}]}),
    )
    .await;
    let id = product["id"].as_i64().expect("product id");
    let name_on = |node: usize| {
        let (client, url) = (
            client.clone(),
            format!("{}/api/v1/products/{id}", bases[node]),
        );
        async move {
            let product: Value = client
                .get(url)
                .send()
                .await
                .expect("product")
                .json()
                .await
                .expect("json");
            product["name"].as_str().expect("name").to_string()
        }
    };
    // Read (and so cached) on every node.
    for node in 0..3 {
        assert_eq!(name_on(node).await, "Before");
    }
    let renamed = client
        .patch(format!("{}/api/v1/products/{id}", bases[0]))
        .bearer_auth(&seller)
        .json(&json!({"name": "After"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(renamed.status(), 200);
    for node in 1..3 {
        within_two_seconds(&format!("node {node} reads the new name"), || async {
            name_on(node).await == "After"
        })
        .await;
    }

    let buyer = account(&client, &bases[0], "buyer@notes.test", "customer").await;
    let me_on = |node: usize| {
        let (client, url, token) = (
            client.clone(),
            format!("{}/api/v1/users/me", bases[node]),
            buyer.clone(),
        );
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("me")
                .status()
                .as_u16()
        }
    };
    for node in 0..3 {
        assert_eq!(me_on(node).await, 200);
    }
    let out = client
        .post(format!("{}/api/v1/auth/logout-all", bases[0]))
        .bearer_auth(&buyer)
        .send()
        .await
        .expect("logout-all");
    assert_eq!(out.status(), 204);
    for node in 1..3 {
        within_two_seconds(
            &format!("node {node} refuses the revoked token"),
            || async { me_on(node).await == 401 },
        )
        .await;
    }
    cluster.stop_all().await;
}

/// Sends `method` to `url` with `token`; answers the status.
async fn status_of(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
) -> u16 {
    client
        .request(method, url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// Issue 16's counters: a like, unlike or follow is decided on the node
/// holding its target's shard, whichever node took it. Forty members like
/// one post through the three nodes at once, every other one then unlikes
/// it through another node, and all forty follow one account through the
/// three nodes: each count equals its rows. Before, every node decided with
/// its own actor, each writing its own absolute count of the same row: of
/// the forty likes, 3 to 10 were answered 503 in the runs seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn likes_and_follows_spread_over_three_nodes_count_exactly() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_counters").await;
    let mut cluster = start_cluster(&db, "counters").await;
    let client = cluster.client.clone();
    let bases: Vec<String> = cluster.nodes.iter().map(Node::base).collect();
    let author = account(&client, &bases[0], "author@counters.test", "customer").await;
    let me: Value = client
        .get(format!("{}/api/v1/users/me", bases[0]))
        .bearer_auth(&author)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    let author_id = me["id"].as_i64().expect("author id");
    let post = post(
        &client,
        format!("{}/api/v1/posts", bases[0]),
        Some(&author),
        json!({"body": "Drop at noon"}),
    )
    .await;
    let post = post["id"].as_i64().expect("post id");
    let mut fans = Vec::new();
    for i in 0..BUYERS {
        fans.push(
            account(
                &client,
                &bases[0],
                &format!("f{i}@counters.test"),
                "customer",
            )
            .await,
        );
    }
    let at_once = |method: reqwest::Method, path: String, pick: fn(usize) -> bool, shift: usize| {
        let (client, bases, fans) = (&client, &bases, &fans);
        futures::future::join_all((0..BUYERS).filter(|i| pick(*i)).map(move |i| {
            let url = format!("{}{path}", bases[(i + shift) % 3]);
            let method = method.clone();
            async move { status_of(client, method, url, &fans[i]).await }
        }))
    };
    let liked = at_once(
        reqwest::Method::PUT,
        format!("/api/v1/posts/{post}/like"),
        |_| true,
        0,
    )
    .await;
    assert!(liked.iter().all(|s| *s == 200), "likes: {liked:?}");
    let unliked = at_once(
        reqwest::Method::DELETE,
        format!("/api/v1/posts/{post}/like"),
        |i| i % 2 == 1,
        1,
    )
    .await;
    assert!(unliked.iter().all(|s| *s == 200), "unlikes: {unliked:?}");
    let followed = at_once(
        reqwest::Method::PUT,
        format!("/api/v1/users/{author_id}/follow"),
        |_| true,
        2,
    )
    .await;
    assert!(followed.iter().all(|s| *s == 200), "follows: {followed:?}");

    let store = db.store().await;
    let count = |sql: &'static str, id: i64| {
        let store = store.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(id)
                .fetch_one(store.pool())
                .await
                .expect("count")
        }
    };
    let likes = BUYERS as i64 / 2;
    assert_eq!(
        count("SELECT COUNT(*) FROM post_likes WHERE post_id = ?", post).await,
        likes,
        "like rows"
    );
    assert_eq!(
        count("SELECT like_count FROM posts WHERE id = ?", post).await,
        likes,
        "the post's like count"
    );
    assert_eq!(
        count("SELECT follower_count FROM users WHERE id = ?", author_id).await,
        BUYERS as i64,
        "the author's follower count"
    );
    cluster.stop_all().await;
}

/// Issue 16's budgets, with Redis (the DESIGN: "Redis ... when set, shares
/// rate limits ... across nodes"): one client reading the catalog through
/// the three nodes in turn gets one budget, not three. With a burst of 6
/// and a refill of 2 a second, 18 reads at once are answered about 6 times
/// 200 (a refill or two may land meanwhile), the rest 429. Before, each
/// node kept its own bucket and all 18 were answered 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_spread_over_the_nodes_spends_one_shared_budget() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let redis = std::env::var("STAMPEDE_TEST_REDIS_URL")
        .expect("STAMPEDE_TEST_REDIS_URL (scripts/test.sh starts Redis)");
    let db = TestDb::mysql("cluster_budgets").await;
    let mut cluster = start_cluster_with(
        &db,
        "budgets",
        &[
            ("REDIS_URL", &redis),
            ("STAMPEDE_RATE_LIMIT_PUBLIC_PER_SECOND", "2"),
            ("STAMPEDE_RATE_LIMIT_PUBLIC_BURST", "6"),
        ],
    )
    .await;
    // The readiness polls of the start spent from the same budget: wait
    // until it is full again (6 units at 2 a second).
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let client = cluster.client.clone();
    let reads = (0..18).map(|i| {
        let url = format!("{}/api/v1/products", cluster.nodes[i % 3].base());
        let client = client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .expect("read")
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(reads).await;
    let served = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(served + refused, 18, "{statuses:?}");
    assert!(
        (6..=8).contains(&served),
        "one budget of 6 (and a refill or two) for the three nodes: {statuses:?}"
    );
    cluster.stop_all().await;
}

/// Nodes started together on a fresh database (a deploy of the whole
/// cluster at once) all start: one applies the migrations while the others
/// wait for it, and those that lose the race to create the configured admin
/// take the winner's account. Before, all but one failed their start: first
/// on a migration applied twice (sqlx's lock does not hold through the Any
/// driver), and once that was fixed, on the admin's duplicate email.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_started_together_on_a_fresh_database_all_start() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_together").await;
    let channel = Channel::fresh("together");
    let bucket = format!("{}_shards", channel.prefix);
    let nats = channel.env(&shared_url());
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let starts = ports.iter().enumerate().map(|(n, port)| {
        let mut env: Vec<(&str, String)> = nats.clone();
        env.extend([
            ("STAMPEDE_NODE_ID", format!("t{n}")),
            ("STAMPEDE_CLUSTER_SHARDS", SHARDS.to_string()),
            ("STAMPEDE_CLUSTER_LEASE_MS", LEASE_MS.to_string()),
            ("STAMPEDE_CLUSTER_BUCKET", bucket.clone()),
        ]);
        let url = db.url.clone();
        let port = *port;
        async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            start_binary(&url, port, &env).await
        }
    });
    let children = futures::future::join_all(starts).await;
    let mut cluster = Cluster {
        nodes: children
            .into_iter()
            .zip(&ports)
            .enumerate()
            .map(|(n, (child, port))| Node {
                id: format!("t{n}"),
                port: *port,
                child: Some(child),
            })
            .collect(),
        client: reqwest::Client::new(),
        admin: String::new(),
    };
    let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
        .fetch_one(db.store().await.pool())
        .await
        .expect("admins");
    assert_eq!(admins, 1, "one admin account");
    cluster.stop_all().await;
}

/// A node killed between a purchase's hold and its order's write leaves the
/// hold without an order. On a cluster the other nodes serve on, so it
/// cannot be given back at start as a single process does; the leading
/// node gives back such holds once they are older than any purchase still
/// under way (`reserve_timeout`). Here the SKU's owner is SIGKILLed and the
/// orphan written to the database as its last batch would have left it;
/// the next owner loads it. Before, it held its units until the
/// reservation TTL (10 minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_without_an_order_is_given_back_on_a_cluster() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_orphans").await;
    let mut cluster = start_cluster_with(
        &db,
        "orphans",
        &[
            ("STAMPEDE_ORDERS_RESUME_RETRY_MS", "300"),
            ("STAMPEDE_ORDERS_RESERVE_TIMEOUT_MS", "5000"),
        ],
    )
    .await;
    let client = cluster.client.clone();
    let bases: Vec<String> = cluster.nodes.iter().map(Node::base).collect();
    let seller = account(&client, &bases[0], "seller@orphans.test", "seller").await;
    let product = post(
        &client,
        format!("{}/api/v1/products", bases[0]),
        Some(&seller),
        json!({"name": "Orphaned", "category": "drops",
               "skus": [{"sku_code": "O", "option": "one", "price": 1_000, "stock": 10}]}),
    )
    .await;
    let sku = product["skus"][0]["id"].as_i64().expect("sku id");
    let owner = cluster.owner(&cluster.nodes[0], sku).await;
    let victim = cluster.index_of(&owner);
    kill(&mut cluster.nodes[victim]).await;
    let killed = Instant::now();
    let store = db.store().await;
    let orphan = OrderId::derive(stampede::domain::ids::UserId::new(7), "cut-short");
    let written = chrono::Utc::now().timestamp_millis();
    sqlx::query(
        "INSERT INTO reservations \
         (sku_id, reservation_id, user_id, quantity, status, expires_at, updated_at) \
         VALUES (?, ?, 7, 2, 'reserved', ?, ?)",
    )
    .bind(sku)
    .bind(orphan.to_string())
    .bind(written + 600_000)
    .bind(written)
    .execute(store.pool())
    .await
    .expect("orphan");
    sqlx::query("UPDATE sku_stock SET reserved = reserved + 2 WHERE sku_id = ?")
        .bind(sku)
        .execute(store.pool())
        .await
        .expect("reserved");
    let survivor = (victim + 1) % 3;
    cluster
        .until_taken_over(survivor, sku, &owner, killed)
        .await;
    let available = || async {
        levels(&client, &bases[survivor], sku)
            .await
            .map(|(available, _)| available)
    };
    assert_eq!(
        available().await,
        Some(8),
        "the orphan holds 2 until it is older than reserve_timeout"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while available().await != Some(10) {
        assert!(
            Instant::now() < deadline,
            "the orphaned hold was never given back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.stop_all().await;
}

/// The control room of a cluster node, in a real browser: its Cluster panel
/// names this node, counts the three nodes and the shards, and lists every
/// node among the owners, as `/admin/cluster` says.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_control_room_of_a_node_shows_the_cluster() {
    common::browser::chromium();
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_room").await;
    let mut cluster = start_cluster(&db, "room").await;
    let chromium = Chromium::launch().await;
    let page = sign_in(
        &chromium.browser,
        &cluster.nodes[1].base(),
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
    )
    .await;
    wait_for(
        &page,
        &format!(
            "document.getElementById('cluster-mode').textContent\
             .startsWith('cluster of 3 · {SHARDS} shards')"
        ),
        Duration::from_secs(10),
    )
    .await;
    let node = eval(&page, "document.getElementById('cluster-node').textContent").await;
    assert_eq!(node, "n2");
    let owners = eval(
        &page,
        "document.getElementById('cluster-owners').textContent",
    )
    .await;
    let owners = owners.as_str().expect("owners text");
    for n in ["n1", "n2", "n3"] {
        assert!(owners.contains(n), "{n} among the owners: {owners}");
    }
    let held = eval(&page, "document.getElementById('cluster-held').textContent").await;
    let view = cluster.view(&cluster.nodes[1]).await.expect("view");
    let held_here = view["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .filter(|s| s["held_here"] == true)
        .count();
    assert_eq!(
        held,
        held_here.to_string(),
        "shards held here, as the API says"
    );
    chromium.close().await;
    cluster.stop_all().await;
}

/// SKUs in the hand-over test (`STAMPEDE_TEST_CLUSTER_HANDOVER_SKUS`).
fn handover_skus() -> usize {
    std::env::var("STAMPEDE_TEST_CLUSTER_HANDOVER_SKUS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}

/// A SKU's `(available, reserved)` as node `base` answers; `None` while
/// nobody answers for its shard (503).
async fn levels(client: &reqwest::Client, base: &str, sku: i64) -> Option<(i64, i64)> {
    let res = client
        .get(format!("{base}/api/v1/skus/{sku}/availability"))
        .send()
        .await
        .expect("availability");
    if res.status() == 503 {
        return None;
    }
    assert_eq!(res.status(), 200, "availability of {sku}");
    let view: Value = res.json().await.expect("json");
    Some((
        view["available"].as_i64().expect("available"),
        view["reserved"].as_i64().expect("reserved"),
    ))
}

/// The owner of many live SKU actors, some with decisions still waiting
/// for their batch, stopped with SIGTERM: it drains them all and hands its
/// shards over, and every one of its SKUs answers from the survivors with
/// the books it had. Reports how long the exit and the whole hand-over
/// took (the README's long form runs it with thousands of SKUs).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clean_stop_hands_over_many_live_skus() {
    const STOCK_EACH: i64 = 5;
    const BOUGHT: usize = 40;
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::mysql("cluster_many_skus").await;
    // Batches every 300 ms, so the last purchases wait for the flush of
    // the hand-over; no budgets, as every SKU is read.
    let mut cluster = start_cluster_with(
        &db,
        "many",
        &[
            ("STAMPEDE_INVENTORY_FLUSH_INTERVAL_MS", "300"),
            ("STAMPEDE_RATE_LIMIT_ENABLED", "false"),
        ],
    )
    .await;
    let client = cluster.client.clone();
    let bases: Vec<String> = cluster.nodes.iter().map(Node::base).collect();
    let seller = account(&client, &bases[0], "seller@many.test", "seller").await;
    let buyer = account(&client, &bases[0], "buyer@many.test", "customer").await;
    let wanted = handover_skus();
    let mut skus: Vec<i64> = Vec::with_capacity(wanted);
    while skus.len() < wanted {
        let n = (wanted - skus.len()).min(stampede::domain::catalog::SKUS_MAX);
        let list: Vec<Value> = (0..n)
            .map(|i| {
                json!({"sku_code": format!("M{i}"), "option": format!("o{i}"),
                            "price": 1_000, "stock": STOCK_EACH})
            })
            .collect();
        let product = post(
            &client,
            format!("{}/api/v1/products", bases[skus.len() % 3]),
            Some(&seller),
            json!({"name": format!("Many {}", skus.len()), "category": "drops", "skus": list}),
        )
        .await;
        let ids = product["skus"].as_array().expect("skus").iter();
        skus.extend(ids.map(|s| s["id"].as_i64().expect("sku id")));
    }
    // A read through any node brings every SKU's actor alive on its owner.
    let first_reads = Instant::now();
    let read: Vec<Option<(i64, i64)>> = futures::stream::iter(skus.iter().enumerate())
        .map(|(i, sku)| levels(&client, &bases[i % 3], *sku))
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        read.iter().all(|l| *l == Some((STOCK_EACH, 0))),
        "fresh SKUs"
    );
    let first_reads = first_reads.elapsed();
    // The node leaving: the first; its SKUs are those of the shards it holds.
    let leaving = 0;
    let view = cluster
        .view(&cluster.nodes[leaving])
        .await
        .expect("cluster view");
    let held: Vec<i64> = view["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .filter(|s| s["owner"].as_str() == Some(cluster.nodes[leaving].id.as_str()))
        .map(|s| s["shard"].as_i64().expect("shard"))
        .collect();
    let theirs: Vec<i64> = skus
        .iter()
        .copied()
        .filter(|sku| held.contains(&(sku % i64::from(SHARDS))))
        .collect();
    let actors: Value = client
        .get(format!("{}/api/v1/admin/actors", bases[leaving]))
        .bearer_auth(&cluster.admin)
        .send()
        .await
        .expect("actors")
        .json()
        .await
        .expect("json");
    let live = actors["active_sku_actors"].as_u64().expect("active") as usize;
    assert!(
        live >= theirs.len() && !theirs.is_empty(),
        "{live} live actors on the leaving node, which owns {} SKUs",
        theirs.len()
    );
    // Purchases of its SKUs through the two other nodes, the SIGTERM
    // right after the last answer: their decisions may wait for a batch.
    let bought = &theirs[..BOUGHT.min(theirs.len())];
    let orders: Vec<String> = futures::stream::iter(bought.iter().enumerate())
        .map(|(i, sku)| {
            let (client, buyer) = (client.clone(), buyer.clone());
            let base = bases[1 + i % 2].clone();
            async move {
                let res = client
                    .post(format!("{base}/api/v1/orders"))
                    .bearer_auth(&buyer)
                    .header("Idempotency-Key", format!("many-{sku}"))
                    .json(&json!({"items": [{"sku_id": sku, "quantity": 1}],
                                  "shipping_address": "Many street"}))
                    .send()
                    .await
                    .expect("purchase");
                assert_eq!(res.status(), 201, "purchase of {sku}");
                let body: Value = res.json().await.expect("json");
                body["order_id"].as_str().expect("order id").to_string()
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    signal(&cluster.nodes[leaving], "-TERM");
    let asked = Instant::now();
    let child = cluster.nodes[leaving].child.take().expect("running");
    let exited = tokio::spawn(async move {
        let mut child = child;
        let status = child.wait().await.expect("exit");
        (status, asked.elapsed())
    });
    // Each of its shards is taken by a survivor, which records its epoch
    // and loads the shard's books.
    let leaving_id = cluster.nodes[leaving].id.clone();
    let samples: Vec<i64> = held
        .iter()
        .filter_map(|shard| theirs.iter().find(|s| *s % i64::from(SHARDS) == *shard))
        .copied()
        .collect();
    let taken: Vec<Duration> = futures::future::join_all(
        samples
            .iter()
            .enumerate()
            .map(|(i, sku)| cluster.until_taken_over(1 + i % 2, *sku, &leaving_id, asked)),
    )
    .await;
    let taken = taken.into_iter().max().expect("some shards");
    let (status, exit_after) = exited.await.expect("join");
    assert!(status.success(), "the stopped node exited {status}");
    // Every SKU of the leaving node answers from its new owner, unchanged.
    let reads = Instant::now();
    futures::stream::iter(theirs.iter().enumerate())
        .for_each_concurrent(32, |(i, sku)| {
            let (client, base) = (client.clone(), bases[1 + i % 2].clone());
            let expected = if bought.contains(sku) {
                (STOCK_EACH - 1, 1)
            } else {
                (STOCK_EACH, 0)
            };
            async move {
                // A 503 while this node still learns who the new owner is.
                loop {
                    if let Some(now) = levels(&client, &base, *sku).await {
                        assert_eq!(now, expected, "the books of SKU {sku} after the hand-over");
                        return;
                    }
                    assert!(
                        reads.elapsed() < Duration::from_secs(30),
                        "SKU {sku} was never served again"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        })
        .await;
    let read_back = reads.elapsed();
    let store = db.store().await;
    eprintln!(
        "{} SKUs, {} live on the stopping node ({} bought just before): exited {exit_after:?} \
         after SIGTERM; all its {} shards taken by the survivors within {taken:?}; its SKUs \
         read back (loaded anew) in {read_back:?}, against {first_reads:?} for the first \
         reads of all {} SKUs",
        skus.len(),
        theirs.len(),
        bought.len(),
        held.len(),
        skus.len()
    );
    for sku in bought {
        let (on_hand, reserved, sold) = db_levels(&store, SkuId::new(*sku)).await;
        assert_eq!(
            (on_hand, reserved + sold),
            (STOCK_EACH, 1),
            "SKU {sku} in the database"
        );
    }
    for id in &orders {
        let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE id = ?")
            .bind(id.clone())
            .fetch_one(store.pool())
            .await
            .expect("order");
        assert_eq!(found, 1, "acknowledged order {id} is in the database");
    }
    cluster.stop_all().await;
}
