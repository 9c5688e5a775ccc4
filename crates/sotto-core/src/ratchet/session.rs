//! One Double Ratchet session: the state both directions share after PQXDH.
//!
//! Decryption is split in two: [`Session::plan_decrypt`] computes every new key without changing
//! the session and authenticates the message; only then does [`Session::commit`] store the
//! result. A message that fails any check therefore changes nothing.

use std::collections::VecDeque;

use rand_core::CryptoRng;
use sotto_proto::protocol as wire;
use zeroize::Zeroizing;

use super::MAX_RECEIVING_CHAINS;
use super::chain_key::ChainKey;
use super::message_key::MessageKeySeed;
use super::receiver_chain::{Advance, ReceiverChain};
use super::root_key::RootKey;
use crate::curve::{KeyPair, PublicKey};
use crate::error::{DecryptError, EncryptError};
use crate::identity::IdentityKey;
use crate::kem::KemCiphertext;
use crate::message::{self, RatchetMessage};
use crate::padding;

/// What an initiator repeats in every message until the responder answers.
#[derive(Clone)]
pub(crate) struct PendingPreKey {
    pub(crate) local_identity: IdentityKey,
    pub(crate) signed_pre_key_id: u32,
    pub(crate) one_time_pre_key_id: Option<u32>,
    pub(crate) kem_pre_key_id: u32,
    pub(crate) kem_ciphertext: KemCiphertext,
}

/// The state of one session.
#[derive(Clone)]
pub(crate) struct Session {
    /// The PQXDH transcript hash: identities, addresses and handshake keys. Every MAC covers it.
    pub(crate) associated_data: [u8; 32],
    pub(crate) remote_identity: IdentityKey,
    /// The initiator's base key, which names the session in prekey messages.
    pub(crate) base_key: PublicKey,
    pub(crate) root_key: RootKey,
    pub(crate) our_ratchet: KeyPair,
    /// `None` when our next message must start a new sending chain (a DH ratchet step).
    pub(crate) sending_chain: Option<ChainKey>,
    pub(crate) previous_counter: u32,
    /// Oldest first.
    pub(crate) receiving_chains: VecDeque<ReceiverChain>,
    pub(crate) pending_pre_key: Option<PendingPreKey>,
}

/// The state changes a successful decryption makes.
pub(crate) enum Commit {
    /// A skipped message of receiving chain `chain` was read: forget its seed.
    Skipped { chain: usize, counter: u32 },
    /// Receiving chain `chain` moved forward.
    Advanced { chain: usize, advance: Advance },
    /// A new ratchet key: new root key and a new receiving chain.
    NewChain {
        root_key: RootKey,
        chain: Box<ReceiverChain>,
    },
}

impl Session {
    /// Encrypts `plaintext`; a ratchet step first if the peer sent a new ratchet key.
    pub(crate) fn encrypt(
        &mut self,
        plaintext: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>, EncryptError> {
        if self.sending_chain.is_none() {
            self.ratchet_sending(rng)?;
        }
        let chain = self
            .sending_chain
            .as_ref()
            .ok_or(EncryptError::NoSendingChain)?;
        let next = chain.next().ok_or(EncryptError::ChainExhausted)?;
        let seed = chain.message_key_seed();
        let out = self.seal(&seed, plaintext);
        self.sending_chain = Some(next);
        Ok(match &self.pending_pre_key {
            Some(pending) => message::encode_pre_key_message(self.pre_key_header(pending, out)),
            None => out,
        })
    }

    fn seal(&self, seed: &MessageKeySeed, plaintext: &[u8]) -> Vec<u8> {
        let keys = seed.derive();
        let mut ciphertext = Vec::with_capacity(padding::padded_len(plaintext.len()));
        padding::pad_into(plaintext, &mut ciphertext);
        keys.apply_cipher(&mut ciphertext);
        let mut out = message::encode_ratchet_body(
            &self.our_ratchet.public,
            seed.index(),
            self.previous_counter,
            ciphertext,
        );
        let tag = keys.mac(&self.associated_data, &out);
        out.extend_from_slice(&tag);
        out
    }

    fn pre_key_header(&self, pending: &PendingPreKey, message: Vec<u8>) -> wire::PreKeyMessage {
        wire::PreKeyMessage {
            identity_key: pending.local_identity.encode().to_vec(),
            base_key: self.base_key.encode().to_vec(),
            signed_pre_key_id: pending.signed_pre_key_id,
            one_time_pre_key_id: pending.one_time_pre_key_id,
            kem_pre_key_id: pending.kem_pre_key_id,
            kem_ciphertext: pending.kem_ciphertext.encode(),
            message,
        }
    }

    /// The DH ratchet's sending half: a fresh key pair against the peer's newest ratchet key.
    fn ratchet_sending(&mut self, rng: &mut impl CryptoRng) -> Result<(), EncryptError> {
        let theirs = self
            .receiving_chains
            .back()
            .ok_or(EncryptError::NoSendingChain)?;
        let ours = KeyPair::generate(rng);
        let (root_key, chain) = self
            .root_key
            .step(&ours.private, &theirs.ratchet_key)
            .map_err(EncryptError::Key)?;
        self.root_key = root_key;
        self.our_ratchet = ours;
        self.sending_chain = Some(chain);
        Ok(())
    }

    /// Authenticates and decrypts `message` without changing the session. A message on a new
    /// ratchet key may start at most `new_chain_limit` messages into its chain.
    pub(crate) fn plan_decrypt(
        &self,
        message: &RatchetMessage<'_>,
        new_chain_limit: u32,
    ) -> Result<(Commit, Zeroizing<Vec<u8>>), DecryptError> {
        let position = self
            .receiving_chains
            .iter()
            .position(|c| c.ratchet_key == message.ratchet_key);
        let Some(index) = position else {
            return self.plan_new_chain(message, new_chain_limit);
        };
        let chain = &self.receiving_chains[index];
        if message.counter < chain.chain_key.index() {
            let seed = chain
                .skipped_seed(message.counter)
                .ok_or(DecryptError::Duplicate {
                    counter: message.counter,
                })?;
            let plaintext = self.open(seed, message)?;
            return Ok((
                Commit::Skipped {
                    chain: index,
                    counter: message.counter,
                },
                plaintext,
            ));
        }
        let advance = chain.advance_to(message.counter)?;
        let plaintext = self.open(&advance.seed, message)?;
        Ok((
            Commit::Advanced {
                chain: index,
                advance,
            },
            plaintext,
        ))
    }

    fn plan_new_chain(
        &self,
        message: &RatchetMessage<'_>,
        limit: u32,
    ) -> Result<(Commit, Zeroizing<Vec<u8>>), DecryptError> {
        // Check the jump before the key agreement, so a bogus counter costs nothing.
        if message.counter > limit.min(super::MAX_FORWARD_JUMP) {
            return Err(DecryptError::CounterJumpTooLarge {
                jump: message.counter.into(),
                limit: limit.min(super::MAX_FORWARD_JUMP),
            });
        }
        let (root_key, chain_key) = self
            .root_key
            .step(&self.our_ratchet.private, &message.ratchet_key)?;
        let mut chain = ReceiverChain::new(message.ratchet_key, chain_key);
        let advance = chain.advance_to(message.counter)?;
        let plaintext = self.open(&advance.seed, message)?;
        chain.commit(advance);
        Ok((
            Commit::NewChain {
                root_key,
                chain: Box::new(chain),
            },
            plaintext,
        ))
    }

    fn open(
        &self,
        seed: &MessageKeySeed,
        message: &RatchetMessage<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        let keys = seed.derive();
        if !keys.verify(&self.associated_data, message.authenticated, message.tag) {
            return Err(DecryptError::BadMac);
        }
        let mut plaintext = Zeroizing::new(message.ciphertext.clone());
        keys.apply_cipher(&mut plaintext);
        let len = padding::unpadded_len(&plaintext)?;
        plaintext.truncate(len);
        Ok(plaintext)
    }

    /// Stores the result of a successful [`Session::plan_decrypt`].
    pub(crate) fn commit(&mut self, commit: Commit) {
        match commit {
            Commit::Skipped { chain, counter } => {
                if let Some(chain) = self.receiving_chains.get_mut(chain) {
                    chain.remove_skipped(counter);
                }
            }
            Commit::Advanced { chain, advance } => {
                if let Some(chain) = self.receiving_chains.get_mut(chain) {
                    chain.commit(advance);
                }
            }
            Commit::NewChain { root_key, chain } => {
                self.root_key = root_key;
                if let Some(sending) = self.sending_chain.take() {
                    self.previous_counter = sending.index();
                }
                self.receiving_chains.push_back(*chain);
                while self.receiving_chains.len() > MAX_RECEIVING_CHAINS {
                    self.receiving_chains.pop_front();
                }
            }
        }
        // Anything that decrypts proves the peer holds the session.
        self.pending_pre_key = None;
    }
}
