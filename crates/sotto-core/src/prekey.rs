//! A device's prekeys, as their owner holds them, and the lookup a responder needs.

use rand_core::CryptoRng;
use sotto_proto::protocol as wire;

use crate::curve::{KeyPair, PublicKey};
use crate::identity::IdentityKeyPair;
use crate::kem::KemKeyPair;
use crate::labels;

/// Whether an ML-KEM prekey is used once or is the last-resort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KemPreKeyKind {
    /// Deleted after its first use.
    OneTime,
    /// Kept; a base key may use it only once.
    LastResort,
}

impl KemPreKeyKind {
    /// The byte signed with the key (1 one-time, 2 last-resort), equal to the protobuf value.
    pub fn byte(self) -> u8 {
        match self {
            Self::OneTime => 1,
            Self::LastResort => 2,
        }
    }

    pub(crate) fn to_wire(self) -> wire::KemPreKeyKind {
        match self {
            Self::OneTime => wire::KemPreKeyKind::OneTime,
            Self::LastResort => wire::KemPreKeyKind::LastResort,
        }
    }
}

/// A signed X25519 prekey with its private key.
#[derive(Clone, Debug)]
pub struct SignedPreKeyPair {
    /// Key id.
    pub id: u32,
    /// The key pair.
    pub key_pair: KeyPair,
    /// Identity signature over `Sotto_v1_SignedPreKey || id || 0x05 || key`.
    pub signature: [u8; 64],
}

impl SignedPreKeyPair {
    /// Generates and signs a new signed prekey.
    pub fn generate(identity: &IdentityKeyPair, id: u32, rng: &mut impl CryptoRng) -> Self {
        Self::new(identity, id, KeyPair::generate(rng))
    }

    /// Signs an existing key pair as signed prekey `id`.
    pub fn new(identity: &IdentityKeyPair, id: u32, key_pair: KeyPair) -> Self {
        let body = signed_pre_key_body(id, &key_pair.public);
        let signature = identity.sign(labels::SIGNED_PRE_KEY, &[&body]);
        Self {
            id,
            key_pair,
            signature,
        }
    }

    /// The published form.
    pub fn to_wire(&self) -> wire::SignedPreKey {
        wire::SignedPreKey {
            id: self.id,
            public_key: self.key_pair.public.encode().to_vec(),
            signature: self.signature.to_vec(),
        }
    }
}

/// What a signed prekey signature covers after its context: `id (u32 BE) || 0x05 || key`.
pub(crate) fn signed_pre_key_body(id: u32, key: &PublicKey) -> [u8; 37] {
    let mut body = [0; 37];
    body[..4].copy_from_slice(&id.to_be_bytes());
    body[4..].copy_from_slice(&key.encode());
    body
}

/// A one-time X25519 prekey with its private key.
#[derive(Clone, Debug)]
pub struct OneTimePreKeyPair {
    /// Key id.
    pub id: u32,
    /// The key pair.
    pub key_pair: KeyPair,
}

impl OneTimePreKeyPair {
    /// Generates a one-time prekey.
    pub fn generate(id: u32, rng: &mut impl CryptoRng) -> Self {
        Self {
            id,
            key_pair: KeyPair::generate(rng),
        }
    }

    /// The published form.
    pub fn to_wire(&self) -> wire::OneTimePreKey {
        wire::OneTimePreKey {
            id: self.id,
            public_key: self.key_pair.public.encode().to_vec(),
        }
    }
}

/// A signed ML-KEM-1024 prekey with its private key.
#[derive(Clone, Debug)]
pub struct KemPreKeyPair {
    /// Key id.
    pub id: u32,
    /// One-time or last-resort.
    pub kind: KemPreKeyKind,
    /// The key pair.
    pub key_pair: KemKeyPair,
    /// Identity signature over `Sotto_v1_KemPreKey || kind || id || 0x0A || key`.
    pub signature: [u8; 64],
}

impl KemPreKeyPair {
    /// Generates and signs a new ML-KEM prekey.
    pub fn generate(
        identity: &IdentityKeyPair,
        id: u32,
        kind: KemPreKeyKind,
        rng: &mut impl CryptoRng,
    ) -> Self {
        Self::new(identity, id, kind, KemKeyPair::generate(rng))
    }

    /// Signs an existing key pair as ML-KEM prekey `id` of `kind`.
    pub fn new(
        identity: &IdentityKeyPair,
        id: u32,
        kind: KemPreKeyKind,
        key_pair: KemKeyPair,
    ) -> Self {
        let encoded = key_pair.public.encode();
        let signature = identity.sign(labels::KEM_PRE_KEY, &[&kem_signed_body(kind, id, &encoded)]);
        Self {
            id,
            kind,
            key_pair,
            signature,
        }
    }

    /// The published form.
    pub fn to_wire(&self) -> wire::KemPreKey {
        wire::KemPreKey {
            id: self.id,
            kind: self.kind.to_wire() as i32,
            public_key: self.key_pair.public.encode(),
            signature: self.signature.to_vec(),
        }
    }
}

/// What a KEM prekey signature covers after its context: `kind || id (u32 BE) || 0x0A || key`.
pub(crate) fn kem_signed_body(kind: KemPreKeyKind, id: u32, encoded: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(5 + encoded.len());
    body.push(kind.byte());
    body.extend_from_slice(&id.to_be_bytes());
    body.extend_from_slice(encoded);
    body
}

/// The prekeys a responder holds, looked up by id when a prekey message arrives. Sotto-core
/// never changes them: decryption reports which keys were used ([`crate::PreKeyUse`]) and the
/// caller deletes or records them in the same transaction that saves the session.
pub trait PreKeyStore {
    /// The signed prekey with this id, if still held.
    fn signed_pre_key(&self, id: u32) -> Option<SignedPreKeyPair>;
    /// The one-time prekey with this id, if still held (not yet used).
    fn one_time_pre_key(&self, id: u32) -> Option<OneTimePreKeyPair>;
    /// The ML-KEM prekey with this id, if still held.
    fn kem_pre_key(&self, id: u32) -> Option<KemPreKeyPair>;
    /// Whether this base key was already accepted with this last-resort ML-KEM key.
    fn last_resort_base_key_seen(&self, kem_pre_key_id: u32, base_key: &PublicKey) -> bool;
}

/// A [`PreKeyStore`] held in memory, for tests, tools and front ends that persist it themselves.
#[derive(Clone, Debug, Default)]
pub struct InMemoryPreKeyStore {
    /// Signed prekeys by id.
    pub signed: std::collections::HashMap<u32, SignedPreKeyPair>,
    /// One-time prekeys by id.
    pub one_time: std::collections::HashMap<u32, OneTimePreKeyPair>,
    /// ML-KEM prekeys by id.
    pub kem: std::collections::HashMap<u32, KemPreKeyPair>,
    /// `(last-resort key id, base key)` pairs already accepted.
    pub used_base_keys: std::collections::HashSet<(u32, [u8; 32])>,
}

impl InMemoryPreKeyStore {
    /// Retires the prekeys a new session used, as [`crate::PreKeyUse`] asks.
    pub fn apply(&mut self, used: &crate::PreKeyUse) {
        if let Some(id) = used.one_time_pre_key_id {
            self.one_time.remove(&id);
        }
        match used.kem_pre_key_kind {
            KemPreKeyKind::OneTime => {
                self.kem.remove(&used.kem_pre_key_id);
            }
            KemPreKeyKind::LastResort => {
                self.used_base_keys
                    .insert((used.kem_pre_key_id, *used.base_key.as_bytes()));
            }
        }
    }
}

impl PreKeyStore for InMemoryPreKeyStore {
    fn signed_pre_key(&self, id: u32) -> Option<SignedPreKeyPair> {
        self.signed.get(&id).cloned()
    }

    fn one_time_pre_key(&self, id: u32) -> Option<OneTimePreKeyPair> {
        self.one_time.get(&id).cloned()
    }

    fn kem_pre_key(&self, id: u32) -> Option<KemPreKeyPair> {
        self.kem.get(&id).cloned()
    }

    fn last_resort_base_key_seen(&self, kem_pre_key_id: u32, base_key: &PublicKey) -> bool {
        self.used_base_keys
            .contains(&(kem_pre_key_id, *base_key.as_bytes()))
    }
}
