//! Files sent with messages: a local file is encrypted as it is read and uploaded to the
//! relay in pieces; a received pointer is downloaded into the profile, checked against its
//! digest, and decrypted into the destination directory.
//!
//! ```text
//!  upload:   file ─read 64 KiB─► AttachmentEncryptor ─► PATCH (1 MiB) ─► relay
//!            uploads row (sealed: path, size, mtime, key, blob id) until complete
//!  download: relay ─GET Range─► <profile>/partial/<id> ─SHA-256 = digest?─►
//!            AttachmentDecryptor ─► <dir>/.<id>.part (0600) ─link─► <dir>/name (1).ext
//! ```
//!
//! Both directions resume. An upload asks the relay how many bytes it holds and re-encrypts
//! the file up to there (the encryption is deterministic for one key), sending only the rest;
//! a download continues its partial file with `Range`. Memory stays flat: one read buffer
//! and at most one request's worth of ciphertext.

mod download;
mod files;
mod saved;
mod upload;

use std::time::Duration;

use crate::error::{ClientError, RelayError};

/// The largest file sent or fetched unless the front end sets another limit: 2 GiB.
pub const DEFAULT_ATTACHMENT_LIMIT: u64 = 2 << 30;

/// Bytes of ciphertext per upload request.
const PATCH_LEN: usize = 1 << 20;

/// Bytes read from a file at a time.
const READ_LEN: usize = 64 * 1024;

/// Attempts of one transfer before a network failure is reported (each resumes the last).
const ATTEMPTS: u32 = 3;

/// Pause before the second attempt; doubled for each later one.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);

/// Told how far a transfer got, in bytes of the encrypted blob (`done` of `total`).
pub trait Progress: Send + Sync {
    /// `done` bytes of `total` are on the relay (upload) or on this device (download).
    fn advanced(&self, done: u64, total: u64);
}

impl<F: Fn(u64, u64) + Send + Sync> Progress for F {
    fn advanced(&self, done: u64, total: u64) {
        self(done, total);
    }
}

/// No progress reports.
pub struct NoProgress;

impl Progress for NoProgress {
    fn advanced(&self, _done: u64, _total: u64) {}
}

/// Whether a failed attempt is worth resuming at once: the connection broke or the relay and
/// we disagreed about the offset (another attempt of ours got further than we knew).
fn retryable(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Relay(RelayError::Network(_) | RelayError::RateLimited { .. })
    )
}

/// Runs `attempt` up to [`ATTEMPTS`] times while it fails with a network error.
async fn with_retries<T, F, Fut>(mut attempt: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut delay = FIRST_RETRY_DELAY;
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(error) if tries < ATTEMPTS && retryable(&error) => {
                tracing::debug!(%error, tries, "attachment transfer interrupted; resuming");
                tokio::time::sleep(delay).await;
                delay *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}
