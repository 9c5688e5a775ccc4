//! Per-message keys: derivation, encrypt-then-MAC and verification.

use aes::Aes256;
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::labels;

/// Length of the full HMAC-SHA256 tag on every ratchet message (not truncated: the tag is what
/// makes the encryption key-committing).
pub const MAC_LEN: usize = 32;

/// The seed of one message's keys (what skipped-message storage keeps).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct MessageKeySeed {
    seed: [u8; 32],
    index: u32,
}

impl MessageKeySeed {
    pub(crate) fn new(seed: [u8; 32], index: u32) -> Self {
        Self { seed, index }
    }

    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    pub(crate) fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// `HKDF(salt = 0^32, IKM = seed, info = Sotto_Ratchet_MessageKeys_v1)` → 80 bytes:
    /// cipher key, MAC key, IV.
    pub(crate) fn derive(&self) -> MessageKeys {
        self.derive_with(labels::MESSAGE_KEYS)
    }

    /// The same derivation under another sub-protocol's label (groups use their own, so a key
    /// of one can never be a key of the other).
    pub(crate) fn derive_with(&self, info: &[u8]) -> MessageKeys {
        let mut okm = Zeroizing::new([0u8; 80]);
        // 80 bytes is far below HKDF-SHA256's limit of 8160, so expand cannot fail.
        let _ = Hkdf::<Sha256>::new(None, &self.seed).expand(info, okm.as_mut());
        let mut keys = MessageKeys {
            cipher_key: [0; 32],
            mac_key: [0; 32],
            iv: [0; 16],
        };
        keys.cipher_key.copy_from_slice(&okm[..32]);
        keys.mac_key.copy_from_slice(&okm[32..64]);
        keys.iv.copy_from_slice(&okm[64..]);
        keys
    }
}

/// The keys of one message; zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct MessageKeys {
    cipher_key: [u8; 32],
    mac_key: [u8; 32],
    iv: [u8; 16],
}

impl MessageKeys {
    /// The three keys, for known-answer tests.
    pub(crate) fn to_parts(&self) -> ([u8; 32], [u8; 32], [u8; 16]) {
        (self.cipher_key, self.mac_key, self.iv)
    }

    /// AES-256-CTR in place (encryption and decryption are the same operation).
    pub(crate) fn apply_cipher(&self, buffer: &mut [u8]) {
        let mut cipher = Ctr128BE::<Aes256>::new(&self.cipher_key.into(), &self.iv.into());
        cipher.apply_keystream(buffer);
    }

    /// `HMAC-SHA256(mac_key, associated_data || authenticated)`.
    pub(crate) fn mac(&self, associated_data: &[u8; 32], authenticated: &[u8]) -> [u8; MAC_LEN] {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.mac_key) else {
            return [0; MAC_LEN];
        };
        mac.update(associated_data);
        mac.update(authenticated);
        mac.finalize().into_bytes().into()
    }

    /// Constant-time check of a received tag.
    pub(crate) fn verify(
        &self,
        associated_data: &[u8; 32],
        authenticated: &[u8],
        tag: &[u8],
    ) -> bool {
        bool::from(self.mac(associated_data, authenticated).ct_eq(tag))
    }
}
