//! What an order's event log, the saga's last error and a buyer's refusal
//! may say about a call that did not succeed: a stable phrase of ours.
//!
//! Buyers read the event log (`GET /orders/{id}/events`), so a store or
//! transport error, or a provider's own diagnostics, has no place in it:
//! those are logged here, with the order and the call, and the saga carries
//! on with the phrase. Business answers of our own (out of stock, a limit)
//! are phrased as they are.

use crate::actors::stock::InventoryError;
use crate::domain::ids::{OrderId, SkuId};
use crate::domain::ledger::LedgerError;
use crate::providers::ProviderError;

/// A call to the payment provider or the carrier, as the phrases name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderCall {
    Authorize,
    Capture,
    Refund,
    BookShipment,
    TrackParcel,
    StopParcel,
}

impl ProviderCall {
    fn provider(self) -> &'static str {
        match self {
            Self::Authorize | Self::Capture | Self::Refund => "the payment provider",
            Self::BookShipment | Self::TrackParcel | Self::StopParcel => "the carrier",
        }
    }

    fn declined(self) -> &'static str {
        match self {
            Self::Authorize | Self::Capture => "the payment was declined",
            Self::Refund => "the payment provider refused the refund",
            Self::BookShipment => "the carrier refused the shipment",
            Self::TrackParcel => "the carrier does not know this shipment",
            Self::StopParcel => "the carrier could not stop the parcel; it may have left",
        }
    }
}

/// The phrase for a provider call that failed with `e`; the provider's own
/// text is logged.
pub fn provider(order: OrderId, call: ProviderCall, e: &ProviderError) -> String {
    match e {
        ProviderError::Declined(why) => {
            tracing::info!(%order, ?call, why, "provider declined");
            call.declined().into()
        }
        ProviderError::TimedOut => {
            tracing::warn!(%order, ?call, "provider did not answer in time");
            format!("{} did not answer in time", call.provider())
        }
        ProviderError::Unavailable(why) => {
            tracing::warn!(%order, ?call, why, "provider unavailable");
            format!("{} could not be reached", call.provider())
        }
    }
}

/// The phrase for a stock call about `sku` that failed with `e`; store and
/// transport errors are logged.
pub fn stock(order: OrderId, sku: SkuId, e: &InventoryError) -> String {
    match e {
        // Our own business answers, e.g. "out of stock: 2 available".
        InventoryError::Rejected(r) => format!("SKU {sku}: {r}"),
        InventoryError::UnknownSku(_) => format!("SKU {sku} does not exist"),
        InventoryError::Ledger(LedgerError::UnknownReservation(_))
        | InventoryError::Ledger(LedgerError::NotCommittable { .. }) => {
            format!("the reservation of SKU {sku} had expired or was given back")
        }
        InventoryError::Ledger(LedgerError::StockOverflow(_)) => {
            format!("SKU {sku}: the stock limit would be exceeded")
        }
        InventoryError::Overloaded => format!("the stock of SKU {sku} was too busy to answer"),
        InventoryError::Unavailable | InventoryError::Retired | InventoryError::Store(_) => {
            tracing::warn!(%order, %sku, error = %e, "stock call failed");
            format!("the stock of SKU {sku} could not be reached")
        }
    }
}

/// The phrase for a saga step whose transition could not be recorded
/// (the order writer or the store failed); the error is logged.
pub fn recording(order: OrderId, e: &dyn std::fmt::Display) -> String {
    tracing::warn!(%order, error = %e, "saga step could not be recorded; retrying");
    "the order could not be recorded; retrying".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ReservationId, UserId};
    use crate::persistence::StoreError;

    const RAW: &str = "error communicating with database: Connection refused \
                       (os error 111) at mysql://svc:secretpw@db7.internal:3306";

    fn order() -> OrderId {
        OrderId::derive(UserId::new(1), "k")
    }

    #[test]
    fn store_and_transport_errors_are_not_repeated() {
        let store = InventoryError::Store(StoreError::Database(sqlx::Error::Protocol(RAW.into())));
        let unavailable = ProviderError::Unavailable(RAW.into());
        let declined = ProviderError::Declined(RAW.into());
        let phrases = [
            stock(order(), SkuId::new(5), &store),
            provider(order(), ProviderCall::Capture, &unavailable),
            provider(order(), ProviderCall::Authorize, &declined),
            provider(order(), ProviderCall::StopParcel, &declined),
            recording(order(), &RAW),
        ];
        for phrase in phrases {
            for secret in ["secretpw", "db7", "os error", "mysql://", "Connection"] {
                assert!(!phrase.contains(secret), "{phrase}");
            }
        }
        assert_eq!(
            stock(order(), SkuId::new(5), &store),
            "the stock of SKU 5 could not be reached"
        );
        assert_eq!(
            provider(order(), ProviderCall::Capture, &unavailable),
            "the payment provider could not be reached"
        );
        assert_eq!(
            provider(order(), ProviderCall::Authorize, &declined),
            "the payment was declined"
        );
    }

    #[test]
    fn business_answers_are_phrased_as_they_are() {
        let out =
            InventoryError::Rejected(crate::domain::ledger::Rejection::OutOfStock { available: 2 });
        assert_eq!(
            stock(order(), SkuId::new(5), &out),
            "SKU 5: out of stock: 2 available"
        );
        let rid = ReservationId::parse("o-1".to_string()).expect("id");
        let lost = InventoryError::Ledger(LedgerError::UnknownReservation(rid));
        assert_eq!(
            stock(order(), SkuId::new(5), &lost),
            "the reservation of SKU 5 had expired or was given back"
        );
        assert_eq!(
            provider(
                order(),
                ProviderCall::BookShipment,
                &ProviderError::TimedOut
            ),
            "the carrier did not answer in time"
        );
    }
}
