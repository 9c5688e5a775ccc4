//! Everything we hold of one sender device's Sender Keys in one group: its last few chains.
//!
//! A sender starts a new chain when it rotates (after a removal, or when its device is reset),
//! and messages of the old chain may still be in flight, so up to [`MAX_SENDER_CHAINS`] chains
//! are kept, newest first. Decryption verifies the signature before any key is derived, plans
//! every change, checks the tag, and only then commits: a message that fails changes nothing.

use core::fmt;
use std::collections::VecDeque;

use zeroize::Zeroizing;

use super::error::{DistributionError, GroupDecryptError};
use super::sender_key_distribution::SenderKeyDistribution;
use super::sender_key_message::{GroupMessage, associated_data};
use super::sender_key_state::SenderKeyState;
use super::{GroupId, MAX_SENDER_CHAINS};
use crate::address::Address;

/// The Sender Keys of one (group, sender device). Secret: store it encrypted
/// ([`SenderKeyRecord::to_bytes`]); `Debug` shows no key.
#[derive(Clone)]
pub struct SenderKeyRecord {
    pub(crate) group_id: GroupId,
    pub(crate) sender: Address,
    /// Newest first.
    pub(crate) states: VecDeque<SenderKeyState>,
}

impl SenderKeyRecord {
    /// An empty record for the messages `sender` sends in `group_id`.
    pub fn new(group_id: GroupId, sender: Address) -> Self {
        Self {
            group_id,
            sender,
            states: VecDeque::new(),
        }
    }

    /// The group.
    pub fn group_id(&self) -> &GroupId {
        &self.group_id
    }

    /// The sender device.
    pub fn sender(&self) -> &Address {
        &self.sender
    }

    /// The ids of the chains held, newest first.
    pub fn chain_ids(&self) -> Vec<u32> {
        self.states.iter().map(|s| s.chain_id).collect()
    }

    /// Stores a distribution received from the record's sender over its pairwise session (the
    /// caller checks with [`VerifiedGroupState::admit`](super::VerifiedGroupState::admit) that
    /// the sender is a member first). A chain already held with the same signing key is kept
    /// as it is, so a repeated distribution can never rewind a chain and let old messages be
    /// read again; one with the same id but another key replaces it (the sender's device was
    /// reset). Beyond [`MAX_SENDER_CHAINS`] the oldest chain is dropped.
    ///
    /// # Errors
    /// [`DistributionError::WrongGroup`] if the distribution is for another group.
    pub fn process(
        &mut self,
        distribution: &SenderKeyDistribution,
    ) -> Result<(), DistributionError> {
        if distribution.group_id != self.group_id {
            return Err(DistributionError::WrongGroup);
        }
        if let Some(position) = self.position(distribution.chain_id) {
            if self.states[position].signing_key == distribution.signing_key {
                return Ok(());
            }
            self.states.remove(position);
        }
        self.states
            .push_front(SenderKeyState::from_distribution(distribution));
        self.states.truncate(MAX_SENDER_CHAINS);
        Ok(())
    }

    /// Verifies and decrypts one group message of this record's sender in this record's group.
    ///
    /// # Errors
    /// See [`GroupDecryptError`]; on any error the record is unchanged.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, GroupDecryptError> {
        let message = GroupMessage::try_from(message)?;
        let index = self
            .position(message.chain_id)
            .ok_or(GroupDecryptError::UnknownChain {
                chain_id: message.chain_id,
            })?;
        let ad = associated_data(&self.group_id, &self.sender);
        let state = &self.states[index];
        // The signature first: a forged message must not make us derive thousands of keys.
        message.verify_signature(&ad, &state.signing_key)?;
        let (seed, step) = state.plan(message.iteration)?;
        let plaintext = message.open(&seed, &ad)?;
        self.states[index].commit(step);
        Ok(plaintext)
    }

    fn position(&self, chain_id: u32) -> Option<usize> {
        self.states.iter().position(|s| s.chain_id == chain_id)
    }
}

impl fmt::Debug for SenderKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyRecord")
            .field("group_id", &self.group_id)
            .field("sender", &self.sender)
            .field("chain_ids", &self.chain_ids())
            .finish()
    }
}
