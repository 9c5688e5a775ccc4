//! Chain keys and the chain KDF.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::message_key::MessageKeySeed;

/// A sending or receiving chain key with the index of the next message on it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct ChainKey {
    key: [u8; 32],
    index: u32,
}

impl ChainKey {
    pub(crate) fn new(key: [u8; 32], index: u32) -> Self {
        Self { key, index }
    }

    pub(crate) fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The index of the message this chain key will produce the keys of.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// `HMAC-SHA256(CK, 0x01)`: the seed of message `index`.
    pub(crate) fn message_key_seed(&self) -> MessageKeySeed {
        MessageKeySeed::new(self.hmac(0x01), self.index)
    }

    /// `HMAC-SHA256(CK, 0x02)`: the chain key of the next message, or `None` past `u32::MAX`.
    pub(crate) fn next(&self) -> Option<ChainKey> {
        let index = self.index.checked_add(1)?;
        Some(Self {
            key: self.hmac(0x02),
            index,
        })
    }

    fn hmac(&self, byte: u8) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail; fall back to an all-zero output
        // rather than panic in the impossible case (a wrong key then fails authentication).
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) else {
            return [0; 32];
        };
        mac.update(&[byte]);
        mac.finalize().into_bytes().into()
    }
}
