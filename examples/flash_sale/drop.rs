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
    /// Access tokens of the buyers.
    pub buyers: Vec<String>,
}

/// Signs up and logs in `buyers` customers and one seller.
pub async fn buyers(
    client: &reqwest::Client,
    base: &str,
    run: &str,
    buyers: usize,
) -> anyhow::Result<(String, Vec<String>)> {
    let seller = account(
        client,
        base,
        &format!("seller-{run}@flash-sale.test"),
        "seller",
    )
    .await?;
    let tokens: Vec<anyhow::Result<String>> = stream::iter(0..buyers)
        .map(|i| {
            let email = format!("buyer{i}-{run}@flash-sale.test");
            async move { account(client, base, &email, "customer").await }
        })
        .buffer_unordered(PREPARE_CONCURRENCY)
        .collect()
        .await;
    Ok((seller, tokens.into_iter().collect::<anyhow::Result<_>>()?))
}

/// Lists the product; its SKU opens for sale `lead` from now.
pub async fn list_product(
    client: &reqwest::Client,
    base: &str,
    seller_token: &str,
    buyers: Vec<String>,
    stock: i64,
    opens_at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Drop> {
    let body = json!({
        "name": "Preorder drop",
        "category": "drops",
        "skus": [{"sku_code": "DROP-1", "option": "one size", "price": 129_000, "stock": stock}],
        "sale": {"opens_at": opens_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
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
        buyers,
    })
}

async fn account(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    role: &str,
) -> anyhow::Result<String> {
    let signup = json!({"email": email, "password": PASSWORD, "name": "Drop Buyer", "role": role});
    post(client, base, "/api/v1/auth/signup", None, &signup, 201).await?;
    let login = json!({"email": email, "password": PASSWORD});
    let tokens = post(client, base, "/api/v1/auth/login", None, &login, 200).await?;
    tokens["access_token"]
        .as_str()
        .map(str::to_string)
        .context("login answer lacks access_token")
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
