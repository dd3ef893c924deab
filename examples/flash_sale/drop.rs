//! Prepares a drop through the public API only, the way a shop would: a
//! seller signs up and lists a product whose single SKU holds the stock and
//! opens for sale at a set instant (or, for `--hot-skus`, products whose
//! many SKUs share the stock and all open at the same instant); buyers sign
//! up and log in for tokens.

use anyhow::{Context, bail};
use futures::{StreamExt, stream};
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "preorder-drop-2026";
/// Signups and logins in flight at once (argon2 is CPU-bound anyway).
const PREPARE_CONCURRENCY: usize = 16;
/// SKUs one product may list (`catalog::SKUS_MAX` of the API).
const SKUS_PER_PRODUCT: usize = 100;

/// A drop ready to fire.
pub struct Drop {
    /// The products listed for it (one, unless its SKUs outnumber what one
    /// product may hold).
    pub products: Vec<i64>,
    /// Every SKU on sale, with its stock; purchase `i` buys `skus[i % len]`.
    pub skus: Vec<Lot>,
    /// The first SKU (the only one of a single-SKU drop).
    pub sku_id: i64,
    /// Units on sale over all SKUs.
    pub stock: i64,
    /// Units one buyer may hold, when the sale sets a limit.
    pub per_user_limit: Option<i64>,
    pub buyers: Buyers,
}

/// One SKU of a drop and the units it holds.
#[derive(Clone, Copy, Debug)]
pub struct Lot {
    pub sku_id: i64,
    pub stock: i64,
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
    let (product_id, product) = create_product(client, base, seller_token, &body).await?;
    let sku_id = product["skus"][0]["id"]
        .as_i64()
        .context("product answer lacks skus[0].id")?;
    Ok(Drop {
        products: vec![product_id],
        skus: vec![Lot { sku_id, stock }],
        sku_id,
        stock,
        per_user_limit,
        buyers,
    })
}

/// Creates a product as the seller; its id and the whole answer.
async fn create_product(
    client: &reqwest::Client,
    base: &str,
    seller_token: &str,
    body: &Value,
) -> anyhow::Result<(i64, Value)> {
    let product = post(
        client,
        base,
        "/api/v1/products",
        Some(seller_token),
        body,
        201,
    )
    .await?;
    let id = product["id"].as_i64().context("product answer lacks id")?;
    Ok((id, product))
}

/// Lists `skus` SKUs sharing `stock` units (as evenly as whole units go,
/// at least one each), as many products as the API's limit of SKUs per
/// product needs; every SKU opens at `opens_at`, without a per-buyer limit.
pub async fn list_hot_skus(
    client: &reqwest::Client,
    base: &str,
    seller_token: &str,
    buyers: Buyers,
    skus: usize,
    stock: i64,
    opens_at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Drop> {
    let count = i64::try_from(skus)?;
    anyhow::ensure!(
        skus > 0 && stock >= count,
        "{stock} units cannot give each of {skus} SKUs one"
    );
    let (each, extra) = (stock / count, stock % count);
    let units = |i: usize| each + i64::from(i64::try_from(i).is_ok_and(|i| i < extra));
    let sale = json!({"opens_at": opens_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)});
    let (mut products, mut lots) = (Vec::new(), Vec::with_capacity(skus));
    for (p, first) in (0..skus).step_by(SKUS_PER_PRODUCT).enumerate() {
        let last = (first + SKUS_PER_PRODUCT).min(skus);
        let listed: Vec<Value> = (first..last)
            .map(|i| {
                json!({"sku_code": format!("HOT-{i}"), "option": format!("variant {i}"),
                       "price": 129_000, "stock": units(i)})
            })
            .collect();
        let body = json!({
            "name": format!("Preorder drop, part {}", p + 1),
            "category": "drops",
            "skus": listed,
            "sale": sale,
        });
        let (product_id, product) = create_product(client, base, seller_token, &body).await?;
        products.push(product_id);
        let listed = product["skus"]
            .as_array()
            .context("product answer lacks skus")?;
        for i in first..last {
            let code = format!("HOT-{i}");
            let sku_id = listed
                .iter()
                .find(|s| s["sku_code"] == code.as_str())
                .and_then(|s| s["id"].as_i64())
                .with_context(|| format!("product answer lacks SKU {code}"))?;
            lots.push(Lot {
                sku_id,
                stock: units(i),
            });
        }
    }
    let sku_id = lots.first().context("no SKU listed")?.sku_id;
    Ok(Drop {
        products,
        sku_id,
        skus: lots,
        stock,
        per_user_limit: None,
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
