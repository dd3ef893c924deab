//! The burst: every purchase is pressed at the opening instant. Requests go
//! out over a fixed set of keep-alive connections (as from a gateway or load
//! balancer), opened before the opening like buyers watching the countdown;
//! a purchase waits for a free connection, and that wait counts in its
//! latency, which is measured from the opening to its answer.
//!
//! Two client behaviours ride on the same burst: a share of buyers may send
//! every purchase more than once (same Idempotency-Key, same body, side by
//! side in the queue so the copies travel concurrently), and a persistent
//! client retries a purchase that got no answer, a 5xx or a 429 with the same
//! key until a final answer, as a real shop front does after a crash.
//!
//! The same burst can carry an authenticated GET instead of purchases
//! ([`fire_get`]): the ceiling the HTTP stack alone allows (`ceiling.rs`).

use futures::future::join_all;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

use crate::drop::{Buyers, Drop};

/// What one request (one copy of a purchase) got in the end.
pub struct Answer {
    /// Index of the purchase this request belongs to; copies share it.
    pub purchase: usize,
    /// Its Idempotency-Key.
    pub key: Arc<str>,
    /// HTTP status, or `None` when no answer came (connection error).
    pub status: Option<u16>,
    /// The problem `code` of a refusal, or the transport error.
    pub code: Option<String>,
    pub order_id: Option<String>,
    /// Index of the buyer whose token it carried.
    pub buyer: usize,
    /// From the opening to the answer: what the buyer saw.
    pub since_open: Duration,
    /// From sending (the last attempt) to the answer: the server's share.
    pub service: Duration,
    /// Requests this copy sent: 1 unless a persistent client retried it.
    pub attempts: u32,
}

impl Answer {
    /// A final answer: one a client does not retry (anything but no
    /// answer, a 5xx or a 429).
    pub fn is_final(&self) -> bool {
        is_final(self.status)
    }
}

fn is_final(status: Option<u16>) -> bool {
    matches!(status, Some(s) if s != 429 && s < 500)
}

pub struct Burst {
    pub answers: Vec<Answer>,
    /// From the opening to the last answer.
    pub drained: Duration,
    /// Connections that were open before the opening.
    pub warm_connections: usize,
}

/// How the buyers behave during the burst.
pub struct Shape {
    pub purchases: usize,
    pub connections: usize,
    /// Buyers `0..retrying_buyers` send every purchase `copies` times.
    pub retrying_buyers: usize,
    pub copies: usize,
    /// Retry each request until a final answer, or take the first answer.
    pub persist: Option<Persist>,
    /// Counts requests as they reach their (final) answer, for a watcher.
    pub progress: Arc<AtomicUsize>,
}

/// A persistent client: retries with the same key after no answer, a 5xx
/// or a 429, doubling its pause from `backoff` up to one second.
#[derive(Clone, Copy)]
pub struct Persist {
    /// A request still without a final answer this long after its first
    /// attempt is given up (and reported as such).
    pub give_up_after: Duration,
    pub backoff: Duration,
    /// One attempt waits this long for its answer.
    pub attempt_timeout: Duration,
}

/// What every request of a burst asks.
enum Ask {
    /// `POST` a one-unit order; purchase `i` carries `bodies[i % len]`
    /// (one body per SKU of the drop).
    Purchase { path: String, bodies: Vec<Vec<u8>> },
    /// `GET` with the buyer's token, no body, no Idempotency-Key.
    Get { path: String },
}

/// One request in the queue.
struct Request {
    purchase: usize,
    buyer: usize,
    key: Arc<str>,
}

/// An HTTP client for the tool. Each burst gets one of its own, so its
/// connections are the ones it opened before the opening, never idle ones
/// of an earlier drop that the server may be closing.
pub fn client() -> reqwest::Result<reqwest::Client> {
    client_keeping_idle(Duration::from_secs(90))
}

/// How long a client whose connections may sit idle between requests
/// keeps one: actix closes a connection after 5 s idle, and a request sent
/// on it just as it closes fails ("connection closed before message
/// completed"), as a listing once did right after a ceiling burst of about
/// 5 s, and reads beside a 3 s drop on connections opened 2 s before it.
pub const SHORT_IDLE: Duration = Duration::from_secs(2);

/// The tool's client, dropping connections idle for `idle`.
pub fn client_keeping_idle(idle: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(120))
        .pool_idle_timeout(idle)
        .build()
}

/// Presses `shape.purchases` purchases of the drop at `open`, spread over
/// its SKUs in turn, and over `bases` (the nodes of a cluster behind a
/// load balancer) connection by connection.
pub async fn fire(
    bases: &[&str],
    drop: &Drop,
    shape: &Shape,
    open: Instant,
) -> anyhow::Result<Burst> {
    let bodies = drop
        .skus
        .iter()
        .map(|lot| serde_json::to_vec(&purchase_body(lot.sku_id)))
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(!bodies.is_empty(), "a drop without SKUs");
    let path = "/api/v1/orders".to_string();
    burst(
        bases,
        &drop.buyers,
        Ask::Purchase { path, bodies },
        shape,
        open,
    )
    .await
}

/// The order a purchase of the drop sends: one unit of `sku_id`.
pub fn purchase_body(sku_id: i64) -> serde_json::Value {
    json!({
        "items": [{"sku_id": sku_id, "quantity": 1}],
        "shipping_address": "1 Drop Street, Seoul",
    })
}

/// Sends `shape.purchases` authenticated `GET {path}`s at `open`, in the
/// same shape as a drop's burst: the same connections opened before, the
/// same buyers' tokens in turn.
pub async fn fire_get(
    base: &str,
    buyers: &Buyers,
    path: &str,
    shape: &Shape,
    open: Instant,
) -> anyhow::Result<Burst> {
    let path = path.to_string();
    burst(&[base], buyers, Ask::Get { path }, shape, open).await
}

async fn burst(
    bases: &[&str],
    buyers: &Buyers,
    ask: Ask,
    shape: &Shape,
    open: Instant,
) -> anyhow::Result<Burst> {
    let client = client()?;
    let ask = Arc::new(ask);
    let tokens = Arc::clone(&buyers.tokens);
    let buyers = buyers.len().max(1);
    let mut requests = Vec::with_capacity(shape.purchases);
    for purchase in 0..shape.purchases {
        let buyer = purchase % buyers;
        let key: Arc<str> = uuid::Uuid::new_v4().to_string().into();
        let copies = if buyer < shape.retrying_buyers {
            shape.copies.max(1)
        } else {
            1
        };
        // Copies side by side: consecutive connections take them at once.
        for _ in 0..copies {
            requests.push(Request {
                purchase,
                buyer,
                key: Arc::clone(&key),
            });
        }
    }
    let total = requests.len();
    let queue = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let workers = shape.connections.clamp(1, total.max(1));
    let warm = Arc::new(AtomicUsize::new(0));
    anyhow::ensure!(!bases.is_empty(), "no server to fire at");
    let tasks = (0..workers).map(|w| {
        let base = bases[w % bases.len()].to_string();
        let (client, ask, queue, next, warm) = (
            client.clone(),
            Arc::clone(&ask),
            Arc::clone(&queue),
            Arc::clone(&next),
            Arc::clone(&warm),
        );
        let tokens = Arc::clone(&tokens);
        let progress = Arc::clone(&shape.progress);
        let persist = shape.persist;
        let health = format!("{base}/health/live");
        tokio::spawn(async move {
            // Opens this worker's connection before the opening.
            if client.get(&health).send().await.is_ok() {
                warm.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep_until(open).await;
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(r) = queue.get(i) else { break };
                let started = Instant::now();
                let mut pause = persist.map_or(Duration::ZERO, |p| p.backoff);
                let mut attempts = 0;
                let answer = loop {
                    attempts += 1;
                    let mut request = match &*ask {
                        Ask::Purchase { path, bodies } => client
                            .post(format!("{base}{path}"))
                            .header("Idempotency-Key", &*r.key)
                            .header("Content-Type", "application/json")
                            .body(bodies[r.purchase % bodies.len()].clone()),
                        Ask::Get { path } => client.get(format!("{base}{path}")),
                    }
                    .bearer_auth(&tokens[r.buyer]);
                    if let Some(p) = persist {
                        request = request.timeout(p.attempt_timeout);
                    }
                    let sent = Instant::now();
                    let (status, code, order_id) = answer_of(request.send().await).await;
                    let now = Instant::now();
                    let answer = Answer {
                        purchase: r.purchase,
                        key: Arc::clone(&r.key),
                        status,
                        code,
                        order_id,
                        buyer: r.buyer,
                        since_open: now.saturating_duration_since(open),
                        service: now - sent,
                        attempts,
                    };
                    match persist {
                        Some(p) if !is_final(status) && now - started < p.give_up_after => {
                            tokio::time::sleep(pause).await;
                            pause = (pause * 2).min(Duration::from_secs(1));
                        }
                        _ => break answer,
                    }
                };
                progress.fetch_add(1, Ordering::Relaxed);
                answers.push(answer);
            }
            answers
        })
    });
    let mut answers = Vec::with_capacity(total);
    for worker in join_all(tasks).await {
        answers.extend(worker?);
    }
    let drained = answers
        .iter()
        .map(|a| a.since_open)
        .max()
        .unwrap_or_default();
    Ok(Burst {
        answers,
        drained,
        warm_connections: warm.load(Ordering::Relaxed),
    })
}

/// Status, problem code (or transport error) and order id of one attempt.
async fn answer_of(
    result: reqwest::Result<reqwest::Response>,
) -> (Option<u16>, Option<String>, Option<String>) {
    match result {
        Ok(res) => {
            let status = res.status().as_u16();
            match res.json::<serde_json::Value>().await {
                Ok(body) => {
                    let text = |k: &str| body[k].as_str().map(str::to_string);
                    (Some(status), text("code"), text("order_id"))
                }
                // The connection died while the body was on its way.
                Err(e) if !e.is_decode() => (None, Some(transport_error(&e)), None),
                Err(_) => (Some(status), Some("body not JSON".into()), None),
            }
        }
        Err(e) => (None, Some(transport_error(&e)), None),
    }
}

pub fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "client timeout".into()
    } else if e.is_connect() {
        "connect error".into()
    } else {
        "connection error".into()
    }
}
