//! Per-account budget of password checks: a `governor` token bucket keyed
//! by the account's normalised email, spent by every login attempt and by
//! the current-password check of `PATCH`/`DELETE /users/me`. The per-IP
//! budget (`rate_limit.rs`) stops one address; this one stops guessing one
//! account's password from many addresses. An unknown email has a bucket
//! too, so the answer never tells whether an account exists.
//!
//! Every check spends, the right password included: governor cannot look
//! at a bucket without spending from it, and refusing only after the hash
//! would spend the CPU the budget is there to save. An honest user checks
//! a password far less often than the bucket refills. A refusal is
//! `429 RATE_LIMITED` with `Retry-After`, even for the right password, so a
//! spent budget reveals nothing. Idle keys are pruned with the others.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

use super::ApiError;
use crate::config::RateLimitSettings;

pub struct AccountBudget {
    checks: Option<DefaultKeyedRateLimiter<String>>,
}

impl AccountBudget {
    /// None when rate limits are off or the rate is 0.
    pub fn new(settings: &RateLimitSettings) -> Self {
        let checks = NonZeroU32::new(settings.account_per_minute)
            .filter(|_| settings.enabled)
            .map(|rate| {
                let burst = NonZeroU32::new(settings.account_burst).unwrap_or(rate);
                RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
            });
        Self { checks }
    }

    /// Spends one password check of the account `email` (normalised).
    pub fn spend(&self, email: &str) -> Result<(), ApiError> {
        let Some(checks) = &self.checks else {
            return Ok(());
        };
        checks.check_key(&email.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited(wait.max(Duration::from_secs(1)))
        })
    }

    /// Forgets accounts whose buckets are full again.
    pub fn prune(&self) {
        if let Some(checks) = &self.checks {
            checks.retain_recent();
        }
    }
}
