//! PQXDH key agreement (X25519 + ML-KEM-1024), and the sessions it starts.
//!
//! ```text
//! IKM  = 0xFF*32 || DH(IK_A, SPK_B) || DH(EK_A, IK_B) || DH(EK_A, SPK_B) [|| DH(EK_A, OPK_B)] || SS
//! T    = SHA-256("Sotto_PQXDH_Transcript_v1" || IK_A || IK_B || addr_A || addr_B || EK_A
//!                || SPK_B || opk_flag [|| OPK_B] || KEMPK_B || CT)
//! SK   = HKDF-SHA256(salt = 0^32, IKM, info = "Sotto_PQXDH_X25519_SHA-256_ML-KEM-1024" || T)[..32]
//! ```
//! `T` is also the session's associated data, covered by every message MAC.

use std::collections::VecDeque;

use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::address::Address;
use crate::bundle::VerifiedPreKeyBundle;
use crate::curve::{KeyPair, PublicKey, SharedSecret};
use crate::error::{DecryptError, KeyError};
use crate::identity::{IdentityKey, IdentityKeyPair};
use crate::kem::{KemCiphertext, KemPublicKey};
use crate::labels;
use crate::message::PreKeyMessage;
use crate::prekey::{KemPreKeyPair, OneTimePreKeyPair, SignedPreKeyPair};
use crate::ratchet::root_key::RootKey;
use crate::ratchet::session::{PendingPreKey, Session};

/// The public inputs of one PQXDH run, in transcript order.
struct Transcript<'a> {
    initiator: &'a IdentityKey,
    responder: &'a IdentityKey,
    initiator_address: &'a Address,
    responder_address: &'a Address,
    base_key: &'a PublicKey,
    signed_pre_key: &'a PublicKey,
    one_time_pre_key: Option<&'a PublicKey>,
    kem_pre_key: &'a KemPublicKey,
    kem_ciphertext: &'a KemCiphertext,
}

impl Transcript<'_> {
    fn hash(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(labels::PQXDH_TRANSCRIPT);
        hash.update(self.initiator.encode());
        hash.update(self.responder.encode());
        let mut addresses = Vec::with_capacity(2 * 69);
        self.initiator_address.encode_into(&mut addresses);
        self.responder_address.encode_into(&mut addresses);
        hash.update(&addresses);
        hash.update(self.base_key.encode());
        hash.update(self.signed_pre_key.encode());
        match self.one_time_pre_key {
            Some(key) => {
                hash.update([1]);
                hash.update(key.encode());
            }
            None => hash.update([0]),
        }
        hash.update(self.kem_pre_key.encode());
        hash.update(self.kem_ciphertext.encode());
        hash.finalize().into()
    }
}

/// The secret inputs, in IKM order.
pub(crate) struct SecretInputs {
    pub(crate) dh: Vec<SharedSecret>,
    pub(crate) kem: SharedSecret,
}

/// Derives the first root key from the secret inputs and the transcript hash.
pub(crate) fn derive_root_key(secrets: &SecretInputs, transcript: &[u8; 32]) -> RootKey {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * (secrets.dh.len() + 2)));
    ikm.extend_from_slice(&[0xff; 32]);
    secrets
        .dh
        .iter()
        .for_each(|dh| ikm.extend_from_slice(dh.as_ref()));
    ikm.extend_from_slice(secrets.kem.as_ref());
    let mut info = Vec::with_capacity(labels::PQXDH_INFO.len() + 32);
    info.extend_from_slice(labels::PQXDH_INFO);
    info.extend_from_slice(transcript);
    let mut root = Zeroizing::new([0u8; 32]);
    // 32 bytes never exceeds HKDF's output limit.
    let _ = Hkdf::<Sha256>::new(Some(&[0; 32]), &ikm).expand(&info, root.as_mut());
    RootKey::new(*root)
}

/// Who we are in a run: our identity and address, and the peer's address.
#[derive(Clone, Copy, Debug)]
pub struct Parties<'a> {
    /// Our identity.
    pub local_identity: &'a IdentityKeyPair,
    /// Our (account, device).
    pub local_address: &'a Address,
    /// The peer's (account, device).
    pub remote_address: &'a Address,
}

/// Runs PQXDH as initiator against a verified bundle and returns the new session. The first
/// root step of the Double Ratchet is taken here, so the session can send at once.
pub(crate) fn initiate(
    parties: Parties<'_>,
    bundle: &VerifiedPreKeyBundle,
    rng: &mut impl CryptoRng,
) -> Result<Session, KeyError> {
    let base = KeyPair::generate(rng);
    let (spk_id, spk) = &bundle.signed_pre_key;
    let (kem_id, _, kem_key) = &bundle.kem_pre_key;
    let identity = parties.local_identity.agreement_key();
    let mut dh = vec![
        identity.agree(spk)?,
        base.private.agree(bundle.identity.agreement_key())?,
        base.private.agree(spk)?,
    ];
    if let Some((_, opk)) = &bundle.one_time_pre_key {
        dh.push(base.private.agree(opk)?);
    }
    let (kem_ciphertext, kem) = kem_key.encapsulate(rng);
    let transcript = Transcript {
        initiator: parties.local_identity.public(),
        responder: &bundle.identity,
        initiator_address: parties.local_address,
        responder_address: parties.remote_address,
        base_key: &base.public,
        signed_pre_key: spk,
        one_time_pre_key: bundle.one_time_pre_key.as_ref().map(|(_, key)| key),
        kem_pre_key: kem_key,
        kem_ciphertext: &kem_ciphertext,
    }
    .hash();
    let root = derive_root_key(&SecretInputs { dh, kem }, &transcript);
    let our_ratchet = KeyPair::generate(rng);
    let (root_key, sending_chain) = root.step(&our_ratchet.private, spk)?;
    Ok(Session {
        associated_data: transcript,
        remote_identity: bundle.identity.clone(),
        base_key: base.public,
        root_key,
        our_ratchet,
        sending_chain: Some(sending_chain),
        previous_counter: 0,
        receiving_chains: VecDeque::new(),
        pending_pre_key: Some(PendingPreKey {
            local_identity: parties.local_identity.public().clone(),
            signed_pre_key_id: *spk_id,
            one_time_pre_key_id: bundle.one_time_pre_key.as_ref().map(|(id, _)| *id),
            kem_pre_key_id: *kem_id,
            kem_ciphertext,
        }),
    })
}

/// The responder's prekeys named by a prekey message, already looked up.
pub(crate) struct ResponderKeys {
    pub(crate) signed_pre_key: SignedPreKeyPair,
    pub(crate) one_time_pre_key: Option<OneTimePreKeyPair>,
    pub(crate) kem_pre_key: KemPreKeyPair,
}

/// Runs PQXDH as responder and returns the new session, not yet able to send (it sends after
/// decrypting the message that came with the handshake).
pub(crate) fn respond(
    parties: Parties<'_>,
    message: &PreKeyMessage,
    keys: &ResponderKeys,
) -> Result<Session, DecryptError> {
    let identity = parties.local_identity.agreement_key();
    let spk = &keys.signed_pre_key.key_pair;
    let mut dh = vec![
        spk.private.agree(message.identity.agreement_key())?,
        identity.agree(&message.base_key)?,
        spk.private.agree(&message.base_key)?,
    ];
    if let Some(opk) = &keys.one_time_pre_key {
        dh.push(opk.key_pair.private.agree(&message.base_key)?);
    }
    let kem = keys
        .kem_pre_key
        .key_pair
        .secret
        .decapsulate(&message.kem_ciphertext);
    let transcript = Transcript {
        initiator: &message.identity,
        responder: parties.local_identity.public(),
        initiator_address: parties.remote_address,
        responder_address: parties.local_address,
        base_key: &message.base_key,
        signed_pre_key: &spk.public,
        one_time_pre_key: keys.one_time_pre_key.as_ref().map(|k| &k.key_pair.public),
        kem_pre_key: &keys.kem_pre_key.key_pair.public,
        kem_ciphertext: &message.kem_ciphertext,
    }
    .hash();
    Ok(Session {
        associated_data: transcript,
        remote_identity: message.identity.clone(),
        base_key: message.base_key,
        root_key: derive_root_key(&SecretInputs { dh, kem }, &transcript),
        our_ratchet: spk.clone(),
        sending_chain: None,
        previous_counter: 0,
        receiving_chains: VecDeque::new(),
        pending_pre_key: None,
    })
}
