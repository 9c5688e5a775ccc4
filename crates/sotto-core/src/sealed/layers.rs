//! The keys of a sealed layer and its encrypt-then-MAC: AES-256-CTR with a zero IV (every key
//! is used for one message only) and a full HMAC-SHA256 tag, which makes each layer
//! key-committing.

use aes::Aes256;
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length of a layer's tag.
pub(crate) const TAG_LEN: usize = 32;

/// `HKDF-SHA256(salt, ikm, info = label || parts...)` into `out`.
pub(crate) fn derive(
    salt: Option<&[u8]>,
    ikm: &[u8],
    label: &[u8],
    parts: &[&[u8]],
    out: &mut [u8],
) {
    let mut info = Vec::with_capacity(label.len() + parts.iter().map(|p| p.len()).sum::<usize>());
    info.extend_from_slice(label);
    parts.iter().for_each(|p| info.extend_from_slice(p));
    // Every caller asks for at most 96 bytes, far below HKDF-SHA256's limit of 8160.
    let _ = Hkdf::<Sha256>::new(salt, ikm).expand(&info, out);
}

/// A cipher key and a MAC key for one layer; zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct LayerKeys {
    cipher_key: [u8; 32],
    mac_key: [u8; 32],
}

impl LayerKeys {
    /// Splits 64 bytes of key material.
    pub(crate) fn from_okm(okm: &[u8; 64]) -> Self {
        let mut keys = Self {
            cipher_key: [0; 32],
            mac_key: [0; 32],
        };
        keys.cipher_key.copy_from_slice(&okm[..32]);
        keys.mac_key.copy_from_slice(&okm[32..]);
        keys
    }

    /// `HKDF(salt, ikm, label || parts...)` → cipher key, MAC key.
    pub(crate) fn derive(salt: Option<&[u8]>, ikm: &[u8], label: &[u8], parts: &[&[u8]]) -> Self {
        let mut okm = Zeroizing::new([0u8; 64]);
        derive(salt, ikm, label, parts, okm.as_mut());
        Self::from_okm(&okm)
    }

    /// Encrypts `plaintext`; returns `ciphertext || HMAC(mac_key, authenticated || ciphertext)`.
    pub(crate) fn seal(&self, authenticated: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        self.apply_cipher(&mut out);
        let tag = self.tag(authenticated, &out);
        out.extend_from_slice(&tag);
        out
    }

    /// Checks the tag (in constant time) and decrypts; `None` if the tag is wrong or missing.
    pub(crate) fn open(&self, authenticated: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let split = sealed.len().checked_sub(TAG_LEN)?;
        let (ciphertext, tag) = sealed.split_at(split);
        if !bool::from(self.tag(authenticated, ciphertext).ct_eq(tag)) {
            return None;
        }
        let mut plaintext = Zeroizing::new(ciphertext.to_vec());
        self.apply_cipher(&mut plaintext);
        Some(plaintext)
    }

    fn apply_cipher(&self, buffer: &mut [u8]) {
        let mut cipher = Ctr128BE::<Aes256>::new(&self.cipher_key.into(), &[0u8; 16].into());
        cipher.apply_keystream(buffer);
    }

    fn tag(&self, authenticated: &[u8], ciphertext: &[u8]) -> [u8; TAG_LEN] {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.mac_key) else {
            return [0; TAG_LEN];
        };
        mac.update(authenticated);
        mac.update(ciphertext);
        mac.finalize().into_bytes().into()
    }
}
