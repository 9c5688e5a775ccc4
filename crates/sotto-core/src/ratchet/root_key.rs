//! The root key and the root KDF.

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::chain_key::ChainKey;
use crate::curve::{PrivateKey, PublicKey};
use crate::error::KeyError;
use crate::labels;

/// The root key; zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct RootKey([u8; 32]);

impl RootKey {
    pub(crate) fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `(RK', CK) = HKDF(salt = RK, IKM = DH(ours, theirs), info = Sotto_Ratchet_Root_v1)`.
    pub(crate) fn step(
        &self,
        ours: &PrivateKey,
        theirs: &PublicKey,
    ) -> Result<(RootKey, ChainKey), KeyError> {
        let shared = ours.agree(theirs)?;
        let mut okm = zeroize::Zeroizing::new([0u8; 64]);
        Hkdf::<Sha256>::new(Some(&self.0), shared.as_ref())
            .expand(labels::RATCHET_ROOT, okm.as_mut())
            .map_err(|_| KeyError::NonContributory)?;
        let mut root = [0; 32];
        let mut chain = [0; 32];
        root.copy_from_slice(&okm[..32]);
        chain.copy_from_slice(&okm[32..]);
        Ok((RootKey(root), ChainKey::new(chain, 0)))
    }
}
