//! Receiving a file: fetch the blob into the profile (resuming with `Range`), check its
//! digest, decrypt it into a private temporary file beside the destination, and give it its
//! final name only once every check passed.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use http_body_util::BodyExt as _;
use sha2::{Digest as _, Sha256};
use sotto_core::attachment::{
    AttachmentDecryptor, AttachmentError, AttachmentKey, DIGEST_LEN, ciphertext_len,
};
use subtle::ConstantTimeEq as _;

use super::files::{file_error, place, private_dir, private_file};
use super::{Progress, READ_LEN, with_retries};
use crate::client::Client;
use crate::content::{AttachmentPointer, safe_attachment_id, safe_file_name};
use crate::error::{ClientError, RelayError};

/// The directory of the profile holding downloads in progress.
const PARTIAL_DIR: &str = "partial";

impl Client {
    /// Downloads, checks and decrypts one attachment into `dir` (created 0700 if missing),
    /// under its announced name or, if taken, `name (1).ext` …; the file is 0600. An
    /// interrupted download resumes from the bytes already in the profile. Returns the path.
    /// `progress` hears the bytes of the encrypted blob on this device.
    ///
    /// Nothing appears under the final name unless the whole blob matched the digest and
    /// decrypted; a blob that fails is deleted, so the next attempt fetches it afresh.
    ///
    /// # Errors
    /// [`ClientError::AttachmentTooLarge`] above the limit (nothing fetched),
    /// [`ClientError::Attachment`] for a blob that fails its digest or decryption,
    /// [`ClientError::AttachmentGone`] when the relay no longer has it,
    /// [`ClientError::File`], a relay failure (after a few resumed attempts).
    pub async fn download_attachment(
        &self,
        pointer: &AttachmentPointer,
        dir: &Path,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ClientError> {
        let checked = Checked::new(pointer, self.attachment_limit)?;
        let partial_dir = self.store.dir().join(PARTIAL_DIR);
        private_dir(&partial_dir)?;
        let blob = partial_dir.join(&pointer.id);
        let total = ciphertext_len(pointer.size);
        with_retries(|| self.fetch(&pointer.id, &blob, total, progress)).await?;
        let name = pointer
            .name
            .as_deref()
            .filter(|n| safe_file_name(n))
            .map_or_else(|| format!("attachment-{}", pointer.id), str::to_owned);
        let finished = Finished {
            temp: dir.join(format!(".{}.part", pointer.id)),
            dir: dir.to_owned(),
            name,
            blob,
            size: pointer.size,
            checked,
        };
        // Hashing and decrypting a large file is blocking work.
        tokio::task::spawn_blocking(move || finished.check_and_place())
            .await
            .map_err(|e| file_error(dir)(std::io::Error::other(e)))?
    }

    /// One attempt to bring `blob` to `total` bytes, continuing from its current length.
    async fn fetch(
        &self,
        id: &str,
        blob: &Path,
        total: u64,
        progress: &dyn Progress,
    ) -> Result<(), ClientError> {
        let mut have = std::fs::metadata(blob).map_or(0, |m| m.len());
        if have > total {
            remove_quietly(blob);
            have = 0;
        }
        progress.advanced(have, total);
        if have == total {
            return Ok(());
        }
        let download = match self.relay.download_attachment(id, have).await {
            Err(RelayError::Status { status: 416, .. }) => {
                // The relay's blob is shorter than ours: ours is wrong, start over.
                remove_quietly(blob);
                have = 0;
                self.relay.download_attachment(id, 0).await?
            }
            other => other?,
        };
        let Some(download) = download else {
            return Err(ClientError::AttachmentGone(id.to_owned()));
        };
        if !download.partial {
            have = 0;
        }
        let mut file = private_file(blob, download.partial)?;
        let mut body = download.body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| RelayError::Network(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if have + data.len() as u64 > total {
                remove_quietly(blob);
                return Err(AttachmentError::TrailingData.into());
            }
            file.write_all(&data).map_err(file_error(blob))?;
            have += data.len() as u64;
            progress.advanced(have, total);
        }
        file.sync_all().map_err(file_error(blob))?;
        if have < total {
            return Err(RelayError::Network("the download ended early".to_owned()).into());
        }
        Ok(())
    }
}

/// The key and digest of a pointer, checked.
struct Checked {
    key: AttachmentKey,
    digest: [u8; DIGEST_LEN],
}

impl Checked {
    fn new(pointer: &AttachmentPointer, limit: u64) -> Result<Self, ClientError> {
        if pointer.size > limit {
            return Err(ClientError::AttachmentTooLarge {
                size: pointer.size,
                limit,
            });
        }
        if !safe_attachment_id(&pointer.id) {
            return Err(ClientError::Content("attachment id"));
        }
        let key: [u8; 32] = pointer
            .key
            .0
            .as_slice()
            .try_into()
            .map_err(|_| ClientError::Content("attachment key length"))?;
        let digest = pointer
            .digest
            .0
            .as_slice()
            .try_into()
            .map_err(|_| ClientError::Content("attachment digest length"))?;
        Ok(Self {
            key: AttachmentKey::from_bytes(key),
            digest,
        })
    }
}

/// A complete download, to check, decrypt and name.
struct Finished {
    blob: PathBuf,
    temp: PathBuf,
    dir: PathBuf,
    name: String,
    size: u64,
    checked: Checked,
}

impl Finished {
    /// Verifies the digest, decrypts into the temporary file and gives it its final name.
    /// On failure no plaintext is left, and a blob that failed a check is deleted.
    fn check_and_place(self) -> Result<PathBuf, ClientError> {
        if let Err(error) = verify_digest(&self.blob, &self.checked.digest) {
            remove_quietly(&self.blob);
            return Err(error);
        }
        private_dir(&self.dir)?;
        if let Err(error) = decrypt(&self.blob, &self.temp, &self.checked, self.size) {
            remove_quietly(&self.temp);
            if matches!(error, ClientError::Attachment(_)) {
                remove_quietly(&self.blob);
            }
            return Err(error);
        }
        let placed = place(&self.temp, &self.dir, &self.name);
        if placed.is_err() {
            remove_quietly(&self.temp);
        }
        remove_quietly(&self.blob);
        placed
    }
}

/// Checks the SHA-256 of the whole downloaded blob against the pointer's digest.
fn verify_digest(blob: &Path, digest: &[u8; DIGEST_LEN]) -> Result<(), ClientError> {
    let mut file = std::fs::File::open(blob).map_err(file_error(blob))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; READ_LEN];
    loop {
        let read = file.read(&mut buffer).map_err(file_error(blob))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    let actual: [u8; DIGEST_LEN] = hasher.finalize().into();
    if bool::from(actual.ct_eq(digest)) {
        Ok(())
    } else {
        Err(AttachmentError::DigestMismatch.into())
    }
}

/// Decrypts the checked blob into `temp` (0600), synced to disk.
fn decrypt(blob: &Path, temp: &Path, checked: &Checked, size: u64) -> Result<(), ClientError> {
    let mut input = std::fs::File::open(blob).map_err(file_error(blob))?;
    let mut output = private_file(temp, false)?;
    let mut decryptor = AttachmentDecryptor::new(&checked.key, size, checked.digest);
    let mut buffer = vec![0u8; READ_LEN];
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(READ_LEN * 2));
    loop {
        let read = input.read(&mut buffer).map_err(file_error(blob))?;
        if read == 0 {
            break;
        }
        decryptor.update(&buffer[..read], &mut plain)?;
        output.write_all(&plain).map_err(file_error(temp))?;
        plain.clear();
    }
    decryptor.finish()?;
    output.sync_all().map_err(file_error(temp))
}

/// Removes a file of ours; one already gone is fine, another failure is logged.
fn remove_quietly(path: &Path) {
    if let Err(error) = std::fs::remove_file(path)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%error, "could not remove an attachment's temporary file");
    }
}
