//! Identity keys: an Ed25519 signing key and an X25519 key, the latter signed by the former.
//! All devices of an account share one identity.

use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::curve::{PrivateKey, PublicKey, X25519_TYPE};
use crate::error::KeyError;
use crate::labels;

/// Type byte of an encoded identity key.
pub const IDENTITY_TYPE: u8 = 0x21;
/// Length of an encoded identity key: type, Ed25519 key, X25519 key, binding signature.
pub const IDENTITY_ENCODED_LEN: usize = 1 + 32 + 32 + 64;
/// Length of the identity fingerprint input (type, Ed25519 key, X25519 key).
pub const IDENTITY_KEYS_LEN: usize = 1 + 32 + 32;

/// A peer's public identity, verified: its X25519 key is signed by its Ed25519 key.
#[derive(Clone)]
pub struct IdentityKey {
    signing: VerifyingKey,
    agreement: PublicKey,
    binding: [u8; 64],
}

impl IdentityKey {
    /// Decodes and verifies a 129-byte identity key.
    ///
    /// # Errors
    /// Wrong length or type, an invalid or weak Ed25519 key, an invalid X25519 key, or a binding
    /// signature that fails strict verification.
    pub fn from_wire(bytes: &[u8]) -> Result<Self, KeyError> {
        let key = Self::from_stored(bytes)?;
        key.verify(
            labels::IDENTITY_BINDING,
            &[&key.agreement.encode()],
            &key.binding,
        )?;
        Ok(key)
    }

    /// Decodes an identity that was verified by [`IdentityKey::from_wire`] when it arrived and
    /// has been in our own (encrypted) storage since: every key is still validated, but the
    /// binding signature is not checked again (it costs an Ed25519 verification per session on
    /// every record load).
    ///
    /// # Errors
    /// As [`IdentityKey::from_wire`], except [`KeyError::BadSignature`].
    pub(crate) fn from_stored(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != IDENTITY_ENCODED_LEN {
            return Err(KeyError::WrongLength {
                expected: IDENTITY_ENCODED_LEN,
                actual: bytes.len(),
            });
        }
        if bytes[0] != IDENTITY_TYPE {
            return Err(KeyError::WrongType {
                expected: IDENTITY_TYPE,
                actual: bytes[0],
            });
        }
        let signing = verifying_key(&bytes[1..33])?;
        let mut u = [0; 32];
        u.copy_from_slice(&bytes[33..65]);
        let agreement = PublicKey::from_raw(u)?;
        let mut binding = [0; 64];
        binding.copy_from_slice(&bytes[65..]);
        Ok(Self {
            signing,
            agreement,
            binding,
        })
    }

    /// The 129-byte wire encoding.
    pub fn encode(&self) -> [u8; IDENTITY_ENCODED_LEN] {
        let mut out = [0; IDENTITY_ENCODED_LEN];
        out[..IDENTITY_KEYS_LEN].copy_from_slice(&self.keys());
        out[IDENTITY_KEYS_LEN..].copy_from_slice(&self.binding);
        out
    }

    /// The two public keys with the type byte: what safety numbers cover.
    pub fn keys(&self) -> [u8; IDENTITY_KEYS_LEN] {
        let mut out = [0; IDENTITY_KEYS_LEN];
        out[0] = IDENTITY_TYPE;
        out[1..33].copy_from_slice(self.signing.as_bytes());
        out[33..].copy_from_slice(self.agreement.as_bytes());
        out
    }

    /// The X25519 half, used in PQXDH.
    pub fn agreement_key(&self) -> &PublicKey {
        &self.agreement
    }

    /// Verifies an Ed25519 signature (strictly) over `context || parts...`.
    ///
    /// # Errors
    /// [`KeyError::BadSignature`].
    pub fn verify(
        &self,
        context: &[u8],
        parts: &[&[u8]],
        signature: &[u8],
    ) -> Result<(), KeyError> {
        let signature: [u8; 64] = signature.try_into().map_err(|_| KeyError::BadSignature)?;
        let message = signed_message(context, parts);
        self.signing
            .verify_strict(&message, &Signature::from_bytes(&signature))
            .map_err(|_| KeyError::BadSignature)
    }
}

impl PartialEq for IdentityKey {
    fn eq(&self, other: &Self) -> bool {
        self.keys() == other.keys()
    }
}

impl Eq for IdentityKey {}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey(")?;
        self.keys()[1..]
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// Decodes an Ed25519 public key, refusing weak keys and non-canonical encodings.
pub(crate) fn verifying_key(bytes: &[u8]) -> Result<VerifyingKey, KeyError> {
    let raw: [u8; 32] = bytes.try_into().map_err(|_| KeyError::InvalidSigningKey)?;
    let key = VerifyingKey::from_bytes(&raw).map_err(|_| KeyError::InvalidSigningKey)?;
    // Decompression reduces y modulo p, so refuse any encoding that is not the canonical one:
    // an identity has exactly one encoding.
    let canonical = key.to_edwards().compress();
    if key.is_weak() || canonical.as_bytes() != &raw {
        return Err(KeyError::InvalidSigningKey);
    }
    Ok(key)
}

/// The bytes a signature covers: a domain-separating context, then the parts.
pub(crate) fn signed_message(context: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let len = context.len() + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut message = Vec::with_capacity(len);
    message.extend_from_slice(context);
    parts.iter().for_each(|p| message.extend_from_slice(p));
    message
}

/// Our own identity: both private keys and the public identity. Zeroized on drop.
#[derive(Clone)]
pub struct IdentityKeyPair {
    signing: SigningKey,
    agreement: PrivateKey,
    public: IdentityKey,
}

/// Length of a stored identity key pair: Ed25519 seed then X25519 private key.
pub const IDENTITY_SECRET_LEN: usize = 64;

impl IdentityKeyPair {
    /// Draws a new identity from `rng`.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut secret = Zeroizing::new([0u8; IDENTITY_SECRET_LEN]);
        rng.fill_bytes(secret.as_mut());
        Self::from_secret_bytes(&secret)
    }

    /// Rebuilds an identity from its stored 64 bytes.
    pub fn from_secret_bytes(secret: &[u8; IDENTITY_SECRET_LEN]) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&secret[..32]);
        let mut dh = Zeroizing::new([0u8; 32]);
        dh.copy_from_slice(&secret[32..]);
        let signing = SigningKey::from_bytes(&seed);
        let agreement = PrivateKey::from_bytes(*dh);
        let agreement_public = agreement.public_key();
        let message = signed_message(labels::IDENTITY_BINDING, &[&agreement_public.encode()]);
        let binding = signing.sign(&message).to_bytes();
        let public = IdentityKey {
            signing: signing.verifying_key(),
            agreement: agreement_public,
            binding,
        };
        Self {
            signing,
            agreement,
            public,
        }
    }

    /// The 64 bytes to store (Ed25519 seed, X25519 private key).
    pub fn to_secret_bytes(&self) -> Zeroizing<[u8; IDENTITY_SECRET_LEN]> {
        let mut out = Zeroizing::new([0u8; IDENTITY_SECRET_LEN]);
        out[..32].copy_from_slice(self.signing.as_bytes());
        out[32..].copy_from_slice(self.agreement.to_bytes().as_ref());
        out
    }

    /// The public identity.
    pub fn public(&self) -> &IdentityKey {
        &self.public
    }

    /// The X25519 private key, used in PQXDH.
    pub(crate) fn agreement_key(&self) -> &PrivateKey {
        &self.agreement
    }

    /// Signs `context || parts...` with the Ed25519 key.
    pub fn sign(&self, context: &[u8], parts: &[&[u8]]) -> [u8; 64] {
        self.signing
            .sign(&signed_message(context, parts))
            .to_bytes()
    }
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Makes sure a public key encoding can never be mistaken for an identity's X25519 half.
const _: () = assert!(IDENTITY_TYPE != X25519_TYPE);

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn identity(seed: u64) -> IdentityKeyPair {
        IdentityKeyPair::generate(&mut chacha20::ChaCha20Rng::seed_from_u64(seed))
    }

    #[test]
    fn encoding_round_trips() {
        let pair = identity(1);
        let decoded = IdentityKey::from_wire(&pair.public().encode()).unwrap();
        assert_eq!(&decoded, pair.public());
        let restored = IdentityKeyPair::from_secret_bytes(&pair.to_secret_bytes());
        assert_eq!(restored.public(), pair.public());
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let encoded = identity(2).public().encode();
        for i in 0..encoded.len() * 8 {
            let mut bad = encoded;
            bad[i / 8] ^= 1 << (i % 8);
            assert!(IdentityKey::from_wire(&bad).is_err(), "bit {i} accepted");
        }
    }

    #[test]
    fn stored_identities_skip_only_the_signature() {
        let mut encoded = identity(7).public().encode();
        encoded[100] ^= 1;
        assert_eq!(
            IdentityKey::from_wire(&encoded).unwrap_err(),
            KeyError::BadSignature
        );
        assert!(IdentityKey::from_stored(&encoded).is_ok());
        encoded[40] ^= 0x80;
        encoded[64] |= 0x80;
        assert!(
            IdentityKey::from_stored(&encoded).is_err(),
            "keys are still validated"
        );
    }

    #[test]
    fn another_identitys_x25519_key_is_refused() {
        let (a, b) = (identity(3).public().encode(), identity(4).public().encode());
        let mut spliced = a;
        spliced[33..65].copy_from_slice(&b[33..65]);
        assert_eq!(
            IdentityKey::from_wire(&spliced).unwrap_err(),
            KeyError::BadSignature
        );
    }

    #[test]
    fn non_canonical_signing_key_encoding_is_refused() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        // y = p + k for small k: decompression reduces y mod p, so these decode to valid points.
        let mut refused = 0;
        for k in 2u8..19 {
            let mut y = [0xffu8; 32];
            y[0] = 0xed + k;
            y[31] = 0x7f;
            let Some(point) = CompressedEdwardsY(y).decompress() else {
                continue;
            };
            if point.is_small_order() {
                continue;
            }
            assert_eq!(verifying_key(&y).unwrap_err(), KeyError::InvalidSigningKey);
            let canonical = point.compress().to_bytes();
            assert!(
                verifying_key(&canonical).is_ok(),
                "the canonical twin is a fine key"
            );
            refused += 1;
        }
        assert!(
            refused > 0,
            "no non-canonical encoding of a valid point was tried"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let pair = identity(5);
        let secret = pair.to_secret_bytes();
        let printed = format!("{pair:?}");
        let hex: String = secret[..4].iter().map(|b| format!("{b:02x}")).collect();
        assert!(!printed.contains(&hex));
    }
}
