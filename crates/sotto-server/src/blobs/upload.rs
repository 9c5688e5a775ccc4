//! One upload request's bytes into one segment object: a single `PUT` when they fit in one
//! part, else an S3 multipart upload of fixed-size parts, so memory stays flat whatever
//! the request's size.

use super::BlobWriter;
use super::s3::redact;
use crate::domain::AttachmentId;
use async_trait::async_trait;
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use std::io;
use std::sync::Arc;

/// Bytes per multipart part (S3 wants at least 5 MiB for every part but the last).
const PART_LEN: usize = 8 << 20;
/// Parts uploading at once; with the one filling, memory per upload is at most 3 parts.
const PARTS_IN_FLIGHT: usize = 2;

/// The segment being written.
pub(super) struct SegmentWriter {
    store: Arc<AmazonS3>,
    path: Path,
    /// Blob offset where the segment starts.
    start: u64,
    /// Bytes in the segment so far.
    len: u64,
    /// Bytes not handed to a multipart upload yet (all of them while they fit in a part).
    pending: Vec<u8>,
    /// The multipart upload, once the segment outgrew one part.
    parts: Option<WriteMultipart>,
    /// For redacting errors.
    id: AttachmentId,
}

impl SegmentWriter {
    /// A writer of the segment object at `path`, starting at blob offset `start`.
    pub fn new(store: Arc<AmazonS3>, path: Path, start: u64, id: AttachmentId) -> Self {
        SegmentWriter {
            store,
            path,
            start,
            len: 0,
            pending: Vec::new(),
            parts: None,
            id,
        }
    }

    /// The multipart upload, started (with the pending bytes) on first use.
    async fn parts(&mut self) -> io::Result<&mut WriteMultipart> {
        let parts = match self.parts.take() {
            Some(parts) => parts,
            None => {
                let upload = self
                    .store
                    .put_multipart(&self.path)
                    .await
                    .map_err(|e| redact(e, &self.id))?;
                let mut parts = WriteMultipart::new_with_chunk_size(upload, PART_LEN);
                parts.write(&std::mem::take(&mut self.pending));
                parts
            }
        };
        Ok(self.parts.insert(parts))
    }
}

#[async_trait]
impl BlobWriter for SegmentWriter {
    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.parts.is_none() && self.pending.len() + bytes.len() <= PART_LEN {
            self.pending.extend_from_slice(bytes);
        } else {
            let id = self.id.clone();
            let parts = self.parts().await?;
            parts
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(|e| redact(e, &id))?;
            parts.write(bytes);
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> io::Result<u64> {
        let end = self.start + self.len;
        if let Some(parts) = self.parts.take() {
            parts.finish().await.map_err(|e| redact(e, &self.id))?;
        } else if self.len > 0 || self.start == 0 {
            // An empty segment only at 0: an empty blob must exist to be downloaded.
            let payload = PutPayload::from(std::mem::take(&mut self.pending));
            self.store
                .put(&self.path, payload)
                .await
                .map_err(|e| redact(e, &self.id))?;
        }
        Ok(end)
    }
}

impl Drop for SegmentWriter {
    /// An abandoned multipart upload keeps its parts (and their storage cost) until aborted.
    fn drop(&mut self) {
        let Some(parts) = self.parts.take() else {
            return;
        };
        let id = self.id.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = parts.abort().await {
                    let error = redact(e, &id);
                    tracing::warn!(%error, "aborting an abandoned multipart upload failed");
                }
            });
        }
    }
}
