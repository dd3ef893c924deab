//! The buyer's address book. Exactly one address is the default whenever
//! there are any: the first saved becomes it, `is_default: true` on another
//! moves it there, and deleting the default hands it to the newest other
//! address. Orders keep their own copy of an address, so editing or
//! deleting here never changes a past order.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::address::{Address, RawAddress};
use crate::domain::time::Timestamp;
use crate::http::auth::Customer;
use crate::http::problem::Problem;
use crate::http::{ApiError, AppState};
use crate::persistence::SavedAddress;

/// Most addresses one buyer keeps.
pub const MAX_ADDRESSES: usize = 20;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAddressRequest {
    /// 1 to 100 characters.
    pub recipient: String,
    /// 7 to 15 digits, optionally with `+`, spaces, `-`, `(`, `)`; at most 20 characters.
    pub phone: String,
    /// 1 to 16 letters, digits, spaces or `-`.
    pub postal_code: String,
    /// 1 to 200 characters.
    pub line1: String,
    /// Up to 200 characters.
    pub line2: Option<String>,
    /// 1 to 100 characters.
    pub city: String,
    /// ISO 3166-1 alpha-2, e.g. `KR`.
    pub country: String,
    /// Make it the default (the first address always is).
    #[serde(default)]
    pub is_default: bool,
}

/// Fields to change; absent ones stay. `line2: ""` clears the second line.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressPatch {
    pub recipient: Option<String>,
    pub phone: Option<String>,
    pub postal_code: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    /// Only `true`: make this the default (the old default is unset).
    pub is_default: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct AddressView {
    pub id: i64,
    #[serde(flatten)]
    pub address: Address,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<SavedAddress> for AddressView {
    fn from(s: SavedAddress) -> Self {
        Self {
            id: s.id,
            address: s.address,
            is_default: s.is_default,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no saved address {id}"))
}

/// The caller's addresses, the default first.
#[utoipa::path(
    tag = "addresses",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<AddressView>),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[get("/addresses")]
pub async fn list(
    state: web::Data<AppState>,
    customer: Customer,
) -> Result<HttpResponse, ApiError> {
    let saved = state.store.addresses(customer.id()).await?;
    let views: Vec<AddressView> = saved.into_iter().map(AddressView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Saves an address. The first one becomes the default.
#[utoipa::path(
    tag = "addresses",
    security(("bearer" = [])),
    request_body = NewAddressRequest,
    responses(
        (status = 201, body = AddressView),
        (status = 400, description = "`VALIDATION_FAILED`: a field is missing or malformed (e.g. `country` not ISO 3166-1 alpha-2)", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 409, description = "`LIMIT_REACHED`: 20 addresses saved already", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[post("/addresses")]
pub async fn add(
    state: web::Data<AppState>,
    customer: Customer,
    body: web::Json<NewAddressRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = &*body;
    let address = Address::parse(RawAddress {
        recipient: &b.recipient,
        phone: &b.phone,
        postal_code: &b.postal_code,
        line1: &b.line1,
        line2: b.line2.as_deref(),
        city: &b.city,
        country: &b.country,
    })?;
    let saved = state
        .store
        .add_address(customer.id(), &address, body.is_default, MAX_ADDRESSES)
        .await?
        .ok_or_else(|| {
            ApiError::LimitReached(format!("{MAX_ADDRESSES} addresses are saved already"))
        })?;
    Ok(HttpResponse::Created().json(AddressView::from(saved)))
}

/// Changes one of the caller's addresses, or makes it the default.
#[utoipa::path(
    tag = "addresses",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Address id")),
    request_body = AddressPatch,
    responses(
        (status = 200, body = AddressView),
        (status = 400, description = "`VALIDATION_FAILED` (also `is_default: false`: make another address the default instead)", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 404, description = "`NOT_FOUND`: not one of the caller's addresses", body = Problem),
        (status = 415, description = "`VALIDATION_FAILED`: not JSON", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[patch("/addresses/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<i64>,
    body: web::Json<AddressPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if body.is_default == Some(false) {
        return Err(ApiError::Validation(
            "is_default: only true is accepted; make another address the default instead".into(),
        ));
    }
    let old = state
        .store
        .address(customer.id(), id)
        .await?
        .ok_or_else(|| not_found(id))?
        .address;
    let p = &*body;
    let address = Address::parse(RawAddress {
        recipient: p.recipient.as_deref().unwrap_or(&old.recipient),
        phone: p.phone.as_deref().unwrap_or(&old.phone),
        postal_code: p.postal_code.as_deref().unwrap_or(&old.postal_code),
        line1: p.line1.as_deref().unwrap_or(&old.line1),
        line2: p.line2.as_deref().or(old.line2.as_deref()),
        city: p.city.as_deref().unwrap_or(&old.city),
        country: p.country.as_deref().unwrap_or(&old.country),
    })?;
    let saved = state
        .store
        .update_address(customer.id(), id, &address, body.is_default == Some(true))
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(HttpResponse::Ok().json(AddressView::from(saved)))
}

/// Deletes one of the caller's addresses. Orders placed with it keep
/// their copy.
#[utoipa::path(
    tag = "addresses",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Address id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`VALIDATION_FAILED`", body = Problem),
        (status = 401, description = "`UNAUTHORIZED`", body = Problem),
        (status = 403, description = "`FORBIDDEN`: customers only", body = Problem),
        (status = 404, description = "`NOT_FOUND`: not one of the caller's addresses", body = Problem),
        (status = 503, description = "`UNAVAILABLE`", body = Problem),
    )
)]
#[delete("/addresses/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    customer: Customer,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !state.store.delete_address(customer.id(), id).await? {
        return Err(not_found(id));
    }
    Ok(HttpResponse::NoContent().finish())
}
