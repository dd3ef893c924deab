//! A cart's lines as they stand right now: each SKU's live price (the
//! offers placing an order reads) and its availability (from its actor),
//! and whether the line could be bought as it is.

use futures::future::try_join_all;
use serde::Serialize;
use utoipa::ToSchema;

use crate::actors::{InventoryError, SkuSnapshot};
use crate::domain::ids::{ProductId, SkuId};
use crate::domain::money::{Amount, Currency, Price};
use crate::domain::quantity::Quantity;
use crate::domain::reason::RejectReason;
use crate::http::{ApiError, AppState};
use crate::persistence::SkuOffer;

/// One line, priced and checked now.
pub struct LiveLine {
    pub sku: SkuId,
    pub quantity: Quantity,
    pub offer: Option<SkuOffer>,
    pub stock: Option<SkuSnapshot>,
    /// Why the line cannot be bought as it is, if it cannot.
    pub problem: Option<RejectReason>,
}

/// Prices and checks `lines`, asking every SKU's actor at once.
pub async fn inspect(
    state: &AppState,
    lines: &[(SkuId, Quantity)],
) -> Result<Vec<LiveLine>, ApiError> {
    let skus: Vec<SkuId> = lines.iter().map(|(s, _)| *s).collect();
    let offers = state.store.sku_offers(&skus).await?;
    let stocks = try_join_all(lines.iter().map(|(sku, _)| async move {
        match state.stock.snapshot(*sku).await {
            Ok(s) => Ok(Some(s)),
            Err(InventoryError::UnknownSku(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }))
    .await?;
    Ok(lines
        .iter()
        .zip(stocks)
        .map(|((sku, quantity), stock)| {
            let offer = offers.iter().find(|o| o.sku == *sku).cloned();
            let problem = match (&offer, &stock) {
                (None, _) | (_, None) => Some(RejectReason::NotOnSale),
                (Some(o), _) if o.seller_withdrawn => Some(RejectReason::NotOnSale),
                (_, Some(s)) if !s.on_sale => Some(RejectReason::NotOnSale),
                (_, Some(s)) if s.available < quantity.as_i64() => Some(RejectReason::OutOfStock),
                (_, Some(s))
                    if s.per_user_limit
                        .is_some_and(|l| quantity.as_i64() > i64::from(l)) =>
                {
                    Some(RejectReason::PurchaseLimitExceeded)
                }
                _ => None,
            };
            LiveLine {
                sku: *sku,
                quantity: *quantity,
                offer,
                stock,
                problem,
            }
        })
        .collect())
}

/// A line that cannot be bought, as the checkout's problem lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineProblem {
    pub sku_id: SkuId,
    /// `OUT_OF_STOCK`, `NOT_ON_SALE` or `PURCHASE_LIMIT_EXCEEDED`.
    pub code: &'static str,
    pub detail: &'static str,
}

impl LiveLine {
    pub fn line_problem(&self) -> Option<LineProblem> {
        self.problem.map(|p| LineProblem {
            sku_id: self.sku,
            code: p.code(),
            detail: match p {
                RejectReason::OutOfStock => "not enough stock for this quantity",
                RejectReason::NotOnSale => "not on sale now (or no longer sold)",
                RejectReason::PurchaseLimitExceeded => "more than the per-buyer limit",
            },
        })
    }
}

/// A cart line as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartLineView {
    pub sku_id: SkuId,
    /// The SKU's product; `null` when it is no longer sold.
    pub product_id: Option<ProductId>,
    pub quantity: Quantity,
    /// Minor units, the price right now; `null` when no longer sold.
    pub unit_price: Option<Price>,
    pub currency: Option<Currency>,
    /// `unit_price × quantity`, minor units.
    pub line_total: Option<Amount>,
    /// Units that can be bought right now.
    pub available: i64,
    /// Whether the SKU is on sale right now.
    pub on_sale: bool,
    /// Why the line cannot be bought as it is (`OUT_OF_STOCK`,
    /// `NOT_ON_SALE`, `PURCHASE_LIMIT_EXCEEDED`); `null` when it can.
    pub problem: Option<&'static str>,
}

/// The caller's cart with live prices and availability.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartView {
    pub items: Vec<CartLineView>,
    /// Sum of the priced lines, minor units; `null` when empty or when
    /// lines differ in currency.
    pub total: Option<Amount>,
    pub currency: Option<Currency>,
    /// True when every line can be bought as it is.
    pub purchasable: bool,
}

impl CartView {
    pub fn new(lines: &[LiveLine]) -> Self {
        let items: Vec<CartLineView> = lines
            .iter()
            .map(|l| CartLineView {
                sku_id: l.sku,
                product_id: l.offer.as_ref().map(|o| o.product_id),
                quantity: l.quantity,
                unit_price: l.offer.as_ref().map(|o| o.price),
                currency: l.offer.as_ref().map(|o| o.currency),
                line_total: l.offer.as_ref().and_then(|o| o.price.times(l.quantity)),
                available: l.stock.as_ref().map_or(0, |s| s.available),
                on_sale: l.stock.as_ref().is_some_and(|s| s.on_sale),
                problem: l.problem.map(RejectReason::code),
            })
            .collect();
        let mut currency = None;
        let mut total = Some(Amount::ZERO);
        for item in &items {
            match (item.currency, item.line_total) {
                (Some(c), Some(t)) if *currency.get_or_insert(c) == c => {
                    total = total.and_then(|sum| sum.checked_add(t));
                }
                (Some(_), _) => total = None,
                (None, _) => {}
            }
        }
        Self {
            purchasable: !items.is_empty() && items.iter().all(|i| i.problem.is_none()),
            total: total.filter(|_| currency.is_some()),
            currency: currency.filter(|_| total.is_some()),
            items,
        }
    }
}
