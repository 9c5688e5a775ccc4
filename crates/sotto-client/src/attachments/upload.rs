//! Sending a file: check its size, find or start its upload, encrypt it as it is read and
//! append the ciphertext the relay does not have yet.

use std::path::Path;

use rand::RngExt as _;
use sotto_core::attachment::{AttachmentEncryptor, AttachmentKey, ciphertext_len};
use sotto_proto::api::Base64Bytes;
use tokio::io::AsyncReadExt as _;

use super::files::{announced_name, file_error, guess_content_type};
use super::{PATCH_LEN, Progress, READ_LEN, with_retries};
use crate::client::Client;
use crate::content::AttachmentPointer;
use crate::error::{ClientError, RelayError, StoreError};
use crate::relay_attachments::Appended;
use crate::store::PendingUpload;

/// A local file about to be sent.
struct Source {
    path: String,
    size: u64,
    modified_ms: i64,
}

impl Client {
    /// Encrypts the file at `path` under a fresh key and uploads it to the relay, resuming an
    /// earlier interrupted upload of the same unchanged file (also one from before a crash).
    /// Returns the pointer to send with [`OutgoingMessage::with_attachments`]
    /// (crate::OutgoingMessage::with_attachments). `progress` hears the bytes the relay holds.
    ///
    /// # Errors
    /// [`ClientError::AttachmentTooLarge`] before anything is uploaded, [`ClientError::File`]
    /// when the file cannot be read, a relay failure (after a few resumed attempts), a store
    /// failure.
    pub async fn upload_attachment(
        &self,
        path: &Path,
        progress: &dyn Progress,
    ) -> Result<AttachmentPointer, ClientError> {
        let source = self.source(path).await?;
        let upload = self.pending_upload(&source).await?;
        let digest = with_retries(|| self.push(&source, &upload, progress)).await?;
        let mut tx = self.store.begin().await?;
        self.store.delete_upload(&mut tx, &upload.row_id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(AttachmentPointer {
            id: upload.blob_id.clone(),
            key: Base64Bytes(upload.key.as_bytes().to_vec()),
            digest: Base64Bytes(digest.to_vec()),
            size: source.size,
            name: announced_name(path),
            content_type: guess_content_type(path),
        })
    }

    /// The file's absolute path, size and modification time, checked against the limit.
    async fn source(&self, path: &Path) -> Result<Source, ClientError> {
        let path = tokio::fs::canonicalize(path)
            .await
            .map_err(file_error(path))?;
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(file_error(&path))?;
        if !meta.is_file() {
            let not_file = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file");
            return Err(file_error(&path)(not_file));
        }
        if meta.len() > self.attachment_limit {
            return Err(ClientError::AttachmentTooLarge {
                size: meta.len(),
                limit: self.attachment_limit,
            });
        }
        let modified_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Ok(Source {
            path: path.display().to_string(),
            size: meta.len(),
            modified_ms,
        })
    }

    /// The saved upload of this unchanged file that the relay still has, or a new one.
    /// Saved uploads of the same path whose file changed (or that the relay forgot) go.
    async fn pending_upload(&self, source: &Source) -> Result<PendingUpload, ClientError> {
        let mut tx = self.store.begin().await?;
        let saved = self.store.uploads(&mut tx).await?;
        drop(tx);
        for upload in saved.into_iter().filter(|u| u.path == source.path) {
            let unchanged = upload.size == source.size && upload.modified_ms == source.modified_ms;
            if unchanged && self.relay.upload_state(&upload.blob_id).await?.is_some() {
                tracing::debug!("resuming an attachment upload");
                return Ok(upload);
            }
            let mut tx = self.store.begin().await?;
            self.store.delete_upload(&mut tx, &upload.row_id).await?;
            tx.commit().await.map_err(StoreError::from)?;
        }
        let created = self
            .relay
            .create_attachment(ciphertext_len(source.size))
            .await?;
        let upload = PendingUpload {
            row_id: random_row_id(),
            path: source.path.clone(),
            size: source.size,
            modified_ms: source.modified_ms,
            key: AttachmentKey::generate(&mut rand::rng()),
            blob_id: created.id,
        };
        let mut tx = self.store.begin().await?;
        self.store.save_upload(&mut tx, &upload).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(upload)
    }

    /// One attempt: encrypts the whole file (deterministically), skips the ciphertext the relay
    /// already holds and appends the rest. Returns the blob's digest.
    async fn push(
        &self,
        source: &Source,
        upload: &PendingUpload,
        progress: &dyn Progress,
    ) -> Result<[u8; 32], ClientError> {
        let total = ciphertext_len(source.size);
        let state = self
            .relay
            .upload_state(&upload.blob_id)
            .await?
            .ok_or_else(|| ClientError::AttachmentGone(upload.blob_id.clone()))?;
        let mut uploader = Uploader {
            client: self,
            blob_id: &upload.blob_id,
            held: state.upload_offset,
            produced: 0,
            pending: Vec::with_capacity(PATCH_LEN + READ_LEN),
            total,
            progress,
        };
        progress.advanced(uploader.held, total);
        let path = Path::new(&source.path);
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(file_error(path))?;
        let mut encryptor = AttachmentEncryptor::new(&upload.key, source.size);
        let mut buffer = vec![0u8; READ_LEN];
        let mut out = Vec::with_capacity(READ_LEN * 2);
        loop {
            let read = file.read(&mut buffer).await.map_err(file_error(path))?;
            if read == 0 {
                break;
            }
            encryptor.update(&buffer[..read], &mut out)?;
            uploader.take(&mut out).await?;
        }
        let digest = encryptor.finish(&mut out)?;
        uploader.take(&mut out).await?;
        uploader.flush().await?;
        Ok(digest)
    }
}

/// A random id for a new upload row.
fn random_row_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill(&mut bytes[..]);
    hex::encode(bytes)
}

/// Appends ciphertext to one blob in [`PATCH_LEN`] pieces, skipping what the relay holds.
struct Uploader<'a> {
    client: &'a Client,
    blob_id: &'a str,
    /// Bytes the relay holds.
    held: u64,
    /// Ciphertext bytes produced so far (held, pending or skipped).
    produced: u64,
    /// Ciphertext after `held`, not yet sent.
    pending: Vec<u8>,
    total: u64,
    progress: &'a dyn Progress,
}

impl Uploader<'_> {
    /// Takes the ciphertext in `out` (emptying it), sending a piece when one is full.
    async fn take(&mut self, out: &mut Vec<u8>) -> Result<(), ClientError> {
        let start = self.produced;
        self.produced += out.len() as u64;
        if self.produced > self.held {
            let skip = usize::try_from(self.held.saturating_sub(start)).unwrap_or(usize::MAX);
            self.pending.extend_from_slice(&out[skip.min(out.len())..]);
        }
        out.clear();
        if self.pending.len() >= PATCH_LEN {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends what is pending.
    async fn flush(&mut self) -> Result<(), ClientError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.pending, Vec::with_capacity(PATCH_LEN + READ_LEN));
        let expected = self.held + piece.len() as u64;
        match self
            .client
            .relay
            .append_attachment(self.blob_id, self.held, piece)
            .await?
        {
            Appended::To(held) if held == expected => {
                self.held = held;
                self.progress.advanced(held, self.total);
                Ok(())
            }
            // The next attempt asks the relay for its offset and continues from there.
            Appended::To(held) | Appended::OffsetMismatch(held) => {
                Err(ClientError::Relay(RelayError::Network(format!(
                    "the relay holds {held} bytes of the attachment, not {expected}"
                ))))
            }
        }
    }
}
