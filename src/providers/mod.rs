//! The outside world an order needs: a payment provider and a carrier, as
//! ports (traits) the order saga calls. Every call carries the order id as
//! its idempotency key, so a saga that retries after a crash or a timeout
//! can never charge, refund or ship twice. Built-in simulated providers
//! (seeded, with configurable latency and failure rates) run the whole flow
//! on a laptop; a real provider is another implementation of the trait.

pub mod dice;
pub mod simulated_payment;
pub mod simulated_shipment;

use async_trait::async_trait;

use crate::domain::ids::OrderId;
use crate::domain::money::Amount;

pub use crate::domain::saga::Parcel;
pub use simulated_payment::SimulatedPayments;
pub use simulated_shipment::SimulatedShipments;

/// Why a provider call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// A definite no (card declined, address undeliverable).
    #[error("declined: {0}")]
    Declined(String),
    /// No answer in time: the call may or may not have taken effect.
    #[error("the provider did not answer in time")]
    TimedOut,
    /// The provider (or our record of it) is unreachable; retry later.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
}

/// The simulated providers keep their books in our store; when it fails,
/// the provider is unreachable as far as the caller can tell.
impl From<crate::persistence::StoreError> for ProviderError {
    fn from(e: crate::persistence::StoreError) -> Self {
        ProviderError::Unavailable(e.to_string())
    }
}

/// Money movements for one order, keyed by the order id.
#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// Holds `amount` on the buyer's payment method: the saved method whose
    /// provider token is `method`, or the one given at checkout when `None`.
    async fn authorize(
        &self,
        order: OrderId,
        amount: Amount,
        method: Option<&str>,
    ) -> Result<(), ProviderError>;
    /// Takes the held amount.
    async fn capture(&self, order: OrderId) -> Result<(), ProviderError>;
    /// Gives back whatever the order holds: voids an authorisation, refunds
    /// a capture, and makes a late authorisation arriving afterwards void.
    /// Succeeds when there is nothing to give back.
    async fn refund(&self, order: OrderId) -> Result<(), ProviderError>;
}

/// Shipments for one order, keyed by the order id.
#[async_trait]
pub trait ShipmentProvider: Send + Sync + 'static {
    /// Books a shipment; answers the carrier's tracking number.
    async fn create(&self, order: OrderId) -> Result<String, ProviderError>;
    async fn track(&self, order: OrderId) -> Result<Parcel, ProviderError>;
    /// Cancels a shipment that has not left; succeeds when none exists.
    async fn cancel(&self, order: OrderId) -> Result<(), ProviderError>;
}
