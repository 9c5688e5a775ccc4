//! X25519 keys: validated public keys from the wire, zeroized private keys, agreement.

use core::fmt;

use curve25519_dalek::montgomery::MontgomeryPoint;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::KeyError;

/// Type byte of an encoded X25519 public key.
pub const X25519_TYPE: u8 = 0x05;
/// Length of an encoded X25519 public key (type byte + 32 bytes).
pub const X25519_ENCODED_LEN: usize = 33;

/// The canonical u-coordinates of the points of small order (order 1, 2, 4 and 8). Together with
/// the canonicity check this rejects every small-order encoding.
const SMALL_ORDER_POINTS: [[u8; 32]; 5] = [
    [0; 32],
    {
        let mut one = [0; 32];
        one[0] = 1;
        one
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
];

/// A 32-byte secret produced by a key agreement; zeroized on drop.
pub type SharedSecret = Zeroizing<[u8; 32]>;

/// An X25519 public key that passed validation: canonical and not of small order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Decodes `0x05 || u` and validates `u`.
    ///
    /// # Errors
    /// Wrong length or type byte, a non-canonical coordinate, or a point of small order.
    pub fn from_wire(bytes: &[u8]) -> Result<Self, KeyError> {
        let raw: [u8; X25519_ENCODED_LEN] =
            bytes.try_into().map_err(|_| KeyError::WrongLength {
                expected: X25519_ENCODED_LEN,
                actual: bytes.len(),
            })?;
        if raw[0] != X25519_TYPE {
            return Err(KeyError::WrongType {
                expected: X25519_TYPE,
                actual: raw[0],
            });
        }
        let mut u = [0; 32];
        u.copy_from_slice(&raw[1..]);
        Self::from_raw(u)
    }

    /// Validates a raw 32-byte u-coordinate.
    ///
    /// # Errors
    /// A non-canonical coordinate or a point of small order.
    pub fn from_raw(u: [u8; 32]) -> Result<Self, KeyError> {
        if !is_canonical(&u) {
            return Err(KeyError::NonCanonical);
        }
        if SMALL_ORDER_POINTS.contains(&u) {
            return Err(KeyError::SmallOrder);
        }
        Ok(Self(u))
    }

    /// The 33-byte wire encoding `0x05 || u`.
    pub fn encode(&self) -> [u8; X25519_ENCODED_LEN] {
        let mut out = [0; X25519_ENCODED_LEN];
        out[0] = X25519_TYPE;
        out[1..].copy_from_slice(&self.0);
        out
    }

    /// The raw u-coordinate.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Checks that the point lies in the prime-order subgroup. Honest keys always do; a point
    /// with a torsion component is a malleated encoding of another key, refused for base keys.
    ///
    /// # Errors
    /// [`KeyError::NotTorsionFree`] when the point is off the curve or has a torsion component.
    pub fn require_torsion_free(&self) -> Result<(), KeyError> {
        match MontgomeryPoint(self.0).to_edwards(0) {
            Some(point) if point.is_torsion_free() => Ok(()),
            _ => Err(KeyError::NotTorsionFree),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// True when `u` is below 2^255 - 19 with the top bit clear.
fn is_canonical(u: &[u8; 32]) -> bool {
    if u[31] & 0x80 != 0 {
        return false;
    }
    // u >= p exactly when u = 0x7fff...ff(ed..ff): top byte 0x7f, middle bytes 0xff, low >= 0xed.
    let at_least_p = u[31] == 0x7f && u[1..31].iter().all(|&b| b == 0xff) && u[0] >= 0xed;
    !at_least_p
}

/// An X25519 private key; zeroized on drop, never printed.
#[derive(Clone)]
pub struct PrivateKey(x25519_dalek::StaticSecret);

impl PrivateKey {
    /// Draws a new private key from `rng`.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        Self::from_bytes(*bytes)
    }

    /// Rebuilds a private key from its 32 bytes (as stored).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(x25519_dalek::StaticSecret::from(bytes))
    }

    /// The 32 stored bytes.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// Computes the public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    /// X25519 agreement with a validated public key.
    ///
    /// # Errors
    /// [`KeyError::NonContributory`] if the result is all zeros (cannot happen for a validated
    /// key; checked anyway).
    pub fn agree(&self, their: &PublicKey) -> Result<SharedSecret, KeyError> {
        let shared = self
            .0
            .diffie_hellman(&x25519_dalek::PublicKey::from(their.0));
        if !shared.was_contributory() {
            return Err(KeyError::NonContributory);
        }
        Ok(Zeroizing::new(shared.to_bytes()))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// An X25519 key pair.
#[derive(Clone, Debug)]
pub struct KeyPair {
    /// The private half.
    pub private: PrivateKey,
    /// The public half.
    pub public: PublicKey,
}

impl KeyPair {
    /// Draws a new key pair from `rng`.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        Self::from_private(PrivateKey::generate(rng))
    }

    /// Completes a key pair from its private half.
    pub fn from_private(private: PrivateKey) -> Self {
        let public = private.public_key();
        Self { private, public }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_small_order_encoding_is_rejected() {
        for u in SMALL_ORDER_POINTS {
            assert_eq!(PublicKey::from_raw(u), Err(KeyError::SmallOrder));
        }
        // Non-canonical encodings of small-order points: u + p and high-bit variants.
        let mut p = [0xff; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert_eq!(PublicKey::from_raw(p), Err(KeyError::NonCanonical));
        let mut p_plus_one = p;
        p_plus_one[0] = 0xee;
        assert_eq!(PublicKey::from_raw(p_plus_one), Err(KeyError::NonCanonical));
        let mut high_bit = [0; 32];
        high_bit[31] = 0x80;
        assert_eq!(PublicKey::from_raw(high_bit), Err(KeyError::NonCanonical));
    }

    #[test]
    fn small_order_points_really_have_small_order() {
        for u in SMALL_ORDER_POINTS {
            // Scalar 8 * anything clamps to a multiple of 8, so the product is the identity.
            assert_eq!(x25519_dalek::x25519([0x42; 32], u), [0; 32]);
        }
    }

    #[test]
    fn torsioned_key_is_detected() {
        let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1);
        let honest = KeyPair::generate(&mut rng).public;
        assert_eq!(honest.require_torsion_free(), Ok(()));
        let point = MontgomeryPoint(*honest.as_bytes()).to_edwards(0).unwrap();
        let torsion = MontgomeryPoint(SMALL_ORDER_POINTS[2])
            .to_edwards(0)
            .unwrap();
        let malleated = PublicKey::from_raw((point + torsion).to_montgomery().to_bytes()).unwrap();
        assert_eq!(
            malleated.require_torsion_free(),
            Err(KeyError::NotTorsionFree)
        );
    }

    #[test]
    fn wire_encoding_round_trips_and_checks_type_and_length() {
        let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(2);
        let public = KeyPair::generate(&mut rng).public;
        assert_eq!(PublicKey::from_wire(&public.encode()), Ok(public));
        let mut wrong_type = public.encode();
        wrong_type[0] = 0x0a;
        assert!(matches!(
            PublicKey::from_wire(&wrong_type),
            Err(KeyError::WrongType { .. })
        ));
        assert!(matches!(
            PublicKey::from_wire(&[5; 32]),
            Err(KeyError::WrongLength { .. })
        ));
    }

    #[test]
    fn private_key_debug_is_redacted() {
        let key = PrivateKey::from_bytes([7; 32]);
        assert_eq!(format!("{key:?}"), "PrivateKey(<redacted>)");
    }
}
