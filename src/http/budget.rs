//! One request budget: a token bucket per key (a client IP, a user, an
//! account's email), kept in process by `governor`, or on a cluster with
//! Redis shared by every node ([`SharedBudgets`]), the in-process bucket
//! answering whenever Redis does not. Refusals are `429 RATE_LIMITED` with
//! `Retry-After`.

use std::fmt::Display;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use super::ApiError;
use super::shared_budget::{SHARED_BUDGET_FAILURES, SharedBudgets, SharedQuota};

pub struct Budget<K: Hash + Eq + Clone> {
    name: &'static str,
    local: DefaultKeyedRateLimiter<K>,
    shared: Option<(SharedBudgets, SharedQuota)>,
}

impl<K: Hash + Eq + Clone + Display> Budget<K> {
    /// `units` refilled every `per`, up to `burst` at once (`units` when 0);
    /// none when budgets are off or `units` is 0.
    pub fn new(
        name: &'static str,
        on: bool,
        units: u32,
        per: Duration,
        burst: u32,
    ) -> Option<Self> {
        let units = NonZeroU32::new(units).filter(|_| on)?;
        let burst = NonZeroU32::new(burst).unwrap_or(units);
        let quota = Quota::with_period(per / units.get())?.allow_burst(burst);
        Some(Self {
            name,
            local: RateLimiter::keyed(quota),
            shared: None,
        })
    }

    /// The same budget, kept in Redis for every node of the cluster.
    pub fn shared_by(
        mut self,
        shared: Option<&SharedBudgets>,
        units: u32,
        per: Duration,
        burst: u32,
    ) -> Self {
        self.shared = shared.map(|s| {
            let burst = if burst == 0 { units } else { burst };
            (s.clone(), SharedQuota::new(units, per, burst))
        });
        self
    }

    /// Spends one unit of `key`'s bucket.
    pub async fn spend(&self, key: &K) -> Result<(), ApiError> {
        if let Some((shared, quota)) = &self.shared {
            // Hashed: an email must not become a Redis key.
            let digest = Sha256::digest(key.to_string().as_bytes());
            let hashed: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            match shared.spend(self.name, &hashed, *quota).await {
                Ok(None) => return Ok(()),
                Ok(Some(wait)) => {
                    return Err(ApiError::RateLimited(wait.max(Duration::from_secs(1))));
                }
                Err(e) => {
                    metrics::counter!(SHARED_BUDGET_FAILURES).increment(1);
                    tracing::warn!(budget = self.name, error = %e,
                        "the shared budget is unreachable; this node's own bucket answers");
                }
            }
        }
        self.local.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited(wait.max(Duration::from_secs(1)))
        })
    }

    /// Forgets keys whose in-process buckets are full again.
    pub fn prune(&self) {
        self.local.retain_recent();
    }
}
