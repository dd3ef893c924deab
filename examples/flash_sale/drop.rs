//! Prepares a drop through the public API only, the way a shop would: a
//! seller signs up and lists a product whose single SKU holds the stock and
//! opens for sale at a set instant; buyers sign up and log in for tokens.

use anyhow::{Context, bail};
use futures::{StreamExt, stream};
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "preorder-drop-2026";
/// Signups and logins in flight at once (argon2 is CPU-bound anyway).
const PREPARE_CONCURRENCY: usize = 16;

/// A drop ready to fire.
pub struct Drop {
    pub sku_id: i64,
    pub stock: i64,
    /// Units one buyer may hold, when the sale sets a limit.
    pub per_user_limit: Option<i64>,
    pub buyers: Buyers,
}

/// The signed-up buyers: access tokens and account ids, by buyer index.
#[derive(Clone)]
pub struct Buyers {
    pub tokens: std::sync::Arc<[String]>,
    pub ids: std::sync::Arc<[i64]>,
}

impl Buyers {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }
}

/// Signs up and logs in `buyers` customers and one seller; answers the
/// seller's token and the buyers.
pub async fn buyers(
    client: &reqwest::Client,
    base: &str,
    run: &str,
    buyers: usize,
) -> anyhow::Result<(String, Buyers)> {
    let (_, seller) = account(
        client,
        base,
        &format!("seller-{run}@flash-sale.test"),
        "seller",
    )
    .await?;
    // `buffered` keeps the order, so buyer i is the i-th account.
    let accounts: Vec<anyhow::Result<(i64, String)>> = stream::iter(0..buyers)
        .map(|i| {
            let email = format!("buyer{i}-{run}@flash-sale.test");
            async move { account(client, base, &email, "customer").await }
        })
        .buffered(PREPARE_CONCURRENCY)
        .collect()
        .await;
    let accounts = accounts.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let (ids, tokens): (Vec<i64>, Vec<String>) = accounts.into_iter().unzip();
    Ok((
        seller,
        Buyers {
            tokens: tokens.into(),
            ids: ids.into(),
        },
    ))
}

/// Lists the product; its SKU opens for sale at `opens_at`, with an
/// optional per-buyer limit.
pub async fn list_product(
    client: &reqwest::Client,
    base: &str,
    seller_token: &str,
    buyers: Buyers,
    stock: i64,
    per_user_limit: Option<i64>,
    opens_at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Drop> {
    let mut sale =
        json!({"opens_at": opens_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)});
    if let Some(limit) = per_user_limit {
        sale["per_user_limit"] = json!(limit);
    }
    let body = json!({
        "name": "Preorder drop",
        "category": "drops",
        "skus": [{"sku_code": "DROP-1", "option": "one size", "price": 129_000, "stock": stock}],
        "sale": sale,
    });
    let product = post(
        client,
        base,
        "/api/v1/products",
        Some(seller_token),
        &body,
        201,
    )
    .await?;
    let sku_id = product["skus"][0]["id"]
        .as_i64()
        .context("product answer lacks skus[0].id")?;
    Ok(Drop {
        sku_id,
        stock,
        per_user_limit,
        buyers,
    })
}

/// Signs up and logs in; answers the account id and its access token.
async fn account(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    role: &str,
) -> anyhow::Result<(i64, String)> {
    let signup = json!({"email": email, "password": PASSWORD, "name": "Drop Buyer", "role": role});
    let created = post(client, base, "/api/v1/auth/signup", None, &signup, 201).await?;
    let id = created["id"].as_i64().context("signup answer lacks id")?;
    let login = json!({"email": email, "password": PASSWORD});
    let tokens = post(client, base, "/api/v1/auth/login", None, &login, 200).await?;
    let token = tokens["access_token"]
        .as_str()
        .map(str::to_string)
        .context("login answer lacks access_token")?;
    Ok((id, token))
}

/// POSTs JSON and insists on `expect`; retries 429 and 503 after a pause.
async fn post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
    expect: u16,
) -> anyhow::Result<Value> {
    for _ in 0..20 {
        let mut req = client.post(format!("{base}{path}")).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.with_context(|| format!("POST {path}"))?;
        let status = res.status().as_u16();
        if status == 429 || status == 503 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        let text = res.text().await?;
        if status != expect {
            bail!("POST {path} answered {status}, expected {expect}: {text}");
        }
        return Ok(serde_json::from_str(&text)?);
    }
    bail!("POST {path} kept answering 429/503")
}
