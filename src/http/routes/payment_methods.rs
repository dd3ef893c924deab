//! Saved payment methods: the provider's token (made by the provider's own
//! client-side form, never by us) with the display data a buyer recognises
//! the card by. A card number in any field is refused, never stored, and
//! the token is never shown back.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::card::{CardOnFile, RawCard};
use crate::domain::time::Timestamp;
use crate::http::auth::Customer;
use crate::http::problem::Problem;
use crate::http::routes::order_fields::card_error;
use crate::http::{ApiError, AppState};
use crate::persistence::SavedCard;

/// Most methods one buyer keeps.
pub const MAX_METHODS: usize = 10;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPaymentMethod {
    /// The payment provider's token for the card, 1 to 128 visible ASCII characters.
    pub provider_token: String,
    /// e.g. `visa`; 1 to 20 characters.
    pub brand: String,
    /// The card number's last four digits.
    pub last4: String,
    /// 1 to 12.
    #[schema(minimum = 1, maximum = 12)]
    pub exp_month: i64,
    /// 2000 to 2100.
    #[schema(minimum = 2000, maximum = 2100)]
    pub exp_year: i64,
}

/// A saved method as shown: display data only, never the token.
#[derive(Serialize, ToSchema)]
pub struct PaymentMethodView {
    pub id: i64,
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
    /// True once the expiry month is over: it can no longer pay.
    pub expired: bool,
    pub created_at: Timestamp,
}

impl From<SavedCard> for PaymentMethodView {
    fn from(s: SavedCard) -> Self {
        Self {
            id: s.id,
            expired: s.card.usable(Timestamp::now().year_month()).is_err(),
            brand: s.card.brand,
            last4: s.card.last4,
            exp_month: s.card.exp_month,
            exp_year: s.card.exp_year,
            created_at: s.created_at,
        }
    }
}

/// The caller's saved methods, oldest first.
#[utoipa::path(
    tag = "payment-methods",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<PaymentMethodView>),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/payment-methods")]
pub async fn list(
    state: web::Data<AppState>,
    customer: Customer,
) -> Result<HttpResponse, ApiError> {
    let saved = state.store.payment_methods(customer.id()).await?;
    let views: Vec<PaymentMethodView> = saved.into_iter().map(PaymentMethodView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Saves a payment method: the provider's token and display data.
#[utoipa::path(
    tag = "payment-methods",
    security(("bearer" = [])),
    request_body = NewPaymentMethod,
    responses(
        (status = 201, body = PaymentMethodView),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 409, description = "`LIMIT_REACHED`: 10 methods saved already", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 422, description = "`CARD_NUMBER_REFUSED`: a field looks like a card number (13 to 19 digits passing the Luhn check); `CARD_EXPIRED`", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[post("/payment-methods")]
pub async fn add(
    state: web::Data<AppState>,
    customer: Customer,
    body: web::Json<NewPaymentMethod>,
) -> Result<HttpResponse, ApiError> {
    let card = CardOnFile::parse(
        RawCard {
            provider_token: &body.provider_token,
            brand: &body.brand,
            last4: &body.last4,
            exp_month: body.exp_month,
            exp_year: body.exp_year,
        },
        Timestamp::now().year_month(),
    )
    .map_err(card_error)?;
    let saved = state
        .store
        .add_payment_method(customer.id(), &card, MAX_METHODS)
        .await?
        .ok_or_else(|| {
            ApiError::LimitReached(format!("{MAX_METHODS} payment methods are saved already"))
        })?;
    Ok(HttpResponse::Created().json(PaymentMethodView::from(saved)))
}

/// Deletes one of the caller's saved methods. Orders already paid with it
/// are not affected.
#[utoipa::path(
    tag = "payment-methods",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Payment method id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 404, description = "`NOT_FOUND`: not one of the caller's methods", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/payment-methods/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !state.store.delete_payment_method(customer.id(), id).await? {
        return Err(ApiError::NotFound(format!("no saved payment method {id}")));
    }
    Ok(HttpResponse::NoContent().finish())
}
