//! The burst: every purchase is pressed at the opening instant. Requests go
//! out over a fixed set of keep-alive connections (as from a gateway or load
//! balancer), opened before the opening like buyers watching the countdown;
//! a purchase waits for a free connection, and that wait counts in its
//! latency, which is measured from the opening to its answer.

use futures::future::join_all;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

use crate::drop::Drop;

/// What one purchase got.
pub struct Answer {
    /// HTTP status, or `None` when no answer came (connection error).
    pub status: Option<u16>,
    /// The problem `code` of a refusal, or the transport error.
    pub code: Option<String>,
    pub order_id: Option<String>,
    /// Index of the buyer whose token it carried.
    pub buyer: usize,
    /// From the opening to the answer: what the buyer saw.
    pub since_open: Duration,
    /// From sending to the answer: the server's share.
    pub service: Duration,
}

pub struct Burst {
    pub answers: Vec<Answer>,
    /// From the opening to the last answer.
    pub drained: Duration,
    /// Connections that were open before the opening.
    pub warm_connections: usize,
}

struct Purchase {
    buyer: usize,
    key: String,
}

pub async fn fire(
    client: &reqwest::Client,
    base: &str,
    drop: &Drop,
    purchases: usize,
    connections: usize,
    open: Instant,
) -> anyhow::Result<Burst> {
    let url = format!("{base}/api/v1/orders");
    let body = serde_json::to_vec(&json!({
        "items": [{"sku_id": drop.sku_id, "quantity": 1}],
        "shipping_address": "1 Drop Street, Seoul",
    }))?;
    let queue: Arc<Vec<Purchase>> = Arc::new(
        (0..purchases)
            .map(|i| Purchase {
                buyer: i % drop.buyers.len(),
                key: uuid::Uuid::new_v4().to_string(),
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    // One list for every worker: a copy each would be 1,000 copies of 500 tokens.
    let tokens: Arc<[String]> = drop.buyers.clone().into();
    let workers = connections.clamp(1, purchases.max(1));
    let warm = Arc::new(AtomicUsize::new(0));
    let tasks = (0..workers).map(|_| {
        let (client, url, body, queue, next, warm) = (
            client.clone(),
            url.clone(),
            body.clone(),
            Arc::clone(&queue),
            Arc::clone(&next),
            Arc::clone(&warm),
        );
        let tokens = Arc::clone(&tokens);
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
                let Some(p) = queue.get(i) else { break };
                let sent = Instant::now();
                let result = client
                    .post(&url)
                    .bearer_auth(&tokens[p.buyer])
                    .header("Idempotency-Key", &p.key)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let (status, code, order_id) = match result {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let body: serde_json::Value = res.json().await.unwrap_or_default();
                        let text = |k: &str| body[k].as_str().map(str::to_string);
                        (Some(status), text("code"), text("order_id"))
                    }
                    Err(e) => (None, Some(transport_error(&e)), None),
                };
                let now = Instant::now();
                answers.push(Answer {
                    status,
                    code,
                    order_id,
                    buyer: p.buyer,
                    since_open: now.saturating_duration_since(open),
                    service: now - sent,
                });
            }
            answers
        })
    });
    let mut answers = Vec::with_capacity(purchases);
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

fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "client timeout".into()
    } else if e.is_connect() {
        "connect error".into()
    } else {
        "connection error".into()
    }
}
