//! Request budgets shared by the nodes of a cluster through Redis (issue
//! 16; the DESIGN: "Redis ... when set, shares rate limits ... across
//! nodes"). Behind a load balancer a client's requests reach every node;
//! with a bucket per node it would get N budgets, not one.
//!
//! Each bucket is a GCRA "theoretical arrival time" per key in Redis, the
//! same token bucket `governor` keeps in process: `per_second` refill up to
//! `burst`. One Lua script reads and moves it atomically, on Redis's clock,
//! so the nodes' clocks need not agree. Keys expire once their bucket is
//! full again, so Redis holds only the clients spending now.
//!
//! When Redis fails, the caller's in-process bucket answers instead (each
//! node then enforces the budget alone, as a single node does); the
//! failure is logged and counted in [`SHARED_BUDGET_FAILURES`].

use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::persistence::redacted_url::redacted;
use crate::persistence::revocations::RedisUnavailable;

pub const SHARED_BUDGET_FAILURES: &str = "stampede_shared_budget_failures_total";

/// Spends one unit of `KEYS[1]`'s bucket: `ARGV[1]` ms between units,
/// `ARGV[2]` units of burst. Answers 0 when spent, or the ms to wait.
const SPEND: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_at = next_tat - burst * interval
if now < allowed_at then
  return math.ceil(allowed_at - now)
end
redis.call('SET', KEYS[1], tostring(next_tat), 'PX', math.max(1, math.ceil(next_tat - now)))
return 0
";

/// A bucket's refill and burst.
#[derive(Debug, Clone, Copy)]
pub struct SharedQuota {
    interval_ms: f64,
    burst: u32,
}

impl SharedQuota {
    /// `per` time refills `units`, up to `burst` at once.
    pub fn new(units: u32, per: Duration, burst: u32) -> Self {
        Self {
            interval_ms: per.as_secs_f64() * 1000.0 / f64::from(units.max(1)),
            burst: burst.max(1),
        }
    }
}

/// A cheap-to-clone handle on the cluster's budgets in Redis.
#[derive(Clone)]
pub struct SharedBudgets {
    redis: ConnectionManager,
    script: redis::Script,
    /// Keeps two clusters on one Redis apart (the cluster's bucket name).
    scope: String,
}

impl SharedBudgets {
    /// Connects; a configured but unreachable Redis fails start-up.
    pub async fn connect(url: &str, scope: &str) -> Result<Self, RedisUnavailable> {
        let failed = |source| RedisUnavailable::new(redacted(url), source);
        let client = redis::Client::open(url).map_err(failed)?;
        let redis = client.get_connection_manager().await.map_err(failed)?;
        Ok(Self {
            redis,
            script: redis::Script::new(SPEND),
            scope: scope.to_string(),
        })
    }

    /// Spends one unit of `key`'s `bucket`: `None` when spent, or how long
    /// until one is free.
    pub async fn spend(
        &self,
        bucket: &str,
        key: &str,
        quota: SharedQuota,
    ) -> Result<Option<Duration>, redis::RedisError> {
        let wait_ms: u64 = self
            .script
            .key(format!("stampede:budget:{}:{bucket}:{key}", self.scope))
            .arg(quota.interval_ms)
            .arg(quota.burst)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }
}
