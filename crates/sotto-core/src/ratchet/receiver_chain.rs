//! A receiving chain: the peer's ratchet key, our chain key for it, and skipped-message seeds.

use std::collections::VecDeque;

use super::chain_key::ChainKey;
use super::message_key::MessageKeySeed;
use super::{MAX_FORWARD_JUMP, MAX_SKIPPED_KEYS_PER_CHAIN};
use crate::curve::PublicKey;
use crate::error::DecryptError;

/// One receiving chain.
#[derive(Clone)]
pub(crate) struct ReceiverChain {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) chain_key: ChainKey,
    /// Seeds of messages skipped on this chain, oldest first.
    pub(crate) skipped: VecDeque<MessageKeySeed>,
}

/// The result of advancing a chain to a message, computed without changing the chain.
pub(crate) struct Advance {
    /// The seed of the message itself.
    pub(crate) seed: MessageKeySeed,
    /// The chain key after the message.
    pub(crate) next: ChainKey,
    /// Seeds of the messages jumped over (at most the per-chain limit: older ones are dropped).
    pub(crate) skipped: Vec<MessageKeySeed>,
}

impl ReceiverChain {
    pub(crate) fn new(ratchet_key: PublicKey, chain_key: ChainKey) -> Self {
        Self {
            ratchet_key,
            chain_key,
            skipped: VecDeque::new(),
        }
    }

    /// The stored seed of an earlier, skipped message.
    pub(crate) fn skipped_seed(&self, counter: u32) -> Option<&MessageKeySeed> {
        self.skipped.iter().find(|seed| seed.index() == counter)
    }

    /// Derives the keys up to message `counter` (not before the current index). The jump is
    /// checked before any key is derived.
    pub(crate) fn advance_to(&self, counter: u32) -> Result<Advance, DecryptError> {
        let start = self.chain_key.index();
        let jump = u64::from(counter).saturating_sub(u64::from(start));
        if jump > u64::from(MAX_FORWARD_JUMP) {
            return Err(DecryptError::CounterJumpTooLarge {
                jump,
                limit: MAX_FORWARD_JUMP,
            });
        }
        let keep_from = counter.saturating_sub(MAX_SKIPPED_KEYS_PER_CHAIN as u32);
        let mut skipped = Vec::new();
        let mut chain = self.chain_key.clone();
        while chain.index() < counter {
            if chain.index() >= keep_from {
                skipped.push(chain.message_key_seed());
            }
            chain = chain
                .next()
                .ok_or(DecryptError::Malformed("counter overflow"))?;
        }
        let seed = chain.message_key_seed();
        let next = chain
            .next()
            .ok_or(DecryptError::Malformed("counter overflow"))?;
        Ok(Advance {
            seed,
            next,
            skipped,
        })
    }

    /// Commits an [`Advance`]: new chain key, skipped seeds kept within the limit.
    pub(crate) fn commit(&mut self, advance: Advance) {
        self.chain_key = advance.next;
        self.skipped.extend(advance.skipped);
        while self.skipped.len() > MAX_SKIPPED_KEYS_PER_CHAIN {
            self.skipped.pop_front();
        }
    }

    /// Forgets the seed of a message once it was decrypted.
    pub(crate) fn remove_skipped(&mut self, counter: u32) {
        self.skipped.retain(|seed| seed.index() != counter);
    }
}
