//! Attachments: files of any size encrypted in a streaming, chunked, key-committing scheme.
//!
//! ```text
//!   key K (32 random bytes, one per file) ──HKDF──► chunk key ‖ commitment
//!   blob = header ‖ chunk 0 ‖ chunk 1 ‖ … ‖ chunk n-1       digest = SHA-256(blob)
//!   header  = "SOTA" ‖ version 1 ‖ chunk size (u32, big-endian) ‖ commitment
//!   chunk i = AES-256-GCM(chunk key, nonce = i ‖ last?, aad = header, padded plaintext slice)
//! ```
//!
//! The sender keeps K, the digest and the plaintext size, and sends them to the recipient
//! inside an end-to-end encrypted message; the relay stores only the blob. The plaintext is
//! zero-padded to a size bucket (at most 1/16 larger, at least [`MIN_PADDED_LEN`]) so that the
//! blob's size says little about the file's. Every chunk is authenticated with its index and
//! whether it is the last, so chunks cannot be dropped, reordered or truncated; the header's
//! commitment binds the blob to one key (AES-GCM alone is not key-committing); the digest binds
//! it to the exact bytes the sender uploaded. `docs/protocol.md` ("Attachments") is normative.
//!
//! Both directions work on slices of any size and keep at most one chunk buffered, so memory
//! stays flat whatever the file size. Encryption is deterministic for a given key and
//! plaintext, which lets an interrupted upload resume by re-encrypting and skipping the bytes
//! the relay already holds.

mod decrypt;
mod encrypt;

pub use decrypt::AttachmentDecryptor;
pub use encrypt::AttachmentEncryptor;

use crate::labels;
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Plaintext bytes per chunk.
pub const CHUNK_LEN: usize = 64 * 1024;
/// Bytes of the AES-GCM tag after each chunk.
pub const TAG_LEN: usize = 16;
/// Bytes of the blob header.
pub const HEADER_LEN: usize = 4 + 1 + 4 + 32;
/// The smallest padded plaintext: tiny files all look alike.
pub const MIN_PADDED_LEN: u64 = 512;
/// Bytes of the digest that identifies a blob's exact contents.
pub const DIGEST_LEN: usize = 32;

const MAGIC: &[u8; 4] = b"SOTA";
const VERSION: u8 = 1;

/// SHA-256 of a whole blob, header included.
pub type AttachmentDigest = [u8; DIGEST_LEN];

/// The secret of one attachment. Generate a fresh one for every file: never reuse it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AttachmentKey([u8; 32]);

impl AttachmentKey {
    /// A fresh random key.
    pub fn generate(rng: &mut impl CryptoRng) -> AttachmentKey {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        AttachmentKey(key)
    }

    /// The key carried in a message.
    pub fn from_bytes(bytes: [u8; 32]) -> AttachmentKey {
        AttachmentKey(bytes)
    }

    /// The key's bytes, to put in the message that announces the attachment.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The chunk key and the commitment, from one HKDF expansion.
    fn derive(&self) -> (Zeroizing<[u8; 32]>, [u8; 32]) {
        let mut okm = Zeroizing::new([0u8; 64]);
        // 64 bytes is far below HKDF-SHA256's 8,160-byte limit.
        let _ = Hkdf::<Sha256>::new(None, &self.0).expand(labels::ATTACHMENT, okm.as_mut());
        let mut chunk_key = Zeroizing::new([0u8; 32]);
        chunk_key.copy_from_slice(&okm[..32]);
        let mut commitment = [0u8; 32];
        commitment.copy_from_slice(&okm[32..]);
        (chunk_key, commitment)
    }

    /// The blob header this key produces.
    fn header(&self) -> (Zeroizing<[u8; 32]>, [u8; HEADER_LEN]) {
        let (chunk_key, commitment) = self.derive();
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(MAGIC);
        header[4] = VERSION;
        header[5..9].copy_from_slice(&(CHUNK_LEN as u32).to_be_bytes());
        header[9..].copy_from_slice(&commitment);
        (chunk_key, header)
    }
}

impl std::fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AttachmentKey(<redacted>)")
    }
}

/// Why an attachment could not be encrypted or decrypted. After any error the encryptor or
/// decryptor refuses further input; the caller discards what it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AttachmentError {
    /// The blob does not start with a Sotto attachment header.
    #[error("not a Sotto attachment (bad header)")]
    BadHeader,
    /// The header's version or chunk size is not one this release reads.
    #[error("attachment format version {0} is not supported; update Sotto")]
    UnsupportedVersion(u8),
    /// The blob was made with another key than the one in the message.
    #[error("the attachment was encrypted under another key")]
    KeyMismatch,
    /// A chunk failed authentication: tampered, reordered, or cut short.
    #[error("attachment chunk {0} is not authentic (tampered, reordered or truncated)")]
    ChunkNotAuthentic(u64),
    /// Padding after the announced size is not all zeros.
    #[error("attachment padding is malformed")]
    BadPadding,
    /// The blob ended before its last chunk.
    #[error("the attachment is truncated")]
    Truncated,
    /// The blob holds bytes past its last chunk.
    #[error("the attachment has data past its end")]
    TrailingData,
    /// The blob's SHA-256 differs from the digest in the message.
    #[error("the attachment's digest does not match the message")]
    DigestMismatch,
    /// The encryptor was given more or fewer bytes than the size it was created with.
    #[error("the file was {actual} bytes, not the {expected} announced")]
    LengthMismatch {
        /// Bytes announced.
        expected: u64,
        /// Bytes given.
        actual: u64,
    },
    /// An earlier error ended this encryption or decryption.
    #[error("an earlier error ended this attachment operation")]
    Poisoned,
}

/// The plaintext size once padded: the size bucket the blob reveals.
pub fn padded_len(plaintext_len: u64) -> u64 {
    if plaintext_len <= MIN_PADDED_LEN {
        return MIN_PADDED_LEN;
    }
    // 16 buckets per power of two: at most 1/16 of padding. Integers only, so every
    // platform computes the same bucket.
    let exponent = 63 - plaintext_len.leading_zeros();
    let step = 1u64 << (exponent - 4);
    plaintext_len.div_ceil(step).saturating_mul(step)
}

/// The digest of a whole blob in memory (the encryptor and decryptor compute it as they go).
pub fn blob_digest(blob: &[u8]) -> AttachmentDigest {
    use sha2::Digest;
    Sha256::digest(blob).into()
}

/// Number of chunks of a blob holding `plaintext_len` bytes (at least one).
pub fn chunk_count(plaintext_len: u64) -> u64 {
    padded_len(plaintext_len).div_ceil(CHUNK_LEN as u64)
}

/// Size of the blob for a plaintext of `plaintext_len` bytes.
pub fn ciphertext_len(plaintext_len: u64) -> u64 {
    HEADER_LEN as u64 + padded_len(plaintext_len) + chunk_count(plaintext_len) * TAG_LEN as u64
}

/// Plaintext bytes (padding included) of chunk `index` of a blob whose padded size is
/// `padded`.
fn chunk_plaintext_len(padded: u64, index: u64) -> usize {
    let start = index * CHUNK_LEN as u64;
    (padded - start).min(CHUNK_LEN as u64) as usize
}

/// The nonce of chunk `index`: the index, then whether it is the last chunk.
fn chunk_nonce(index: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&index.to_be_bytes());
    nonce[8] = u8::from(last);
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_buckets_grow_by_at_most_a_sixteenth() {
        assert_eq!(padded_len(0), MIN_PADDED_LEN);
        assert_eq!(padded_len(512), 512);
        assert_eq!(padded_len(513), 544);
        for len in [
            600u64,
            4_097,
            65_535,
            65_537,
            1 << 20,
            (1 << 31) + 12_345,
            u64::MAX / 4,
        ] {
            let padded = padded_len(len);
            assert!(
                padded >= len && padded - len <= len / 16,
                "{len} -> {padded}"
            );
        }
    }

    #[test]
    fn sizes_add_up() {
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(CHUNK_LEN as u64), 1);
        assert_eq!(chunk_count(CHUNK_LEN as u64 + 1), 2);
        assert_eq!(ciphertext_len(0), HEADER_LEN as u64 + 512 + 16);
    }

    #[test]
    fn commitment_differs_per_key() {
        let (_, a) = AttachmentKey::from_bytes([1; 32]).header();
        let (_, b) = AttachmentKey::from_bytes([2; 32]).header();
        assert_ne!(a[9..], b[9..]);
        assert_eq!(&a[..9], &b[..9]);
    }

    #[test]
    fn debug_redacts_the_key() {
        let shown = format!("{:?}", AttachmentKey::from_bytes([7; 32]));
        assert!(!shown.contains('7'));
    }
}
