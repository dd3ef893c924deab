//! Orders from the buyer's side: place (with an Idempotency-Key), pay,
//! cancel, and read them with their event log. Mounted as the `/orders`
//! scope, which spends from the caller's per-user request budget.

use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::actors::OrderError;
use crate::actors::orders::handle::PlaceOrder;
use crate::actors::orders::placing::Placement;
use crate::actors::orders::views::{OrderEventView, OrderView};
use crate::domain::ids::{OrderId, SkuId, UserId};
use crate::domain::order::OrderStatus;
use crate::domain::page::PageRequest;
use crate::domain::quantity::Quantity;
use crate::domain::reason::{Reason, RejectReason};
use crate::http::auth::Customer;
use crate::http::problem::Problem;
use crate::http::routes::order_fields::{self, AddressRequest, PaymentRequest};
use crate::http::{ApiError, AppState};
use crate::persistence::OrderRecord;

/// Most lines one order may have.
const MAX_LINES: usize = 50;
/// Most units of one SKU in one order.
const MAX_LINE_QUANTITY: i64 = 1_000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItemRequest {
    pub sku_id: i64,
    /// 1 to 1,000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

/// An order. The address comes in exactly one of three forms:
/// `shipping_address` (free text, as before), `shipping` (a structured
/// address) or `shipping_address_id` (one of the caller's saved addresses).
/// The order keeps a copy of a structured address: later changes to the
/// address book never rewrite it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    /// 1 to 50 lines, each SKU at most once.
    #[schema(min_items = 1, max_items = 50)]
    pub items: Vec<OrderItemRequest>,
    /// Free text, 1 to 500 characters.
    pub shipping_address: Option<String>,
    /// A structured address.
    pub shipping: Option<AddressRequest>,
    /// One of the caller's saved addresses (`/addresses`).
    pub shipping_address_id: Option<i64>,
    /// Pay at once; without it the order waits in `AWAITING_PAYMENT`.
    pub payment: Option<PaymentRequest>,
}

/// Checks an order's lines: 1 to 50, each SKU once, 1 to 1,000 units
/// each; answers them sorted by SKU (the order every saga reserves in).
pub(crate) fn order_lines(
    lines: impl ExactSizeIterator<Item = (i64, i64)>,
) -> Result<Vec<(SkuId, Quantity)>, ApiError> {
    if lines.len() == 0 || lines.len() > MAX_LINES {
        return Err(ApiError::Validation(format!(
            "items: must hold 1 to {MAX_LINES} lines"
        )));
    }
    let mut items = Vec::with_capacity(lines.len());
    for (sku, quantity) in lines {
        if quantity > MAX_LINE_QUANTITY {
            return Err(ApiError::Validation(format!(
                "quantity: at most {MAX_LINE_QUANTITY} per line"
            )));
        }
        items.push((SkuId::new(sku), Quantity::new(quantity)?));
    }
    items.sort_by_key(|(sku, _)| *sku);
    if items.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(ApiError::Validation(
            "items: each sku_id may appear once".into(),
        ));
    }
    Ok(items)
}

impl PlaceOrderRequest {
    async fn validate(self, state: &AppState, buyer: UserId) -> Result<PlaceOrder, ApiError> {
        let items = order_lines(self.items.iter().map(|i| (i.sku_id, i.quantity)))?;
        let shipping = order_fields::shipping(
            state,
            buyer,
            self.shipping_address.as_deref(),
            self.shipping.as_ref(),
            self.shipping_address_id,
        )
        .await?;
        let (pay_now, payment_method) =
            order_fields::payment(state, buyer, self.payment.as_ref()).await?;
        Ok(PlaceOrder {
            items,
            shipping_address: shipping.text,
            shipping: shipping.address,
            pay_now,
            payment_method,
        })
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Invalid(why) => ApiError::Validation(why),
            e @ (OrderError::UnknownSku(_) | OrderError::NotFound) => {
                ApiError::NotFound(e.to_string())
            }
            OrderError::NotOnSale(_) => ApiError::Refused(RejectReason::NotOnSale),
            OrderError::KeyReused => ApiError::IdempotencyKeyReused,
            OrderError::Conflict(why) => ApiError::Conflict(why),
            OrderError::Unavailable => ApiError::StillProcessing,
            OrderError::Store(e) => ApiError::Store(e),
        }
    }
}

pub(crate) fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let missing = || {
        ApiError::Validation(
            "Idempotency-Key: required header of 1 to 255 visible ASCII characters".into(),
        )
    };
    let key = req
        .headers()
        .get("idempotency-key")
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let valid = !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic());
    valid.then(|| key.to_string()).ok_or_else(missing)
}

/// Places an order: reserves every line or none. Retrying with the same
/// `Idempotency-Key` and body returns the first answer; the same key with
/// another body is refused.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    request_body = PlaceOrderRequest,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]+$", description = "Client-chosen key, 1 to 255 visible ASCII characters, unique per intended order")),
    responses(
        (status = 201, body = OrderView, description = "Reserved; `AWAITING_PAYMENT` until paid or `payment_due_at`"),
        (status = 400, description = "`VALIDATION_FAILED` (missing Idempotency-Key, bad items, bad address, not exactly one address form)", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only; `EMAIL_NOT_VERIFIED`: the shop requires a verified email (verify, then refresh the access token)", body = Problem),
        (status = 404, description = "`NOT_FOUND`: unknown SKU, saved address or saved payment method", body = Problem),
        (status = 409, description = "`OUT_OF_STOCK`, `NOT_ON_SALE` (outside the sale window, or the seller has left), `PURCHASE_LIMIT_EXCEEDED`", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 422, description = "`IDEMPOTENCY_KEY_REUSED`, `CARD_EXPIRED` (the saved method)", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`: still processing, retry with the same key", body = Problem),
    )
)]
#[post("")]
pub async fn place(
    state: web::Data<AppState>,
    buyer: Customer,
    req: HttpRequest,
    body: web::Json<PlaceOrderRequest>,
) -> Result<HttpResponse, ApiError> {
    // From the token's claim: no read on the purchase path (see `auth`).
    buyer.0.require_verified(&state)?;
    let key = idempotency_key(&req)?;
    let order = body.into_inner().validate(&state, buyer.id()).await?;
    // The first answer, the same for every retry with this key. A refusal
    // is an answer, not a failure of the request: it is rendered here
    // rather than returned as an error, which the request log would report
    // nine times in ten during a drop.
    Ok(match state.orders.place(buyer.id(), &key, order).await? {
        Placement::Accepted(order) => HttpResponse::Created().json(OrderView::from(&*order)),
        Placement::Refused(reason) => ApiError::Refused(reason).error_response(),
    })
}

/// An order id from a path: order ids are UUIDs, anything else names no order.
pub(crate) fn order_path(id: &str) -> Result<OrderId, ApiError> {
    OrderId::parse(id).map_err(|_| ApiError::NotFound("no such order".into()))
}

/// Which saved payment method pays (`/payment-methods`); `{}`, `null` or
/// no body pays as before, without one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    pub method_id: Option<i64>,
}

/// Pays an `AWAITING_PAYMENT` order and answers when the payment went
/// through (`PAID`) or failed (402, the order is then cancelled and its
/// stock released). The body is optional: `{method_id}` pays with one of
/// the caller's saved methods.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    request_body(content = Option<PayRequest>, description = "Optional: a saved method to pay with"),
    responses(
        (status = 200, body = OrderView),
        (status = 400, description = "`VALIDATION_FAILED`: a body that is not `{}` or `{method_id}`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 402, description = "`PAYMENT_DECLINED`, `PAYMENT_TIMED_OUT`, `PAYMENT_EXPIRED`: the order is cancelled", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 404, description = "`NOT_FOUND`: no such order or saved method", body = Problem),
        (status = 409, description = "`CONFLICT`: not awaiting payment", body = Problem),
        (status = 422, description = "`CARD_EXPIRED`: the saved method has expired", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`: still processing", body = Problem),
    )
)]
#[post("/{id}/payment")]
pub async fn pay(
    state: web::Data<AppState>,
    buyer: Customer,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let order_id = order_path(&id)?;
    let method_id = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<Option<PayRequest>>(&body)
            .map_err(|e| ApiError::Validation(format!("invalid JSON body: {e}")))?
            .and_then(|p| p.method_id)
    };
    let token = match method_id {
        Some(id) => Some(
            order_fields::saved_method(&state, buyer.id(), id)
                .await?
                .token,
        ),
        None => None,
    };
    let order = state.orders.pay(buyer.id(), order_id, token).await?;
    if order.status == OrderStatus::Cancelled {
        return Err(match order.reason {
            Some(Reason::Cancelled(c)) if c.is_payment_failure() => ApiError::PaymentFailed(c),
            other => ApiError::Conflict(format!(
                "the order was cancelled ({})",
                other.map(Reason::code).unwrap_or_default()
            )),
        });
    }
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

/// Cancels an order that has not shipped: refunds if paid, releases stock.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = OrderView),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
        (status = 409, description = "`CONFLICT`: shipped or already final", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`: still processing", body = Problem),
    )
)]
#[post("/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    buyer: Customer,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let order = state.orders.cancel(buyer.id(), order_path(&id)?).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1; default 1.
    #[param(minimum = 1, maximum = 4294967295_i64)]
    pub page: Option<i64>,
    /// 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderView>,
    pub page: u32,
    pub page_size: u32,
    pub total: i64,
}

impl OrderPage {
    pub fn new(page: PageRequest, orders: &[OrderRecord], total: i64) -> Self {
        Self {
            items: orders.iter().map(OrderView::from).collect(),
            page: page.page,
            page_size: page.page_size,
            total,
        }
    }
}

/// The caller's orders, newest first.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = OrderPage),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
    )
)]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    buyer: Customer,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(query.page, query.page_size)?;
    let (orders, total) = state
        .store
        .buyer_orders(buyer.id(), page.page_size, page.offset() as u64)
        .await?;
    Ok(HttpResponse::Ok().json(OrderPage::new(page, &orders, total)))
}

/// One of the caller's orders.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = OrderView),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
    )
)]
#[get("/{id}")]
pub async fn detail(
    state: web::Data<AppState>,
    buyer: Customer,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let order = state.orders.owned(buyer.id(), order_path(&id)?).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

/// Every transition of one of the caller's orders, oldest first.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, body = Vec<OrderEventView>),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 404, description = "`NOT_FOUND`", body = Problem),
        (status = 429, description = "`RATE_LIMITED`", body = Problem),
    )
)]
#[get("/{id}/events")]
pub async fn events(
    state: web::Data<AppState>,
    buyer: Customer,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let order = state.orders.owned(buyer.id(), order_path(&id)?).await?;
    let events: Vec<OrderEventView> = state
        .store
        .order_events(order.id)
        .await?
        .into_iter()
        .map(OrderEventView::from)
        .collect();
    Ok(HttpResponse::Ok().json(events))
}
