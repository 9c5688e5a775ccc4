//! Cluster-wide token buckets in Redis, so a client cannot multiply its limits by spreading
//! requests over nodes. One script per permit: the bucket is refilled and taken atomically
//! in Redis, on Redis's clock (nodes' clocks may differ).
//!
//! Keys are SHA-256 digests of the limited pair or account, expiring once the bucket would be
//! full again. Limits keyed by a client address (registrations, sealed-sender requests) stay
//! in each node's memory: client addresses never leave the process. When Redis cannot be reached, each node falls back to its own in-memory
//! buckets (limits then hold per node rather than per cluster) until it answers again.

use crate::config::{BucketConfig, RateLimitConfig};
use crate::ratelimit::{InMemoryRateLimiter, RateKey, RateLimiter, RetryAfter};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Takes one permit; returns 0, or the milliseconds until one is available.
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local burst = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) / refill)
if tokens >= 1 then
  tokens = tokens - 1
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * refill) + 1000)
  return 0
end
return math.max(1, math.ceil((1 - tokens) * refill))";

/// Timeout of one permit request before falling back to memory.
const TIMEOUT: Duration = Duration::from_millis(500);

/// Rate limits shared by every node through Redis.
pub struct RedisRateLimiter {
    config: RateLimitConfig,
    connection: redis::aio::ConnectionManager,
    script: redis::Script,
    fallback: InMemoryRateLimiter,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter").finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// A limiter on the Redis at `url`. It connects on first use and reconnects by itself
    /// when Redis comes back, so a node starts even while Redis is down.
    ///
    /// Fails only if the URL is invalid. Must be called inside a Tokio runtime.
    pub fn new(url: &str, config: RateLimitConfig) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let connection =
            redis::aio::ConnectionManager::new_lazy_with_config(client, manager_config)?;
        Ok(Self {
            fallback: InMemoryRateLimiter::new(config.clone()),
            config,
            connection,
            script: redis::Script::new(TAKE),
        })
    }

    fn bucket(&self, key: &RateKey) -> (BucketConfig, String) {
        let (bucket, name) = match key {
            RateKey::Message { sender, recipient } => {
                (self.config.messages, format!("m {sender} {recipient}"))
            }
            RateKey::BundleFetch(account) => (self.config.bundle_fetches, format!("b {account}")),
            RateKey::SealedAccess(account) => (self.config.sealed_access, format!("s {account}")),
            // Never sent to Redis (see `acquire`); no address goes into the name.
            RateKey::Registration(_) => (self.config.registrations, String::new()),
            RateKey::SealedConnection(_) => (self.config.sealed_connections, String::new()),
        };
        let digest = Sha256::digest(name.as_bytes());
        (bucket, format!("sotto:rate:{}", hex::encode(digest)))
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(&self, key: &RateKey) -> Result<(), RetryAfter> {
        if !self.config.enabled || key.is_local_only() {
            return self.fallback.acquire(key).await;
        }
        let (bucket, redis_key) = self.bucket(key);
        let mut connection = self.connection.clone();
        let mut invocation = self.script.key(redis_key);
        invocation.arg(bucket.burst).arg(bucket.refill_ms.max(1));
        let taken = tokio::time::timeout(TIMEOUT, invocation.invoke_async::<u64>(&mut connection));
        match taken.await {
            Ok(Ok(0)) => Ok(()),
            Ok(Ok(wait_ms)) => Err(RetryAfter(Duration::from_millis(wait_ms))),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Redis rate limit failed: using this node's buckets");
                self.fallback.acquire(key).await
            }
            Err(_) => {
                tracing::warn!("Redis rate limit timed out: using this node's buckets");
                self.fallback.acquire(key).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buckets_are_shared_between_limiters() {
        let Some(url) = crate::delivery::redis::test_url().await else {
            return;
        };
        let bucket = BucketConfig {
            burst: 2,
            refill_ms: 60_000,
        };
        let config = RateLimitConfig {
            enabled: true,
            messages: bucket,
            bundle_fetches: bucket,
            registrations: bucket,
            sealed_access: bucket,
            sealed_connections: bucket,
        };
        let node_a = RedisRateLimiter::new(&url, config.clone()).unwrap();
        let node_b = RedisRateLimiter::new(&url, config).unwrap();
        let key = RateKey::BundleFetch(crate::domain::AccountId::random().unwrap());
        assert!(node_a.acquire(&key).await.is_ok());
        assert!(node_b.acquire(&key).await.is_ok());
        let RetryAfter(wait) = node_a.acquire(&key).await.unwrap_err();
        assert!(wait > Duration::from_secs(50), "{wait:?}");
        assert!(node_b.acquire(&key).await.is_err());
        let sealed = RateKey::SealedAccess(crate::domain::AccountId::random().unwrap());
        assert!(node_a.acquire(&sealed).await.is_ok());
        assert!(node_b.acquire(&sealed).await.is_ok());
        assert!(
            node_a.acquire(&sealed).await.is_err(),
            "shared through Redis"
        );
    }
}
