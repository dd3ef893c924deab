//! What an order request can answer besides success.

use crate::domain::ids::SkuId;
use crate::persistence::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("{0}")]
    Invalid(String),
    #[error("SKU {0} is not for sale (unknown, or its product was removed)")]
    UnknownSku(SkuId),
    /// The SKU exists but its seller has withdrawn; the stock engine was
    /// not asked.
    #[error("SKU {0} is no longer on sale: its seller has left")]
    NotOnSale(SkuId),
    #[error("no such order")]
    NotFound,
    /// The Idempotency-Key was used before with a different request.
    #[error("this Idempotency-Key was used with a different request")]
    KeyReused,
    /// The order is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// No answer in time; the order keeps going. Retrying with the same
    /// Idempotency-Key (or reading the order) gives the final answer.
    #[error("the order is still being processed; retry with the same Idempotency-Key")]
    Unavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
}
