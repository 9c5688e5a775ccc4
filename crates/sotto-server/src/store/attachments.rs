//! Attachment bookkeeping: which blobs exist, whose quota each counts against, how many of
//! its bytes are durable, and the day it expires. The bytes themselves live in a
//! [`crate::blobs::BlobStorage`]; the relay never learns what an attachment holds.

use super::{Day, StoreError};
use crate::domain::{AccountId, AttachmentId};
use async_trait::async_trait;

/// An upload about to start.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    /// Fresh random id.
    pub id: AttachmentId,
    /// The uploading account (for its quota and to let only it resume the upload).
    pub account: AccountId,
    /// Announced blob size in bytes.
    pub size: u64,
    /// Last day the blob is kept.
    pub expires: Day,
}

/// An attachment as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    /// Id.
    pub id: AttachmentId,
    /// Uploading account.
    pub account: AccountId,
    /// Announced blob size in bytes.
    pub size: u64,
    /// Bytes received and durable.
    pub received: u64,
    /// Whether every byte arrived (only then can it be downloaded).
    pub complete: bool,
    /// Last day the blob is kept.
    pub expires: Day,
}

/// What an account's attachments take up (for its quota and for disclosure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttachmentUsage {
    /// Attachments not yet expired.
    pub count: u64,
    /// Their announced sizes, summed.
    pub bytes: u64,
}

/// Records of attachments.
#[async_trait]
pub trait AttachmentIndex: Send + Sync {
    /// Records a new upload. Fails with `QuotaExceeded`, recording nothing, when the
    /// account's unexpired attachments and this one would exceed `quota` bytes; atomic
    /// against concurrent uploads of the same account.
    async fn create_attachment(&self, new: &NewAttachment, quota: u64) -> Result<(), StoreError>;
    /// Looks an attachment up.
    async fn attachment(&self, id: &AttachmentId) -> Result<Option<AttachmentRecord>, StoreError>;
    /// Records that `received` bytes are durable, and whether that completes the upload.
    async fn set_received(
        &self,
        id: &AttachmentId,
        received: u64,
        complete: bool,
    ) -> Result<(), StoreError>;
    /// What an account's attachments take up.
    async fn attachment_usage(&self, account: &AccountId) -> Result<AttachmentUsage, StoreError>;
    /// Forgets attachments whose last day is before `today`; returns their ids, so that the
    /// caller deletes the blobs.
    async fn purge_expired_attachments(&self, today: &Day)
    -> Result<Vec<AttachmentId>, StoreError>;
}

/// A stored byte count as `u64`, reporting negative values as corruption (both backends
/// store sizes as signed 64-bit integers).
pub(super) fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} out of range: {value}")))
}

/// A byte count as the signed 64-bit integer both backends store.
pub(super) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Database(format!("{value} does not fit a 64-bit column")))
}
