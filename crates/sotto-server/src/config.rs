//! Server settings: registration mode, size limits, rate limits.

use serde::Deserialize;
use std::time::Duration;

/// Who may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    /// Anyone (subject to the per-address rate limit).
    #[default]
    Open,
    /// Only holders of an admin-made registration token.
    Token,
}

/// Size and retention limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest ciphertext per recipient device, in bytes.
    pub max_envelope_bytes: usize,
    /// Most keys of one kind per prekey upload.
    pub max_prekeys_per_upload: usize,
    /// Most devices per account.
    pub max_devices: u32,
    /// Most envelopes queued per device.
    pub max_queue: u32,
    /// How long an undelivered envelope is kept, in days.
    pub envelope_ttl_days: u32,
    /// Largest attachment blob, in bytes (a 2 GiB file plus its encryption overhead).
    pub max_attachment_bytes: u64,
    /// Most bytes of unexpired attachments per account.
    pub attachment_quota_bytes: u64,
    /// How long an attachment is kept after its upload starts, in days.
    pub attachment_ttl_days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_envelope_bytes: 96 * 1024,
            max_prekeys_per_upload: 100,
            max_devices: 6,
            max_queue: 10_000,
            envelope_ttl_days: 30,
            max_attachment_bytes: (2 << 30) + (1 << 20),
            attachment_quota_bytes: 10 << 30,
            attachment_ttl_days: 30,
        }
    }
}

impl Limits {
    /// Largest request body: every device's envelope in base64 plus JSON framing.
    pub fn max_body_bytes(&self) -> usize {
        let per_device = self.max_envelope_bytes.div_ceil(3) * 4 + 64;
        per_device * self.max_devices as usize + 64 * 1024
    }

    /// Envelope lifetime in milliseconds.
    pub fn ttl_ms(&self) -> i64 {
        i64::from(self.envelope_ttl_days) * 86_400_000
    }
}

/// One token bucket: `burst` permits, one more every `refill_ms` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    /// Bucket size.
    pub burst: u32,
    /// Milliseconds per regenerated permit.
    pub refill_ms: u64,
}

impl BucketConfig {
    /// Time to regain one permit.
    pub fn refill(&self) -> Duration {
        Duration::from_millis(self.refill_ms.max(1))
    }
}

/// Token-bucket rate limits (defaults follow Signal's published limits).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// False turns every limit off (benchmarks, trusted test setups).
    pub enabled: bool,
    /// Messages per sender→recipient account pair.
    pub messages: BucketConfig,
    /// Prekey bundle fetches per requesting account.
    pub bundle_fetches: BucketConfig,
    /// Registrations per client address (kept in memory only, never stored or logged).
    pub registrations: BucketConfig,
    /// Sealed-sender deliveries per recipient account (the relay does not know the sender,
    /// so this bucket stands in for the per-pair one), taken only after the access check.
    pub sealed_access: BucketConfig,
    /// Sealed-sender requests per client address (kept in memory only, never stored or
    /// logged), taken before anything else is checked.
    pub sealed_connections: BucketConfig,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            messages: BucketConfig {
                burst: 60,
                refill_ms: 1_000,
            },
            bundle_fetches: BucketConfig {
                burst: 30,
                refill_ms: 20_000,
            },
            registrations: BucketConfig {
                burst: 6,
                refill_ms: 30_000,
            },
            // An account in busy groups receives from many senders: 300 at once, then 5/s.
            sealed_access: BucketConfig {
                burst: 300,
                refill_ms: 200,
            },
            // One client address (possibly a NAT of many users): 200 at once, then 5/s.
            sealed_connections: BucketConfig {
                burst: 200,
                refill_ms: 200,
            },
        }
    }
}

/// Everything the HTTP layer needs to know about policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Registration mode.
    pub registration: RegistrationMode,
    /// Size and retention limits.
    pub limits: Limits,
    /// Rate limits.
    pub rate_limits: RateLimitConfig,
    /// How long credentials and device lists may be served from memory; an account disabled
    /// by `sotto admin` is refused at the latest this long after.
    pub directory_cache_ms: u64,
    /// Interval of WebSocket keep-alive pings; a connection that leaves two unanswered is
    /// closed with code 4408.
    pub websocket_ping_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            registration: RegistrationMode::default(),
            limits: Limits::default(),
            rate_limits: RateLimitConfig::default(),
            directory_cache_ms: 5_000,
            websocket_ping_ms: 30_000,
        }
    }
}
