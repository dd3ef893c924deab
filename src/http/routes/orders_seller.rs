//! Orders from the seller's side: every order holding one of their SKUs,
//! showing only their own lines.

use actix_web::{HttpResponse, get, web};

use super::orders::{OrderPage, PageQuery};
use crate::domain::page::PageRequest;
use crate::http::auth::Seller;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};

/// Orders containing the caller's SKUs, newest first; `items` lists only
/// the caller's lines (`total` is the whole order's).
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = OrderPage),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: sellers only", body = Problem),
    )
)]
#[get("/seller/orders")]
pub async fn seller_orders(
    state: web::Data<AppState>,
    seller: Seller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(query.page, query.page_size)?;
    let (mut orders, total) = state
        .store
        .seller_orders(seller.id(), page.page_size, page.offset() as u64)
        .await?;
    for order in &mut orders {
        order.lines.retain(|l| l.seller_id == seller.id());
    }
    Ok(HttpResponse::Ok().json(OrderPage::new(page, &orders, total)))
}
