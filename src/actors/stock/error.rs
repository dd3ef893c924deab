//! What an inventory request can answer besides success.

use crate::domain::ids::SkuId;
use crate::domain::ledger::{LedgerError, Rejection};
use crate::persistence::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A reservation the rules refuse (out of stock, not on sale, limit).
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// A request about a reservation that cannot be carried out.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("SKU {0} does not exist")]
    UnknownSku(SkuId),
    /// Too much is waiting already (mailbox or write-behind queue is full);
    /// nothing was decided.
    #[error("inventory is overloaded, retry shortly")]
    Overloaded,
    /// The outcome is not known to be durable (database unreachable, timeout,
    /// actor restarted). Retrying with the same reservation id is safe and
    /// returns the final answer.
    #[error("inventory is unavailable, retry with the same id")]
    Unavailable,
    /// The actor was passivated while the request was in flight; the
    /// `Inventory` handle retries on the new actor, callers never see this.
    #[error("SKU actor retired")]
    Retired,
    #[error(transparent)]
    Store(#[from] StoreError),
}
