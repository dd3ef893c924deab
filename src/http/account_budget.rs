//! Per-account budget of password checks: a `governor` token bucket keyed
//! by the account's normalised email, spent by every login attempt and by
//! the current-password check of `PATCH`/`DELETE /users/me`. The per-IP
//! budget (`rate_limit.rs`) stops one address; this one stops guessing one
//! account's password from many addresses. An unknown email has a bucket
//! too, so the answer never tells whether an account exists.
//!
//! Every check spends, the right password included: a bucket cannot be
//! looked at without spending from it, and refusing only after the hash
//! would spend the CPU the budget is there to save. An honest user checks
//! a password far less often than the bucket refills. A refusal is
//! `429 RATE_LIMITED` with `Retry-After`, even for the right password, so a
//! spent budget reveals nothing. Idle keys are pruned with the others.

use std::time::Duration;

use super::ApiError;
use super::budget::Budget;
use super::shared_budget::SharedBudgets;
use crate::config::RateLimitSettings;

const MINUTE: Duration = Duration::from_secs(60);

pub struct AccountBudget {
    checks: Option<Budget<String>>,
}

impl AccountBudget {
    /// None when rate limits are off or the rate is 0; kept in Redis for
    /// every node when `shared`.
    pub fn new(settings: &RateLimitSettings, shared: Option<&SharedBudgets>) -> Self {
        let (rate, burst) = (settings.account_per_minute, settings.account_burst);
        let checks = Budget::new("account", settings.enabled, rate, MINUTE, burst)
            .map(|b| b.shared_by(shared, rate, MINUTE, burst));
        Self { checks }
    }

    /// Spends one password check of the account `email` (normalised).
    pub async fn spend(&self, email: &str) -> Result<(), ApiError> {
        match &self.checks {
            Some(checks) => checks.spend(&email.to_owned()).await,
            None => Ok(()),
        }
    }

    /// Forgets accounts whose buckets are full again.
    pub fn prune(&self) {
        if let Some(checks) = &self.checks {
            checks.prune();
        }
    }
}
