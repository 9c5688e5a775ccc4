//! Stored forms (format version 1) of our own Sender Keys and of the records of others':
//! `0x01 || protobuf`. Storage schemas are separate from wire schemas; loading checks every
//! field and limit, so a corrupt record is refused, never half-used.

use std::collections::VecDeque;

use ed25519_dalek::SigningKey;
use prost::Message;
use zeroize::{Zeroize, Zeroizing};

use super::own_sender_key::OwnSenderKey;
use super::sender_key_record::SenderKeyRecord;
use super::sender_key_state::SenderKeyState;
use super::{GroupId, MAX_SENDER_CHAINS, MAX_SKIPPED_KEYS};
use crate::address::Address;
use crate::error::RecordError;
use crate::identity::verifying_key;
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::message_key::MessageKeySeed;

/// The format version of both stored forms.
pub const SENDER_KEY_RECORD_VERSION: u8 = 1;

#[derive(Clone, PartialEq, Message)]
struct OwnSenderKeyStructure {
    #[prost(bytes = "vec", tag = "1")]
    group_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    sender_account: Vec<u8>,
    #[prost(uint32, tag = "3")]
    sender_device: u32,
    #[prost(uint32, tag = "4")]
    chain_id: u32,
    #[prost(uint32, tag = "5")]
    iteration: u32,
    #[prost(bytes = "vec", tag = "6")]
    chain_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "7")]
    signing_seed: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct SenderKeyRecordStructure {
    #[prost(bytes = "vec", tag = "1")]
    group_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    sender_account: Vec<u8>,
    #[prost(uint32, tag = "3")]
    sender_device: u32,
    #[prost(message, repeated, tag = "4")]
    states: Vec<SenderKeyStateStructure>,
}

#[derive(Clone, PartialEq, Message)]
struct SenderKeyStateStructure {
    #[prost(uint32, tag = "1")]
    chain_id: u32,
    #[prost(uint32, tag = "2")]
    iteration: u32,
    #[prost(bytes = "vec", tag = "3")]
    chain_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    signing_key: Vec<u8>,
    #[prost(message, repeated, tag = "5")]
    skipped: Vec<SkippedSeedStructure>,
}

#[derive(Clone, PartialEq, Message)]
struct SkippedSeedStructure {
    #[prost(uint32, tag = "1")]
    iteration: u32,
    #[prost(bytes = "vec", tag = "2")]
    seed: Vec<u8>,
}

impl Drop for OwnSenderKeyStructure {
    fn drop(&mut self) {
        self.chain_key.zeroize();
        self.signing_seed.zeroize();
    }
}

impl Drop for SenderKeyStateStructure {
    fn drop(&mut self) {
        self.chain_key.zeroize();
    }
}

impl Drop for SkippedSeedStructure {
    fn drop(&mut self) {
        self.seed.zeroize();
    }
}

fn encode(message: &impl Message) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(1 + message.encoded_len()));
    out.push(SENDER_KEY_RECORD_VERSION);
    message.encode_raw(&mut *out);
    out
}

fn body(bytes: &[u8]) -> Result<&[u8], RecordError> {
    let (&version, rest) = bytes
        .split_first()
        .ok_or(RecordError::Corrupt("empty record"))?;
    if version != SENDER_KEY_RECORD_VERSION {
        return Err(RecordError::UnknownVersion(version));
    }
    Ok(rest)
}

fn key32(bytes: &[u8], what: &'static str) -> Result<Zeroizing<[u8; 32]>, RecordError> {
    let mut out = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(RecordError::Corrupt(what));
    }
    out.copy_from_slice(bytes);
    Ok(out)
}

fn group_and_sender(
    group_id: &[u8],
    account: &[u8],
    device: u32,
) -> Result<(GroupId, Address), RecordError> {
    let group_id = GroupId::from_wire(group_id).ok_or(RecordError::Corrupt("group id"))?;
    let sender =
        Address::new(account, device).map_err(|_| RecordError::Corrupt("sender account id"))?;
    Ok((group_id, sender))
}

impl OwnSenderKey {
    /// The stored form (secret: keep it in the encrypted store).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        encode(&OwnSenderKeyStructure {
            group_id: self.group_id.as_bytes().to_vec(),
            sender_account: self.sender.account().to_vec(),
            sender_device: self.sender.device(),
            chain_id: self.chain_id,
            iteration: self.chain_key.index(),
            chain_key: self.chain_key.key().to_vec(),
            signing_seed: self.signing.to_bytes().to_vec(),
        })
    }

    /// Loads a stored key.
    ///
    /// # Errors
    /// An unknown format version or a corrupt record.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecordError> {
        let stored = OwnSenderKeyStructure::decode(body(bytes)?)
            .map_err(|_| RecordError::Corrupt("own sender key does not decode"))?;
        let (group_id, sender) = group_and_sender(
            &stored.group_id,
            &stored.sender_account,
            stored.sender_device,
        )?;
        let chain = key32(&stored.chain_key, "chain key")?;
        let seed = key32(&stored.signing_seed, "signing key")?;
        Ok(Self {
            group_id,
            sender,
            chain_id: stored.chain_id,
            chain_key: ChainKey::new(*chain, stored.iteration),
            signing: SigningKey::from_bytes(&seed),
        })
    }
}

impl SenderKeyRecord {
    /// The stored form (secret: keep it in the encrypted store).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        encode(&SenderKeyRecordStructure {
            group_id: self.group_id.as_bytes().to_vec(),
            sender_account: self.sender.account().to_vec(),
            sender_device: self.sender.device(),
            states: self.states.iter().map(state_structure).collect(),
        })
    }

    /// Loads a stored record.
    ///
    /// # Errors
    /// An unknown format version, a corrupt record, or one beyond the limits.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecordError> {
        let stored = SenderKeyRecordStructure::decode(body(bytes)?)
            .map_err(|_| RecordError::Corrupt("sender key record does not decode"))?;
        let (group_id, sender) = group_and_sender(
            &stored.group_id,
            &stored.sender_account,
            stored.sender_device,
        )?;
        if stored.states.len() > MAX_SENDER_CHAINS {
            return Err(RecordError::Corrupt("too many sender chains"));
        }
        let states = stored
            .states
            .iter()
            .map(load_state)
            .collect::<Result<VecDeque<_>, _>>()?;
        let mut ids: Vec<u32> = states.iter().map(|s| s.chain_id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != states.len() {
            return Err(RecordError::Corrupt("duplicate chain id"));
        }
        Ok(Self {
            group_id,
            sender,
            states,
        })
    }
}

fn state_structure(state: &SenderKeyState) -> SenderKeyStateStructure {
    SenderKeyStateStructure {
        chain_id: state.chain_id,
        iteration: state.chain_key.index(),
        chain_key: state.chain_key.key().to_vec(),
        signing_key: state.signing_key.as_bytes().to_vec(),
        skipped: state
            .skipped
            .iter()
            .map(|seed| SkippedSeedStructure {
                iteration: seed.index(),
                seed: seed.seed().to_vec(),
            })
            .collect(),
    }
}

fn load_state(stored: &SenderKeyStateStructure) -> Result<SenderKeyState, RecordError> {
    if stored.skipped.len() > MAX_SKIPPED_KEYS {
        return Err(RecordError::Corrupt("too many skipped keys"));
    }
    let chain = key32(&stored.chain_key, "chain key")?;
    let skipped = stored
        .skipped
        .iter()
        .map(|s| {
            let seed = key32(&s.seed, "skipped seed")?;
            if s.iteration >= stored.iteration {
                return Err(RecordError::Corrupt("skipped seed ahead of its chain"));
            }
            Ok(MessageKeySeed::new(*seed, s.iteration))
        })
        .collect::<Result<VecDeque<_>, _>>()?;
    Ok(SenderKeyState {
        chain_id: stored.chain_id,
        chain_key: ChainKey::new(*chain, stored.iteration),
        signing_key: verifying_key(&stored.signing_key)?,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::OwnSenderKey;
    use rand_core::SeedableRng;

    fn key() -> OwnSenderKey {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
        let group = GroupId::generate(&mut rng);
        OwnSenderKey::generate(group, Address::new("a", 1).unwrap(), &mut rng)
    }

    fn record_with(states: Vec<SenderKeyStateStructure>) -> Vec<u8> {
        let key = key();
        encode(&SenderKeyRecordStructure {
            group_id: key.group_id().as_bytes().to_vec(),
            sender_account: b"a".to_vec(),
            sender_device: 1,
            states,
        })
        .to_vec()
    }

    fn state(chain_id: u32, iteration: u32, skipped: &[u32]) -> SenderKeyStateStructure {
        SenderKeyStateStructure {
            chain_id,
            iteration,
            chain_key: vec![7; 32],
            signing_key: key().distribution().signing_key.as_bytes().to_vec(),
            skipped: skipped
                .iter()
                .map(|&iteration| SkippedSeedStructure {
                    iteration,
                    seed: vec![9; 32],
                })
                .collect(),
        }
    }

    #[test]
    fn a_valid_record_loads() {
        let bytes = record_with(vec![state(1, 5, &[1, 3]), state(2, 0, &[])]);
        let record = SenderKeyRecord::from_bytes(&bytes).unwrap();
        assert_eq!(record.chain_ids(), vec![1, 2]);
        assert_eq!(*record.to_bytes(), bytes);
    }

    #[test]
    fn records_beyond_the_limits_are_refused() {
        let too_many = (0..=MAX_SENDER_CHAINS as u32)
            .map(|i| state(i, 0, &[]))
            .collect();
        let skipped: Vec<u32> = (0..=MAX_SKIPPED_KEYS as u32).collect();
        for (bytes, why) in [
            (record_with(too_many), "too many sender chains"),
            (
                record_with(vec![state(1, 0, &[]), state(1, 3, &[])]),
                "duplicate chain id",
            ),
            (
                record_with(vec![state(1, 3, &[3])]),
                "skipped seed ahead of its chain",
            ),
            (
                record_with(vec![state(1, 5000, &skipped)]),
                "too many skipped keys",
            ),
        ] {
            assert_eq!(
                SenderKeyRecord::from_bytes(&bytes).unwrap_err(),
                RecordError::Corrupt(why)
            );
        }
    }

    #[test]
    fn bad_fields_are_refused() {
        let mut short_key = state(1, 0, &[]);
        short_key.chain_key.pop();
        let mut weak = state(1, 0, &[]);
        weak.signing_key = vec![0; 32];
        assert_eq!(
            SenderKeyRecord::from_bytes(&record_with(vec![short_key])).unwrap_err(),
            RecordError::Corrupt("chain key")
        );
        assert!(matches!(
            SenderKeyRecord::from_bytes(&record_with(vec![weak])).unwrap_err(),
            RecordError::Key(_)
        ));
        assert_eq!(
            SenderKeyRecord::from_bytes(&[]).unwrap_err(),
            RecordError::Corrupt("empty record")
        );
        let mut own = key().to_bytes().to_vec();
        own[0] = 9;
        assert_eq!(
            OwnSenderKey::from_bytes(&own).unwrap_err(),
            RecordError::UnknownVersion(9)
        );
    }
}
