//! Revoked sessions mirrored in Redis (when `REDIS_URL` is set), so any node
//! refuses a revoked refresh token without a database read. The database
//! stays the source of truth: a Redis miss or outage only means the database
//! answers instead, and a Redis write failure is logged, never hidden as a
//! success of the revocation itself (the database row was written first).

use redis::aio::ConnectionManager;
use std::time::Duration;

use super::redacted_url::redacted;

/// Start-up could not use the configured Redis. It names the URL with its
/// password masked: this error is printed when start-up fails.
#[derive(Debug, thiserror::Error)]
#[error("Redis at {url} is unusable: {source}")]
pub struct RedisUnavailable {
    url: String,
    source: redis::RedisError,
}

impl RedisUnavailable {
    /// `url` must be redacted already.
    pub fn new(url: String, source: redis::RedisError) -> Self {
        Self { url, source }
    }
}

/// A cheap-to-clone handle; `disabled()` when Redis is not configured.
#[derive(Clone, Default)]
pub struct RevocationCache {
    redis: Option<ConnectionManager>,
}

const PREFIX: &str = "stampede:revoked-session:";

impl RevocationCache {
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Connects to Redis; a configured but unreachable Redis fails start-up.
    pub async fn connect(url: &str) -> Result<Self, RedisUnavailable> {
        let failed = |source| RedisUnavailable::new(redacted(url), source);
        let client = redis::Client::open(url).map_err(failed)?;
        let mut conn = client.get_connection_manager().await.map_err(failed)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(failed)?;
        Ok(Self { redis: Some(conn) })
    }

    pub fn is_enabled(&self) -> bool {
        self.redis.is_some()
    }

    /// Records `session` as revoked until its tokens would have expired anyway.
    pub async fn mark(&self, session: &str, ttl: Duration) {
        let Some(conn) = &self.redis else { return };
        let result: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("{PREFIX}{session}"))
            .arg(1)
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut conn.clone())
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, session, "revocation not mirrored to Redis; the database has it");
        }
    }

    /// True only when Redis positively knows `session` is revoked.
    pub async fn is_marked(&self, session: &str) -> bool {
        let Some(conn) = &self.redis else {
            return false;
        };
        let result: redis::RedisResult<bool> = redis::cmd("EXISTS")
            .arg(format!("{PREFIX}{session}"))
            .query_async(&mut conn.clone())
            .await;
        result.unwrap_or_else(|e| {
            tracing::warn!(error = %e, session, "Redis revocation check failed; asking the database");
            false
        })
    }
}
