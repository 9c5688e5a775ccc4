//! The access key that authorises sealed delivery to an account (`docs/protocol.md` §17.5).
//!
//! The relay accepts a sealed envelope for an account only with that account's access key
//! (unless the account accepts sealed envelopes from anyone). The key is derived from the
//! account's identity secret, so every device of the account has it without a further
//! exchange, and the account shares it only with its contacts, inside end-to-end encrypted
//! content. It authorises delivery, nothing else: it opens no envelope.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::layers::derive;
use crate::identity::IdentityKeyPair;
use crate::labels;

/// Length of an access key.
pub const ACCESS_KEY_LEN: usize = 16;

/// An account's access key for sealed delivery; zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AccessKey([u8; ACCESS_KEY_LEN]);

impl AccessKey {
    /// The access key of the account whose identity this is (the same on every device).
    pub fn derive(identity: &IdentityKeyPair) -> Self {
        let secret = identity.to_secret_bytes();
        let mut key = [0u8; ACCESS_KEY_LEN];
        derive(None, &secret[..], labels::ACCESS_KEY, &[], &mut key);
        Self(key)
    }

    /// An access key a contact shared with us.
    ///
    /// # Errors
    /// Bytes that are not [`ACCESS_KEY_LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::KeyError> {
        let key: [u8; ACCESS_KEY_LEN] =
            bytes.try_into().map_err(|_| crate::KeyError::WrongLength {
                expected: ACCESS_KEY_LEN,
                actual: bytes.len(),
            })?;
        Ok(Self(key))
    }

    /// The key's bytes, to hand to the relay or share with a contact.
    pub fn as_bytes(&self) -> &[u8; ACCESS_KEY_LEN] {
        &self.0
    }
}

impl PartialEq for AccessKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for AccessKey {}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKey(..)")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn the_key_is_the_same_for_one_identity_and_differs_between_identities() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let alice = IdentityKeyPair::generate(&mut rng);
        let bob = IdentityKeyPair::generate(&mut rng);
        let again = IdentityKeyPair::from_secret_bytes(&alice.to_secret_bytes());
        assert_eq!(AccessKey::derive(&alice), AccessKey::derive(&again));
        assert_ne!(AccessKey::derive(&alice), AccessKey::derive(&bob));
        let key = AccessKey::derive(&alice);
        assert_eq!(AccessKey::from_bytes(key.as_bytes()).unwrap(), key);
        assert!(AccessKey::from_bytes(&[0; 15]).is_err());
        assert_eq!(format!("{key:?}"), "AccessKey(..)");
    }
}
