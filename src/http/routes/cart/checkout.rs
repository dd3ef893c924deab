//! Checkout: the cart becomes one order through the same placing path as
//! `POST /orders` (all lines reserved or none), under the request's
//! `Idempotency-Key`.
//!
//! Every line is checked against live offers and stock first, and lines
//! that cannot be bought are reported together, each with its code, before
//! anything is reserved. A line that fails in between (a race with other
//! buyers) is refused by the stock actors, and nothing stays held.
//!
//! On success only the lines the order bought are taken out of the cart,
//! each only if still exactly as the checkout read it. A retry with the
//! same key finds the order by its key and answers it again, taking out
//! only lines holding an ordered quantity and last changed before the
//! order (a checkout cut short before its cleanup): a cart refilled
//! meanwhile keeps its new lines.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::live::{self, LineProblem};
use crate::actors::orders::handle::PlaceOrder;
use crate::actors::orders::placing::Placement;
use crate::actors::orders::views::OrderView;
use crate::domain::ids::{SkuId, UserId};
use crate::domain::quantity::Quantity;
use crate::domain::reason::RejectReason;
use crate::http::auth::Customer;
use crate::http::problem::Problem;
use crate::http::routes::order_fields::{self, AddressRequest, PaymentRequest};
use crate::http::routes::orders::{idempotency_key, order_lines};
use crate::http::{ApiError, AppState};
use crate::persistence::OrderRecord;

/// The order's fields other than its lines (which are the cart's). The
/// address comes in exactly one of three forms, as for `POST /orders`:
/// `shipping_address` (free text), `shipping` (structured) or
/// `shipping_address_id` (a saved address).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// Free text, 1 to 500 characters.
    pub shipping_address: Option<String>,
    pub shipping: Option<AddressRequest>,
    pub shipping_address_id: Option<i64>,
    /// Pay at once; without it the order waits in `AWAITING_PAYMENT`.
    pub payment: Option<PaymentRequest>,
}

/// A refused checkout: the problem, and every line that cannot be bought.
#[derive(Serialize, ToSchema)]
pub struct CheckoutProblem {
    #[serde(flatten)]
    pub problem: Problem,
    pub lines: Vec<LineProblem>,
}

/// Turns the cart into one order. Lines that cannot be bought are reported
/// per line (409, `lines: [{sku_id, code, detail}]`, the top-level `code`
/// being the first line's), and nothing is reserved. On success the
/// checked-out lines leave the cart. Retrying with the same
/// `Idempotency-Key` answers the same order and leaves lines added since
/// in the cart.
#[utoipa::path(
    tag = "cart",
    security(("bearer" = [])),
    request_body = CheckoutRequest,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]+$", description = "Client-chosen key, 1 to 255 visible ASCII characters, unique per intended order")),
    responses(
        (status = 201, body = OrderView, description = "Placed; the lines it bought left the cart"),
        (status = 400, description = "`VALIDATION_FAILED` (missing Idempotency-Key, bad address, not exactly one address form)", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only; `EMAIL_NOT_VERIFIED`: the shop requires a verified email (verify, then refresh the access token)", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown saved address or payment method", body = Problem),
        (status = 409, description = "`OUT_OF_STOCK`, `NOT_ON_SALE`, `PURCHASE_LIMIT_EXCEEDED` with the refused `lines`; `CONFLICT`: the cart is empty", body = CheckoutProblem, content_type = "application/problem+json"),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 422, description = "`IDEMPOTENCY_KEY_REUSED`, `CARD_EXPIRED`", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`: still processing, retry with the same key", body = Problem),
    )
)]
#[post("/checkout")]
pub async fn checkout(
    state: web::Data<AppState>,
    customer: Customer,
    req: HttpRequest,
    body: web::Json<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    // From the token's claim, as `POST /orders` does.
    customer.0.require_verified(&state)?;
    let buyer = customer.id();
    let key = idempotency_key(&req)?;
    if let Some(existing) = state.store.order_by_key(buyer, &key).await? {
        return replay(&state, buyer, existing).await;
    }
    let body = body.into_inner();
    let shipping = order_fields::shipping(
        &state,
        buyer,
        body.shipping_address.as_deref(),
        body.shipping.as_ref(),
        body.shipping_address_id,
    )
    .await?;
    let (pay_now, payment_method) =
        order_fields::payment(&state, buyer, body.payment.as_ref()).await?;
    let cart = state.store.cart(buyer).await?;
    if cart.is_empty() {
        return Err(ApiError::Conflict("the cart is empty".into()));
    }
    let items = order_lines(cart.iter().map(|l| (l.sku.get(), l.quantity.as_i64())))?;
    let refused = refused_lines(&state, &items).await?;
    if !refused.is_empty() {
        return Ok(refusal(None, refused));
    }
    let order = PlaceOrder {
        items,
        shipping_address: shipping.text,
        shipping: shipping.address,
        pay_now,
        payment_method,
    };
    let lines = order.items.clone();
    match state.orders.place(buyer, &key, order).await? {
        Placement::Accepted(order) => {
            state.store.cart_remove_checked_out(buyer, &cart).await?;
            Ok(HttpResponse::Created().json(OrderView::from(&*order)))
        }
        // Lost a race for the last units (or a limit only the actor knows):
        // name the lines that fail now, if any still do.
        Placement::Refused(reason) => {
            let refused = refused_lines(&state, &lines).await?;
            Ok(refusal(Some(reason), refused))
        }
    }
}

/// The answer an earlier checkout (or order) with this key got.
async fn replay(
    state: &AppState,
    buyer: UserId,
    existing: OrderRecord,
) -> Result<HttpResponse, ApiError> {
    match Placement::of(&existing) {
        Some(Placement::Accepted(order)) => {
            let bought: Vec<(SkuId, Quantity)> =
                order.lines.iter().map(|l| (l.sku, l.quantity)).collect();
            // Only lines unchanged since the order was placed: a crash
            // between the order and the cleanup is finished here, and a
            // refilled cart is left alone.
            state
                .store
                .cart_remove_bought_before(buyer, &bought, order.created_at)
                .await?;
            Ok(HttpResponse::Created().json(OrderView::from(&*order)))
        }
        Some(Placement::Refused(reason)) => Ok(ApiError::Refused(reason).error_response()),
        None => Err(ApiError::StillProcessing),
    }
}

async fn refused_lines(
    state: &AppState,
    items: &[(SkuId, Quantity)],
) -> Result<Vec<LineProblem>, ApiError> {
    Ok(live::inspect(state, items)
        .await?
        .iter()
        .filter_map(live::LiveLine::line_problem)
        .collect())
}

/// 409 with the refused lines; the top-level code is the first line's,
/// or `reason` when the stock actors refused a line that looks fine now.
fn refusal(reason: Option<RejectReason>, lines: Vec<LineProblem>) -> HttpResponse {
    let code = lines
        .first()
        .map(|l| l.code)
        .or(reason.map(RejectReason::code))
        .unwrap_or(RejectReason::OutOfStock.code());
    let detail = if lines.is_empty() {
        "a line of the cart could not be reserved; nothing was bought".to_string()
    } else {
        format!(
            "{} line(s) of the cart cannot be bought as they are; nothing was bought",
            lines.len()
        )
    };
    let status = StatusCode::CONFLICT;
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ))
        .json(CheckoutProblem {
            problem: Problem::new(status, code, detail),
            lines,
        })
}
