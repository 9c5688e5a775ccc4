//! ML-KEM-1024 (FIPS 203) keys and ciphertexts, through libcrux.

use core::fmt;

use libcrux_ml_kem::mlkem1024::{
    self, MlKem1024Ciphertext, MlKem1024PrivateKey, MlKem1024PublicKey,
};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use crate::curve::SharedSecret;
use crate::error::KeyError;

/// Type byte of an encoded ML-KEM-1024 public (encapsulation) key.
pub const KEM_PUBLIC_TYPE: u8 = 0x0A;
/// Type byte of an encoded ML-KEM-1024 ciphertext.
pub const KEM_CIPHERTEXT_TYPE: u8 = 0x0B;
/// Raw ML-KEM-1024 public key length.
pub const KEM_PUBLIC_LEN: usize = 1568;
/// Raw ML-KEM-1024 ciphertext length.
pub const KEM_CIPHERTEXT_LEN: usize = 1568;
/// Raw ML-KEM-1024 private (decapsulation) key length.
pub const KEM_SECRET_LEN: usize = 3168;

/// A validated ML-KEM-1024 public key.
#[derive(Clone)]
pub struct KemPublicKey(Box<MlKem1024PublicKey>);

impl KemPublicKey {
    /// Decodes `0x0A || key` and runs the FIPS 203 encapsulation-key check.
    ///
    /// # Errors
    /// Wrong length or type byte, or a key that fails the modulus check.
    pub fn from_wire(bytes: &[u8]) -> Result<Self, KeyError> {
        let raw = typed(bytes, KEM_PUBLIC_TYPE, KEM_PUBLIC_LEN)?;
        let key = MlKem1024PublicKey::try_from(raw).map_err(|_| KeyError::InvalidKemKey)?;
        if !mlkem1024::validate_public_key(&key) {
            return Err(KeyError::InvalidKemKey);
        }
        Ok(Self(Box::new(key)))
    }

    /// The wire encoding `0x0A || key` (1569 bytes).
    pub fn encode(&self) -> Vec<u8> {
        prefixed(KEM_PUBLIC_TYPE, self.0.as_slice())
    }

    /// Encapsulates a fresh secret to this key.
    pub fn encapsulate(&self, rng: &mut impl CryptoRng) -> (KemCiphertext, SharedSecret) {
        let mut randomness = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(randomness.as_mut());
        let (ciphertext, secret) = mlkem1024::encapsulate(&self.0, *randomness);
        (KemCiphertext(Box::new(ciphertext)), Zeroizing::new(secret))
    }
}

impl PartialEq for KemPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_slice() == other.0.as_slice()
    }
}

impl fmt::Debug for KemPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KemPublicKey({:02x?}…)", &self.0.as_slice()[..8])
    }
}

/// An ML-KEM-1024 ciphertext (unvalidated content: decapsulation never fails in ML-KEM, a bad
/// ciphertext yields an unrelated secret).
#[derive(Clone)]
pub struct KemCiphertext(Box<MlKem1024Ciphertext>);

impl KemCiphertext {
    /// Decodes `0x0B || ciphertext`.
    ///
    /// # Errors
    /// Wrong length or type byte.
    pub fn from_wire(bytes: &[u8]) -> Result<Self, KeyError> {
        let raw = typed(bytes, KEM_CIPHERTEXT_TYPE, KEM_CIPHERTEXT_LEN)?;
        let ct = MlKem1024Ciphertext::try_from(raw).map_err(|_| KeyError::WrongLength {
            expected: KEM_CIPHERTEXT_LEN + 1,
            actual: bytes.len(),
        })?;
        Ok(Self(Box::new(ct)))
    }

    /// The wire encoding `0x0B || ciphertext` (1569 bytes).
    pub fn encode(&self) -> Vec<u8> {
        prefixed(KEM_CIPHERTEXT_TYPE, self.0.as_slice())
    }
}

impl fmt::Debug for KemCiphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KemCiphertext({:02x?}…)", &self.0.as_slice()[..8])
    }
}

/// An ML-KEM-1024 private key; zeroized on drop, never printed.
pub struct KemSecretKey(Box<MlKem1024PrivateKey>);

impl KemSecretKey {
    /// Rebuilds a private key from its stored 3168 bytes.
    ///
    /// # Errors
    /// Wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let key = MlKem1024PrivateKey::try_from(bytes).map_err(|_| KeyError::WrongLength {
            expected: KEM_SECRET_LEN,
            actual: bytes.len(),
        })?;
        Ok(Self(Box::new(key)))
    }

    /// The stored form (3168 bytes).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.as_slice().to_vec())
    }

    /// Decapsulates `ciphertext` (implicit rejection: a wrong ciphertext gives a wrong secret).
    pub fn decapsulate(&self, ciphertext: &KemCiphertext) -> SharedSecret {
        Zeroizing::new(mlkem1024::decapsulate(&self.0, &ciphertext.0))
    }
}

impl Clone for KemSecretKey {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl Drop for KemSecretKey {
    fn drop(&mut self) {
        self.0[0..].zeroize();
    }
}

impl fmt::Debug for KemSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KemSecretKey(<redacted>)")
    }
}

/// An ML-KEM-1024 key pair.
#[derive(Clone, Debug)]
pub struct KemKeyPair {
    /// The private half.
    pub secret: KemSecretKey,
    /// The public half.
    pub public: KemPublicKey,
}

impl KemKeyPair {
    /// Generates a key pair from 64 bytes drawn from `rng`.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut seed = Zeroizing::new([0u8; 64]);
        rng.fill_bytes(seed.as_mut());
        Self::from_seed(&seed)
    }

    /// Derives a key pair from its 64-byte FIPS 203 seed `d || z` (ML-KEM.KeyGen_internal).
    pub fn from_seed(seed: &[u8; 64]) -> Self {
        let pair = mlkem1024::generate_key_pair(*seed);
        let (mut secret, public) = pair.into_parts();
        let kept = Self {
            secret: KemSecretKey(Box::new(secret.clone())),
            public: KemPublicKey(Box::new(public)),
        };
        secret[0..].zeroize();
        kept
    }
}

fn typed(bytes: &[u8], type_byte: u8, len: usize) -> Result<&[u8], KeyError> {
    if bytes.len() != len + 1 {
        return Err(KeyError::WrongLength {
            expected: len + 1,
            actual: bytes.len(),
        });
    }
    if bytes[0] != type_byte {
        return Err(KeyError::WrongType {
            expected: type_byte,
            actual: bytes[0],
        });
    }
    Ok(&bytes[1..])
}

fn prefixed(type_byte: u8, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 1);
    out.push(type_byte);
    out.extend_from_slice(raw);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn encapsulation_round_trips() {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(9);
        let pair = KemKeyPair::generate(&mut rng);
        let public = KemPublicKey::from_wire(&pair.public.encode()).unwrap();
        let (ct, secret) = public.encapsulate(&mut rng);
        let ct = KemCiphertext::from_wire(&ct.encode()).unwrap();
        assert_eq!(*pair.secret.decapsulate(&ct), *secret);
    }

    #[test]
    fn type_bytes_keep_keys_and_ciphertexts_apart() {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(10);
        let pair = KemKeyPair::generate(&mut rng);
        let (ct, _) = pair.public.encapsulate(&mut rng);
        assert!(matches!(
            KemPublicKey::from_wire(&ct.encode()),
            Err(KeyError::WrongType { .. })
        ));
        assert!(matches!(
            KemCiphertext::from_wire(&pair.public.encode()),
            Err(KeyError::WrongType { .. })
        ));
    }

    #[test]
    fn unreduced_public_key_is_rejected() {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(11);
        let mut bytes = KemKeyPair::generate(&mut rng).public.encode();
        // Set the first 12-bit coefficient to 0xfff >= q = 3329.
        bytes[1] = 0xff;
        bytes[2] |= 0x0f;
        assert_eq!(
            KemPublicKey::from_wire(&bytes).unwrap_err(),
            KeyError::InvalidKemKey
        );
    }
}
