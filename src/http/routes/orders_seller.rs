//! Orders from the seller's side: the paid orders holding one of their
//! SKUs, with their own lines only and, of the buyer, only what shipping
//! needs (see [`SellerOrder`]).

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::orders::PageQuery;
use crate::domain::ids::{OrderId, ProductId, SkuId};
use crate::domain::money::{Amount, Currency, Price};
use crate::domain::order::OrderStatus;
use crate::domain::page::PageRequest;
use crate::domain::quantity::Quantity;
use crate::domain::reason::Reason;
use crate::domain::time::Timestamp;
use crate::http::auth::Seller;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::SellerOrder;

#[derive(Debug, Serialize, ToSchema)]
pub struct SellerOrderLineView {
    pub sku_id: SkuId,
    pub product_id: ProductId,
    pub quantity: Quantity,
    /// Minor units, at the price of the moment the order was placed.
    pub unit_price: Price,
}

/// A paid order as one of its sellers sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SellerOrderView {
    pub order_id: OrderId,
    /// `PAID` or later; `CANCELLED` when it was cancelled after payment.
    pub status: OrderStatus,
    /// Why it was cancelled, e.g. `BUYER_CANCELLED`.
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
    /// The caller's lines only.
    pub items: Vec<SellerOrderLineView>,
    /// What the caller's lines come to, in minor units (not the order's
    /// total, which other sellers' lines may be part of).
    pub subtotal: Amount,
    pub currency: Currency,
    /// Who the parcel is for.
    pub recipient_name: String,
    pub shipping_address: String,
    pub tracking: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<SellerOrder> for SellerOrderView {
    fn from(o: SellerOrder) -> Self {
        Self {
            order_id: o.id,
            status: o.status,
            reason: o.reason,
            items: o
                .lines
                .into_iter()
                .map(|l| SellerOrderLineView {
                    sku_id: l.sku,
                    product_id: l.product_id,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                })
                .collect(),
            subtotal: o.subtotal,
            currency: o.currency,
            recipient_name: o.recipient_name,
            shipping_address: o.shipping_address,
            tracking: o.tracking,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SellerOrderPage {
    pub items: Vec<SellerOrderView>,
    pub page: u32,
    pub page_size: u32,
    pub total: i64,
}

/// The caller's paid orders, newest first: each with the caller's lines
/// only, their subtotal, and the recipient and address to ship to. Orders
/// not (yet) paid, rejected or cancelled before payment are not listed.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = SellerOrderPage),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: sellers only", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/seller/orders")]
pub async fn seller_orders(
    state: web::Data<AppState>,
    seller: Seller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(query.page, query.page_size)?;
    let (orders, total) = state
        .store
        .seller_orders(seller.id(), page.page_size, page.offset() as u64)
        .await?;
    Ok(HttpResponse::Ok().json(SellerOrderPage {
        items: orders.into_iter().map(SellerOrderView::from).collect(),
        page: page.page,
        page_size: page.page_size,
        total,
    }))
}
