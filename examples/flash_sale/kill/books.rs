//! The books of one killed drop, read back once every buyer has a final
//! answer: from the API (each 201 order by its buyer, the SKU's levels) and
//! from the database (the SKU's row, its holding reservations, its orders).
//!
//! Orders are not paid during the drop, so a unit counts as sold while an
//! order holds it: `taken = reserved + sold`. With demand above the stock
//! and every buyer retrying to a final answer, `taken` must equal the stock
//! and the orders answered 201, one unit each.

use futures::{StreamExt, stream};
use serde::Serialize;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::drop::Drop;
use crate::fire::Answer;
use crate::report::answer_key;

/// Order states that hold no stock.
const ENDED: [&str; 2] = ["CANCELLED", "REJECTED"];

#[derive(Debug, Default, Serialize)]
pub struct Books {
    /// Final answers by status and code (`"201"`, `"409 OUT_OF_STOCK"`).
    pub finals: BTreeMap<String, usize>,
    /// Distinct orders answered 201.
    pub created: usize,
    /// 201 orders that `GET /orders/{id}` or the database no longer show.
    pub lost: usize,
    #[serde(skip)]
    lost_ids: BTreeSet<String>,
    /// Units taken beyond the stock (API or database, whichever is more).
    pub oversold: i64,
    /// `reserved + sold` from `GET /skus/{id}/availability`.
    pub api_taken: i64,
    /// `reserved + sold` of the SKU's row.
    pub db_taken: i64,
    /// Units held by the SKU's `reserved` and `committed` reservations.
    pub db_held: i64,
    /// Most orders answered 201 to one buyer.
    pub most_per_buyer: usize,
    /// What went wrong, precisely (empty when the drop passed).
    pub failures: Vec<String>,
}

impl Books {
    fn fail(&mut self, what: String) {
        self.failures.push(what);
    }

    fn lose(&mut self, id: &str, what: String) {
        self.lost_ids.insert(id.to_string());
        self.lost = self.lost_ids.len();
        self.fail(what);
    }
}

/// Reads the drop's books back and checks them.
pub async fn check(
    client: &reqwest::Client,
    base: &str,
    database_url: &str,
    drop: &Drop,
    answers: &[Answer],
) -> anyhow::Result<Books> {
    let mut books = Books::default();
    let mut acknowledged: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_buyer: BTreeMap<usize, usize> = BTreeMap::new();
    for a in answers {
        if !a.is_final() {
            books.fail(format!(
                "purchase {} (buyer {}, key {}) never got a final answer in {} attempts: last {}",
                a.purchase,
                drop.buyers.ids[a.buyer],
                a.key,
                a.attempts,
                answer_key(a)
            ));
            continue;
        }
        *books.finals.entry(answer_key(a)).or_default() += 1;
        match (a.status, &a.order_id) {
            (Some(201), Some(id)) => {
                acknowledged.insert(id.clone(), a.buyer);
                *per_buyer.entry(a.buyer).or_default() += 1;
            }
            (Some(201), None) => {
                books.fail(format!("purchase {}: 201 without order_id", a.purchase))
            }
            (Some(409 | 422), _) if a.code.is_some() => {}
            _ => books.fail(format!(
                "purchase {} (buyer {}, key {}): unexpected final answer {}",
                a.purchase,
                drop.buyers.ids[a.buyer],
                a.key,
                answer_key(a)
            )),
        }
    }
    books.created = acknowledged.len();
    books.most_per_buyer = per_buyer.values().copied().max().unwrap_or(0);
    if let Some(limit) = drop.per_user_limit {
        for (buyer, n) in &per_buyer {
            if i64::try_from(*n).is_ok_and(|n| n > limit) {
                books.fail(format!(
                    "buyer {} was answered 201 {n} times, over the limit of {limit}",
                    drop.buyers.ids[*buyer]
                ));
            }
        }
    }
    api_books(client, base, drop, &acknowledged, &mut books).await?;
    db_books(database_url, drop, &acknowledged, &mut books).await?;
    let created = i64::try_from(books.created)?;
    books.oversold = (books.api_taken.max(books.db_taken) - drop.stock).max(0);
    if books.api_taken != drop.stock || books.db_taken != drop.stock || created != drop.stock {
        books.fail(format!(
            "stock {} but taken {} (API), {} (database), and {} orders answered 201",
            drop.stock, books.api_taken, books.db_taken, books.created
        ));
    }
    if books.db_held != books.db_taken {
        books.fail(format!(
            "the SKU row says {} units taken, its reservations hold {}",
            books.db_taken, books.db_held
        ));
    }
    Ok(books)
}

/// Every 201 order through its buyer's eyes, and the SKU's levels.
async fn api_books(
    client: &reqwest::Client,
    base: &str,
    drop: &Drop,
    acknowledged: &BTreeMap<String, usize>,
    books: &mut Books,
) -> anyhow::Result<()> {
    let seen: Vec<(String, anyhow::Result<(u16, serde_json::Value)>)> =
        stream::iter(acknowledged.iter())
            .map(|(id, buyer)| async move {
                let url = format!("{base}/api/v1/orders/{id}");
                (
                    id.clone(),
                    get(client, &url, Some(&drop.buyers.tokens[*buyer])).await,
                )
            })
            .buffer_unordered(16)
            .collect()
            .await;
    for (id, got) in seen {
        let (status, order) = got?;
        if status != 200 {
            books.lose(
                &id,
                format!("order {id} was answered 201, GET answers {status}"),
            );
        } else if let Some(s) = order["status"].as_str().filter(|s| ENDED.contains(s)) {
            books.fail(format!("order {id} was answered 201 and is now {s}"));
        }
    }
    let url = format!("{base}/api/v1/skus/{}/availability", drop.sku_id);
    let (status, level) = get(client, &url, None).await?;
    anyhow::ensure!(status == 200, "availability answered {status}");
    let field = |k: &str| level[k].as_i64().unwrap_or(-1);
    books.api_taken = field("reserved") + field("sold");
    if field("available") + books.api_taken != drop.stock {
        books.fail(format!(
            "availability does not add up to the stock: {level}"
        ));
    }
    Ok(())
}

/// The SKU's row, the reservations holding its units and its orders.
async fn db_books(
    database_url: &str,
    drop: &Drop,
    acknowledged: &BTreeMap<String, usize>,
    books: &mut Books,
) -> anyhow::Result<()> {
    // A pool of its own per check: the database may have been restarted.
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await?;
    let row = sqlx::query("SELECT on_hand, reserved, sold FROM sku_stock WHERE sku_id = ?")
        .bind(drop.sku_id)
        .fetch_one(&pool)
        .await?;
    let (on_hand, reserved, sold): (i64, i64, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    books.db_taken = reserved + sold;
    if on_hand != drop.stock {
        books.fail(format!(
            "the SKU row has on_hand {on_hand}, not the stock {}",
            drop.stock
        ));
    }
    let holds: Vec<(String, i64, i64, String)> = sqlx::query_as(
        "SELECT reservation_id, user_id, quantity, status FROM reservations \
         WHERE sku_id = ? AND status IN ('reserved', 'committed')",
    )
    .bind(drop.sku_id)
    .fetch_all(&pool)
    .await?;
    books.db_held = holds.iter().map(|h| h.2).sum();
    let orders: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT o.id, o.buyer_id, o.status FROM orders o \
         JOIN order_items i ON i.order_id = o.id WHERE i.sku_id = ?",
    )
    .bind(drop.sku_id)
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    let holding: BTreeMap<&str, (i64, &str)> = orders
        .iter()
        .filter(|o| !ENDED.contains(&o.2.as_str()))
        .map(|o| (o.0.as_str(), (o.1, o.2.as_str())))
        .collect();
    let all: BTreeSet<&str> = orders.iter().map(|o| o.0.as_str()).collect();
    for id in acknowledged.keys() {
        if !all.contains(id.as_str()) {
            books.lose(id, format!("order {id} was answered 201 and has no row"));
        }
    }
    for (id, (buyer, status)) in &holding {
        if !acknowledged.contains_key(*id) {
            books.fail(format!(
                "order {id} of buyer {buyer} is {status} but no purchase was answered 201 for it"
            ));
        }
    }
    for (rid, user, quantity, status) in &holds {
        if !holding.contains_key(rid.as_str()) {
            books.fail(format!(
                "reservation {rid} of buyer {user} holds {quantity} ({status}) for no live order"
            ));
        }
    }
    if let Some(limit) = drop.per_user_limit {
        let mut held: BTreeMap<i64, i64> = BTreeMap::new();
        for (_, user, quantity, _) in &holds {
            *held.entry(*user).or_default() += quantity;
        }
        for (user, n) in held.iter().filter(|(_, n)| **n > limit) {
            books.fail(format!(
                "buyer {user} holds {n} units, over the limit of {limit}"
            ));
        }
    }
    Ok(())
}

/// GETs JSON, waiting out 429 and 503 (budgets, a database coming back).
async fn get(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    for _ in 0..40 {
        let mut req = client.get(url).timeout(Duration::from_secs(30));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        if status == 429 || status == 503 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        return Ok((status, res.json().await.unwrap_or_default()));
    }
    anyhow::bail!("GET {url} kept answering 429/503")
}
