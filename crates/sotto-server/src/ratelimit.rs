//! Token-bucket rate limits behind a trait; the in-memory one serves a single node, a cluster
//! backend (Redis) can implement the same trait.

pub mod redis;

use crate::config::{BucketConfig, RateLimitConfig};
use crate::domain::AccountId;
use async_trait::async_trait;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What is being limited.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// Messages from one account to another.
    Message {
        /// Sending account.
        sender: AccountId,
        /// Receiving account.
        recipient: AccountId,
    },
    /// Prekey bundle fetches by one account.
    BundleFetch(AccountId),
    /// Registrations from one client address (memory only).
    Registration(IpAddr),
    /// Sealed-sender deliveries to one account (its access key stands in for the sender).
    SealedAccess(AccountId),
    /// Sealed-sender requests from one client address (memory only).
    SealedConnection(IpAddr),
}

impl RateKey {
    /// Whether the key holds a client address, which never leaves this process.
    pub fn is_local_only(&self) -> bool {
        matches!(
            self,
            RateKey::Registration(_) | RateKey::SealedConnection(_)
        )
    }
}

/// A refused request: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

/// Takes one permit for a key, or says when one will be available.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes a permit; `Err` when the bucket is empty.
    async fn acquire(&self, key: &RateKey) -> Result<(), RetryAfter>;
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// In-process token buckets. Full buckets are forgotten, so memory follows active keys only.
#[derive(Debug)]
pub struct InMemoryRateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<RateKey, Bucket>>,
}

/// Above this many tracked keys, refilled buckets are dropped before adding another.
const PRUNE_AT: usize = 100_000;

impl InMemoryRateLimiter {
    /// A limiter with the given configuration.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn bucket_config(&self, key: &RateKey) -> BucketConfig {
        match key {
            RateKey::Message { .. } => self.config.messages,
            RateKey::BundleFetch(_) => self.config.bundle_fetches,
            RateKey::Registration(_) => self.config.registrations,
            RateKey::SealedAccess(_) => self.config.sealed_access,
            RateKey::SealedConnection(_) => self.config.sealed_connections,
        }
    }

    /// The decision at time `now`; separate from the clock so tests can step time.
    pub fn acquire_at(&self, key: &RateKey, now: Instant) -> Result<(), RetryAfter> {
        if !self.config.enabled {
            return Ok(());
        }
        let config = self.bucket_config(key);
        let burst = f64::from(config.burst);
        let per_token = config.refill().as_secs_f64();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|k, b| {
                let full_after = self.bucket_config(k).refill().as_secs_f64()
                    * f64::from(self.bucket_config(k).burst);
                now.duration_since(b.updated).as_secs_f64() < full_after
            });
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed / per_token).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) * per_token;
            Err(RetryAfter(Duration::from_secs_f64(wait)))
        }
    }
}

#[async_trait]
impl RateLimiter for InMemoryRateLimiter {
    async fn acquire(&self, key: &RateKey) -> Result<(), RetryAfter> {
        self.acquire_at(key, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(burst: u32, refill_ms: u64) -> InMemoryRateLimiter {
        let bucket = BucketConfig { burst, refill_ms };
        InMemoryRateLimiter::new(RateLimitConfig {
            enabled: true,
            messages: bucket,
            bundle_fetches: bucket,
            registrations: bucket,
            sealed_access: bucket,
            sealed_connections: bucket,
        })
    }

    #[test]
    fn bucket_empties_then_refills() {
        let limits = limiter(2, 1_000);
        let key = RateKey::Registration("127.0.0.1".parse().unwrap());
        let t0 = Instant::now();
        assert!(limits.acquire_at(&key, t0).is_ok());
        assert!(limits.acquire_at(&key, t0).is_ok());
        let RetryAfter(wait) = limits.acquire_at(&key, t0).unwrap_err();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            limits
                .acquire_at(&key, t0 + Duration::from_millis(500))
                .is_err()
        );
        assert!(
            limits
                .acquire_at(&key, t0 + Duration::from_millis(1_001))
                .is_ok()
        );
    }

    #[test]
    fn keys_are_independent_and_disabled_allows_all() {
        let limits = limiter(1, 60_000);
        let a = RateKey::BundleFetch(AccountId::random().unwrap());
        let b = RateKey::BundleFetch(AccountId::random().unwrap());
        let now = Instant::now();
        assert!(limits.acquire_at(&a, now).is_ok() && limits.acquire_at(&b, now).is_ok());
        assert!(limits.acquire_at(&a, now).is_err());
        let off = InMemoryRateLimiter::new(RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        });
        assert!((0..1000).all(|_| off.acquire_at(&a, now).is_ok()));
    }

    #[test]
    fn sealed_keys_have_their_own_buckets() {
        let limits = InMemoryRateLimiter::new(RateLimitConfig {
            enabled: true,
            sealed_access: BucketConfig {
                burst: 1,
                refill_ms: 60_000,
            },
            sealed_connections: BucketConfig {
                burst: 2,
                refill_ms: 60_000,
            },
            ..RateLimitConfig::default()
        });
        let now = Instant::now();
        let account = AccountId::random().unwrap();
        let access = RateKey::SealedAccess(account.clone());
        assert!(limits.acquire_at(&access, now).is_ok());
        assert!(limits.acquire_at(&access, now).is_err());
        assert!(
            limits
                .acquire_at(&RateKey::BundleFetch(account), now)
                .is_ok()
        );
        let client = RateKey::SealedConnection("192.0.2.1".parse().unwrap());
        assert!(client.is_local_only() && !access.is_local_only());
        assert!(limits.acquire_at(&client, now).is_ok());
        assert!(limits.acquire_at(&client, now).is_ok());
        assert!(limits.acquire_at(&client, now).is_err());
    }
}
