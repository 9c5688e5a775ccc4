//! The recipient's side: blob in, plaintext out, one chunk at a time.

use super::{
    AttachmentDigest, AttachmentError, AttachmentKey, CHUNK_LEN, HEADER_LEN, MAGIC, TAG_LEN,
    VERSION, chunk_count, chunk_nonce, chunk_plaintext_len, padded_len,
};
use aes_gcm::aead::{AeadInOut, KeyInit, Tag};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Decrypts one blob, given the key, plaintext size and digest from the message announcing it.
///
/// Feed the blob in slices of any size with [`update`](Self::update); each call appends the
/// plaintext of every chunk completed so far. Every chunk is authentic when it is written out,
/// but only [`finish`](Self::finish) confirms the blob is complete and exactly the one the
/// sender announced: write the output somewhere temporary and keep it only if `finish`
/// succeeds.
pub struct AttachmentDecryptor {
    key: AttachmentKey,
    cipher: Option<Aes256Gcm>,
    header: [u8; HEADER_LEN],
    plaintext_len: u64,
    padded_len: u64,
    chunks: u64,
    next_chunk: u64,
    pending: Vec<u8>,
    hasher: Sha256,
    digest: AttachmentDigest,
    poisoned: bool,
}

impl AttachmentDecryptor {
    /// Starts decrypting the blob announced with `key`, `plaintext_len` and `digest`.
    pub fn new(
        key: &AttachmentKey,
        plaintext_len: u64,
        digest: AttachmentDigest,
    ) -> AttachmentDecryptor {
        AttachmentDecryptor {
            key: key.clone(),
            cipher: None,
            header: [0; HEADER_LEN],
            plaintext_len,
            padded_len: padded_len(plaintext_len),
            chunks: chunk_count(plaintext_len),
            next_chunk: 0,
            pending: Vec::with_capacity(CHUNK_LEN + TAG_LEN),
            hasher: Sha256::new(),
            digest,
            poisoned: false,
        }
    }

    /// Decrypts the next `blob` bytes, appending the plaintext of completed chunks to `out`.
    ///
    /// # Errors
    /// A bad header, another key, an unauthentic chunk, bad padding or data past the end;
    /// afterwards every call fails with [`AttachmentError::Poisoned`].
    pub fn update(&mut self, blob: &[u8], out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        if self.poisoned {
            return Err(AttachmentError::Poisoned);
        }
        let result = self.absorb(blob, out);
        self.poisoned = result.is_err();
        result
    }

    /// Confirms that the whole blob arrived and matches the announced digest.
    ///
    /// # Errors
    /// [`AttachmentError::Truncated`] before the last chunk, [`AttachmentError::DigestMismatch`]
    /// when the bytes differ from those the sender announced.
    pub fn finish(self) -> Result<(), AttachmentError> {
        if self.poisoned {
            return Err(AttachmentError::Poisoned);
        }
        if self.next_chunk < self.chunks {
            return Err(AttachmentError::Truncated);
        }
        let actual: AttachmentDigest = self.hasher.finalize().into();
        if bool::from(actual.ct_eq(&self.digest)) {
            Ok(())
        } else {
            Err(AttachmentError::DigestMismatch)
        }
    }

    fn absorb(&mut self, mut blob: &[u8], out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        self.hasher.update(blob);
        while !blob.is_empty() {
            if self.next_chunk == self.chunks {
                return Err(AttachmentError::TrailingData);
            }
            let wanted = self.wanted_len() - self.pending.len();
            let (now, later) = blob.split_at(wanted.min(blob.len()));
            self.pending.extend_from_slice(now);
            blob = later;
            if self.pending.len() == self.wanted_len() {
                self.consume_pending(out)?;
            }
        }
        Ok(())
    }

    /// Bytes of the next unit: the header, then each chunk with its tag.
    fn wanted_len(&self) -> usize {
        match self.cipher {
            None => HEADER_LEN,
            Some(_) => chunk_plaintext_len(self.padded_len, self.next_chunk) + TAG_LEN,
        }
    }

    fn consume_pending(&mut self, out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        if self.cipher.is_none() {
            self.open_header()?;
        } else {
            self.open_chunk(out)?;
        }
        self.pending.clear();
        Ok(())
    }

    fn open_header(&mut self) -> Result<(), AttachmentError> {
        let header = &self.pending[..HEADER_LEN];
        if &header[..4] != MAGIC {
            return Err(AttachmentError::BadHeader);
        }
        if header[4] != VERSION {
            return Err(AttachmentError::UnsupportedVersion(header[4]));
        }
        if header[5..9] != (CHUNK_LEN as u32).to_be_bytes() {
            return Err(AttachmentError::BadHeader);
        }
        let (chunk_key, expected) = self.key.header();
        if !bool::from(header.ct_eq(&expected)) {
            return Err(AttachmentError::KeyMismatch);
        }
        self.header.copy_from_slice(header);
        self.cipher = Some(Aes256Gcm::new((&*chunk_key).into()));
        Ok(())
    }

    /// Decrypts the buffered chunk in place at the end of `out`; on any failure `out` is
    /// left as it was, so no unauthenticated byte is ever handed out.
    fn open_chunk(&mut self, out: &mut Vec<u8>) -> Result<(), AttachmentError> {
        let index = self.next_chunk;
        let body_len = self.pending.len() - TAG_LEN;
        let (body, tag) = self.pending.split_at(body_len);
        let tag = Tag::<Aes256Gcm>::try_from(tag).map_err(|_| AttachmentError::BadHeader)?;
        let cipher = self.cipher.as_ref().ok_or(AttachmentError::BadHeader)?;
        let start = out.len();
        out.extend_from_slice(body);
        let opened = cipher.decrypt_inout_detached(
            &Nonce::from(chunk_nonce(index, index + 1 == self.chunks)),
            &self.header,
            (&mut out[start..]).into(),
            &tag,
        );
        let real = self
            .plaintext_len
            .saturating_sub(index * CHUNK_LEN as u64)
            .min(body_len as u64) as usize;
        let outcome = match opened {
            Err(_) => Err(AttachmentError::ChunkNotAuthentic(index)),
            Ok(()) if out[start + real..].iter().any(|&b| b != 0) => {
                Err(AttachmentError::BadPadding)
            }
            Ok(()) => Ok(()),
        };
        if outcome.is_err() {
            out[start..].zeroize();
            out.truncate(start);
            return outcome;
        }
        out.truncate(start + real);
        self.next_chunk += 1;
        Ok(())
    }
}

impl std::fmt::Debug for AttachmentDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentDecryptor")
            .field("plaintext_len", &self.plaintext_len)
            .field("next_chunk", &self.next_chunk)
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}
