//! Attachment blobs: opaque ciphertext by id, in a local directory ([`LocalBlobs`], one file
//! per blob) or in S3-compatible object storage ([`S3Blobs`], for clusters).
//!
//! An upload appends to its blob and makes the bytes durable before the attachment index
//! records them; a resumed upload first cuts the blob back to what the index recorded, so a
//! crash in the middle of a request never leaves bytes the client was not told about.

mod local;
mod s3;
mod segments;
mod upload;

#[cfg(test)]
mod conformance;

pub use local::LocalBlobs;
pub use s3::{S3Blobs, S3ConfigError, S3Credentials, S3Settings};

use crate::domain::AttachmentId;
use async_trait::async_trait;
use std::io;
use std::pin::Pin;
use tokio::io::AsyncRead;

/// A blob opened for reading from some offset.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// Where blobs live.
#[async_trait]
pub trait BlobStorage: Send + Sync {
    /// Opens the blob for appending at `offset`, dropping any bytes past it (left by an
    /// interrupted request). Fails if the blob holds fewer than `offset` bytes.
    async fn writer(&self, id: &AttachmentId, offset: u64) -> io::Result<Box<dyn BlobWriter>>;
    /// Opens the blob for reading from `start`; `None` if there is no such blob.
    async fn reader(&self, id: &AttachmentId, start: u64) -> io::Result<Option<BlobReader>>;
    /// Deletes the blob (nothing if it does not exist).
    async fn delete(&self, id: &AttachmentId) -> io::Result<()>;
}

/// An upload in progress. Dropped without [`finish`](BlobWriter::finish), it leaves the blob
/// as it was or with extra bytes past the offset it was opened at, which the next writer cuts.
#[async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes.
    async fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes every appended byte durable; returns the blob's length.
    async fn finish(self: Box<Self>) -> io::Result<u64>;
}
