//! Known-answer-test hooks: the KDFs of `docs/protocol.md` as plain functions over bytes, so that
//! `testdata/vectors/kdf.json` can pin each one down. Not a stable API.

use zeroize::Zeroizing;

use crate::address::Address;
use crate::curve::{PrivateKey, PublicKey};
use crate::error::KeyError;
use crate::group::{GroupId, OwnSenderKey};
use crate::pqxdh::{SecretInputs, derive_root_key};
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::message_key::MessageKeySeed;
use crate::ratchet::root_key::RootKey;

/// Root KDF: returns `(new root key, chain key)`.
///
/// # Errors
/// An invalid public key or a non-contributory agreement.
pub fn root_step(
    root_key: [u8; 32],
    our_private: [u8; 32],
    their_public: &[u8],
) -> Result<([u8; 32], [u8; 32]), KeyError> {
    let theirs = PublicKey::from_wire(their_public)?;
    let (root, chain) =
        RootKey::new(root_key).step(&PrivateKey::from_bytes(our_private), &theirs)?;
    Ok((*root.as_bytes(), *chain.key()))
}

/// Chain KDF: returns `(message key seed, next chain key)`.
pub fn chain_step(chain_key: [u8; 32]) -> ([u8; 32], [u8; 32]) {
    let chain = ChainKey::new(chain_key, 0);
    let seed = *chain.message_key_seed().seed();
    let next = chain.next().map_or([0; 32], |next| *next.key());
    (seed, next)
}

/// Message keys: returns `(cipher key, MAC key, IV)`.
pub fn message_keys(seed: [u8; 32]) -> ([u8; 32], [u8; 32], [u8; 16]) {
    MessageKeySeed::new(seed, 0).derive().to_parts()
}

/// The PQXDH KDF from its secret inputs (DH outputs in order, KEM secret) and transcript hash.
pub fn pqxdh_root_key(dh: &[[u8; 32]], kem_secret: [u8; 32], transcript: [u8; 32]) -> [u8; 32] {
    let secrets = SecretInputs {
        dh: dh.iter().map(|d| Zeroizing::new(*d)).collect(),
        kem: Zeroizing::new(kem_secret),
    };
    *derive_root_key(&secrets, &transcript).as_bytes()
}

/// Group message keys: returns `(cipher key, MAC key, IV)` under the group label.
pub fn group_message_keys(seed: [u8; 32]) -> ([u8; 32], [u8; 32], [u8; 16]) {
    MessageKeySeed::new(seed, 0)
        .derive_with(crate::labels::GROUP_MESSAGE_KEYS)
        .to_parts()
}

/// The associated data every group message of `sender` in `group_id` is bound to.
pub fn group_associated_data(group_id: &GroupId, sender: &Address) -> [u8; 32] {
    crate::group::sender_key_message_associated_data(group_id, sender)
}

/// An [`OwnSenderKey`] from explicit parts: for vectors, and for tests that play a member
/// forging another member's messages (the chain key of someone else's distribution, signed
/// with a key of one's own).
pub fn sender_key_from_parts(
    group_id: GroupId,
    sender: Address,
    chain_id: u32,
    iteration: u32,
    chain_key: [u8; 32],
    signing_seed: [u8; 32],
) -> OwnSenderKey {
    OwnSenderKey {
        group_id,
        sender,
        chain_id,
        chain_key: ChainKey::new(chain_key, iteration),
        signing: ed25519_dalek::SigningKey::from_bytes(&signing_seed),
    }
}
