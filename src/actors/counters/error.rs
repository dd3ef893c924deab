//! What a counter request can answer besides a tally.

use crate::domain::counter::{Refusal, Target};
use crate::persistence::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    /// The rules refuse it (following oneself).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// No such live post, comment or account.
    #[error("{0} does not exist")]
    NotFound(Target),
    /// Too much is waiting already (mailbox or write queue); nothing was
    /// decided.
    #[error("the counters are overloaded, retry shortly")]
    Overloaded,
    /// The outcome is not known to be durable (database unreachable,
    /// timeout, actor restarted). Retrying is safe: membership is
    /// idempotent.
    #[error("the counters are unavailable, retry shortly")]
    Unavailable,
    /// The actor was passivated or forgotten while the request was in
    /// flight; the `Counters` handle retries, callers never see this.
    #[error("counter actor retired")]
    Retired,
    #[error(transparent)]
    Store(#[from] StoreError),
}
