//! One chain of another member's Sender Key, as a receiver holds it: chain id, chain key at the
//! next expected iteration, the chain's signing public key, and the seeds of skipped messages.

use std::collections::VecDeque;

use ed25519_dalek::VerifyingKey;

use super::error::GroupDecryptError;
use super::sender_key_distribution::SenderKeyDistribution;
use super::{MAX_FORWARD_JUMP, MAX_SKIPPED_KEYS};
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::message_key::MessageKeySeed;

/// A received chain. Secret (chain key, seeds): zeroized on drop through its fields.
#[derive(Clone)]
pub(crate) struct SenderKeyState {
    pub(crate) chain_id: u32,
    pub(crate) chain_key: ChainKey,
    pub(crate) signing_key: VerifyingKey,
    /// Oldest first, at most [`MAX_SKIPPED_KEYS`].
    pub(crate) skipped: VecDeque<MessageKeySeed>,
}

/// What reading one message changes in its chain, computed before the message is authenticated
/// and applied only after.
pub(crate) enum Step {
    /// A skipped message was read: forget its seed.
    Skipped(u32),
    /// The chain moved past the message.
    Advanced {
        next: ChainKey,
        skipped: Vec<MessageKeySeed>,
    },
}

impl SenderKeyState {
    pub(crate) fn from_distribution(distribution: &SenderKeyDistribution) -> Self {
        Self {
            chain_id: distribution.chain_id,
            chain_key: distribution.chain_key.clone(),
            signing_key: distribution.signing_key,
            skipped: VecDeque::new(),
        }
    }

    /// The seed of message `iteration` and the change reading it makes, without changing the
    /// chain. The jump is checked before any key is derived.
    pub(crate) fn plan(&self, iteration: u32) -> Result<(MessageKeySeed, Step), GroupDecryptError> {
        let start = self.chain_key.index();
        if iteration < start {
            let seed = self
                .skipped
                .iter()
                .find(|seed| seed.index() == iteration)
                .ok_or(GroupDecryptError::Duplicate { iteration })?;
            return Ok((seed.clone(), Step::Skipped(iteration)));
        }
        let jump = iteration - start;
        if jump > MAX_FORWARD_JUMP {
            return Err(GroupDecryptError::CounterJumpTooLarge {
                jump: jump.into(),
                limit: MAX_FORWARD_JUMP,
            });
        }
        let keep_from = iteration.saturating_sub(MAX_SKIPPED_KEYS as u32);
        let mut skipped = Vec::new();
        let mut chain = self.chain_key.clone();
        while chain.index() < iteration {
            if chain.index() >= keep_from {
                skipped.push(chain.message_key_seed());
            }
            chain = chain
                .next()
                .ok_or(GroupDecryptError::Malformed("iteration overflow"))?;
        }
        let seed = chain.message_key_seed();
        let next = chain
            .next()
            .ok_or(GroupDecryptError::Malformed("iteration overflow"))?;
        Ok((seed, Step::Advanced { next, skipped }))
    }

    /// Applies a [`Step`] of a message that was authenticated.
    pub(crate) fn commit(&mut self, step: Step) {
        match step {
            Step::Skipped(iteration) => self.skipped.retain(|seed| seed.index() != iteration),
            Step::Advanced { next, skipped } => {
                self.chain_key = next;
                self.skipped.extend(skipped);
                while self.skipped.len() > MAX_SKIPPED_KEYS {
                    self.skipped.pop_front();
                }
            }
        }
    }
}
