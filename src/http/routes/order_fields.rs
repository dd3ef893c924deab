//! The shipping and payment fields an order takes, shared by `POST /orders`
//! and the cart's checkout: the address in one of three forms (legacy text,
//! structured inline, or a saved address's id), and how to pay (at once,
//! optionally with a saved method).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::actors::orders::handle::SavedMethod;
use crate::domain::address::{Address, RawAddress};
use crate::domain::card::CardError;
use crate::domain::ids::UserId;
use crate::domain::text;
use crate::domain::time::Timestamp;
use crate::http::{ApiError, AppState};

/// Longest legacy text address (the orders column).
const TEXT_ADDRESS_MAX: usize = 500;

/// A structured shipping address as sent.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressRequest {
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
}

impl AddressRequest {
    pub fn raw(&self) -> RawAddress<'_> {
        RawAddress {
            recipient: &self.recipient,
            phone: &self.phone,
            postal_code: &self.postal_code,
            line1: &self.line1,
            line2: self.line2.as_deref(),
            city: &self.city,
            country: &self.country,
        }
    }
}

/// How the buyer pays now: `method` (a label; the simulated provider needs
/// no details) or `method_id` (one of the caller's saved payment methods,
/// whose provider token pays), exactly one of the two.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// e.g. `card`.
    pub method: Option<String>,
    /// A saved payment method's id (`/payment-methods`).
    pub method_id: Option<i64>,
}

/// Where an order goes, resolved: the text every order carries, and the
/// structured copy when one was given.
pub struct Shipping {
    pub text: String,
    pub address: Option<Address>,
}

/// Resolves the three address forms, exactly one of which must be given.
pub async fn shipping(
    state: &AppState,
    buyer: UserId,
    text_form: Option<&str>,
    inline: Option<&AddressRequest>,
    saved_id: Option<i64>,
) -> Result<Shipping, ApiError> {
    let address = match (text_form, inline, saved_id) {
        (Some(t), None, None) => {
            return Ok(Shipping {
                text: text::bounded("shipping_address", t, TEXT_ADDRESS_MAX)?,
                address: None,
            });
        }
        (None, Some(inline), None) => Address::parse(inline.raw())?,
        (None, None, Some(id)) => {
            state
                .store
                .address(buyer, id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no saved address {id}")))?
                .address
        }
        _ => {
            return Err(ApiError::Validation(
                "give exactly one of shipping_address, shipping, shipping_address_id".into(),
            ));
        }
    };
    Ok(Shipping {
        text: address.one_line().chars().take(TEXT_ADDRESS_MAX).collect(),
        address: Some(address),
    })
}

/// Resolves `payment`: whether to pay at once, and with which saved method.
pub async fn payment(
    state: &AppState,
    buyer: UserId,
    payment: Option<&PaymentRequest>,
) -> Result<(bool, Option<SavedMethod>), ApiError> {
    match payment {
        None => Ok((false, None)),
        Some(PaymentRequest {
            method: Some(m),
            method_id: None,
        }) => {
            text::bounded("payment.method", m, 32)?;
            Ok((true, None))
        }
        Some(PaymentRequest {
            method: None,
            method_id: Some(id),
        }) => Ok((true, Some(saved_method(state, buyer, *id).await?))),
        Some(_) => Err(ApiError::Validation(
            "payment: give exactly one of method, method_id".into(),
        )),
    }
}

/// One of the caller's saved methods, if it has not expired.
pub async fn saved_method(
    state: &AppState,
    buyer: UserId,
    id: i64,
) -> Result<SavedMethod, ApiError> {
    let saved = state
        .store
        .payment_method(buyer, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no saved payment method {id}")))?;
    saved
        .card
        .usable(Timestamp::now().year_month())
        .map_err(card_error)?;
    Ok(SavedMethod {
        id,
        token: saved.card.provider_token,
    })
}

pub fn card_error(e: CardError) -> ApiError {
    match e {
        CardError::Invalid(v) => v.into(),
        e @ CardError::LooksLikePan(_) => ApiError::CardNumberRefused(e.to_string()),
        e @ CardError::Expired { .. } => ApiError::CardExpired(e.to_string()),
    }
}
