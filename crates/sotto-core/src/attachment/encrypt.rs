//! The sender's side: plaintext in, blob out, one chunk at a time.

use super::{
    AttachmentDigest, AttachmentError, AttachmentKey, CHUNK_LEN, HEADER_LEN, TAG_LEN, chunk_count,
    chunk_nonce, padded_len,
};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Encrypts one file of a size known in advance.
///
/// Feed the plaintext in slices of any size with [`update`](Self::update); each call appends
/// whole encrypted chunks (and, the first time, the header) to the output. [`finish`]
/// (Self::finish) pads, writes the last chunk and returns the blob's digest.
pub struct AttachmentEncryptor {
    cipher: Aes256Gcm,
    header: [u8; HEADER_LEN],
    plaintext_len: u64,
    taken: u64,
    chunks: u64,
    next_chunk: u64,
    pending: Zeroizing<Vec<u8>>,
    hasher: Sha256,
    header_written: bool,
    poisoned: bool,
}

impl AttachmentEncryptor {
    /// Starts encrypting a file of exactly `plaintext_len` bytes under `key`.
    pub fn new(key: &AttachmentKey, plaintext_len: u64) -> AttachmentEncryptor {
        let (chunk_key, header) = key.header();
        AttachmentEncryptor {
            cipher: Aes256Gcm::new((&*chunk_key).into()),
            header,
            plaintext_len,
            taken: 0,
            chunks: chunk_count(plaintext_len),
            next_chunk: 0,
            pending: Zeroizing::new(Vec::with_capacity(CHUNK_LEN + TAG_LEN)),
            hasher: Sha256::new(),
            header_written: false,
            poisoned: false,
        }
    }

    /// Encrypts the next `plaintext` bytes, appending finished ciphertext to `out`.
    ///
    /// # Errors
    /// [`AttachmentError::LengthMismatch`] past the announced size (the encryptor is then
    /// unusable), [`AttachmentError::Poisoned`] after an earlier error.
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        self.check_usable()?;
        let actual = self.taken.saturating_add(plaintext.len() as u64);
        if actual > self.plaintext_len {
            self.poisoned = true;
            return Err(AttachmentError::LengthMismatch {
                expected: self.plaintext_len,
                actual,
            });
        }
        self.taken = actual;
        self.write_header(out);
        let mut rest = plaintext;
        while !rest.is_empty() {
            let room = CHUNK_LEN - self.pending.len();
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.pending.extend_from_slice(now);
            rest = later;
            if self.pending.len() == CHUNK_LEN {
                self.seal_pending(out);
            }
        }
        Ok(())
    }

    /// Pads, encrypts the last chunk into `out`, and returns the digest of the whole blob.
    ///
    /// # Errors
    /// [`AttachmentError::LengthMismatch`] if fewer bytes than announced were given.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<AttachmentDigest, AttachmentError> {
        self.check_usable()?;
        if self.taken != self.plaintext_len {
            return Err(AttachmentError::LengthMismatch {
                expected: self.plaintext_len,
                actual: self.taken,
            });
        }
        self.write_header(out);
        let mut padding = padded_len(self.plaintext_len) - self.plaintext_len;
        while self.next_chunk < self.chunks {
            let room = (CHUNK_LEN - self.pending.len()) as u64;
            let zeros = room.min(padding);
            let filled = self.pending.len() + zeros as usize;
            self.pending.resize(filled, 0);
            padding -= zeros;
            self.seal_pending(out);
        }
        Ok(self.hasher.finalize().into())
    }

    fn check_usable(&self) -> Result<(), AttachmentError> {
        if self.poisoned {
            Err(AttachmentError::Poisoned)
        } else {
            Ok(())
        }
    }

    fn write_header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            self.header_written = true;
            self.hasher.update(self.header);
            out.extend_from_slice(&self.header);
        }
    }

    /// Encrypts the buffered chunk into `out` and empties the buffer.
    fn seal_pending(&mut self, out: &mut Vec<u8>) {
        let index = self.next_chunk;
        let nonce = Nonce::from(chunk_nonce(index, index + 1 == self.chunks));
        let start = out.len();
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        // AES-GCM refuses only inputs past 64 GiB; a chunk is 64 KiB.
        if let Ok(tag) =
            self.cipher
                .encrypt_inout_detached(&nonce, &self.header, (&mut out[start..]).into())
        {
            out.extend_from_slice(&tag);
        }
        self.hasher.update(&out[start..]);
        self.next_chunk += 1;
    }
}

impl std::fmt::Debug for AttachmentEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentEncryptor")
            .field("plaintext_len", &self.plaintext_len)
            .field("taken", &self.taken)
            .field("next_chunk", &self.next_chunk)
            .finish_non_exhaustive()
    }
}
