//! The stored form of a session record (format version 1): `0x01 || RecordStructure`.
//!
//! Storage schemas are separate from wire schemas. Loading parses every field into its typed
//! value and checks every limit, so a corrupt or hostile record is refused, never half-used.

use std::collections::VecDeque;

use prost::Message;
use zeroize::{Zeroize, Zeroizing};

use crate::curve::{KeyPair, PrivateKey, PublicKey};
use crate::error::RecordError;
use crate::identity::IdentityKey;
use crate::kem::KemCiphertext;
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::message_key::MessageKeySeed;
use crate::ratchet::receiver_chain::ReceiverChain;
use crate::ratchet::root_key::RootKey;
use crate::ratchet::session::{PendingPreKey, Session};
use crate::ratchet::{MAX_RECEIVING_CHAINS, MAX_SKIPPED_KEYS_PER_CHAIN};
use crate::session_record::{MAX_ARCHIVED_SESSIONS, SessionRecord};

/// The record format version this crate writes and reads.
pub const RECORD_VERSION: u8 = 1;

#[derive(Clone, PartialEq, Message)]
struct RecordStructure {
    #[prost(message, optional, tag = "1")]
    current: Option<SessionStructure>,
    #[prost(message, repeated, tag = "2")]
    archived: Vec<SessionStructure>,
}

#[derive(Clone, PartialEq, Message)]
struct SessionStructure {
    #[prost(bytes = "vec", tag = "1")]
    associated_data: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    remote_identity: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    base_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    root_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    our_ratchet_private: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    our_ratchet_public: Vec<u8>,
    #[prost(message, optional, tag = "7")]
    sending_chain: Option<ChainStructure>,
    #[prost(uint32, tag = "8")]
    previous_counter: u32,
    #[prost(message, repeated, tag = "9")]
    receiving_chains: Vec<ReceiverChainStructure>,
    #[prost(message, optional, tag = "10")]
    pending_pre_key: Option<PendingPreKeyStructure>,
}

#[derive(Clone, PartialEq, Message)]
struct ChainStructure {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(uint32, tag = "2")]
    index: u32,
}

#[derive(Clone, PartialEq, Message)]
struct SkippedKeyStructure {
    #[prost(uint32, tag = "1")]
    index: u32,
    #[prost(bytes = "vec", tag = "2")]
    seed: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct ReceiverChainStructure {
    #[prost(bytes = "vec", tag = "1")]
    ratchet_key: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    chain_key: Option<ChainStructure>,
    #[prost(message, repeated, tag = "3")]
    skipped: Vec<SkippedKeyStructure>,
}

#[derive(Clone, PartialEq, Message)]
struct PendingPreKeyStructure {
    #[prost(bytes = "vec", tag = "1")]
    local_identity: Vec<u8>,
    #[prost(uint32, tag = "2")]
    signed_pre_key_id: u32,
    #[prost(uint32, optional, tag = "3")]
    one_time_pre_key_id: Option<u32>,
    #[prost(uint32, tag = "4")]
    kem_pre_key_id: u32,
    #[prost(bytes = "vec", tag = "5")]
    kem_ciphertext: Vec<u8>,
}

// Secrets pass through these structures: wipe them when they go.
impl Drop for SessionStructure {
    fn drop(&mut self) {
        self.root_key.zeroize();
        self.our_ratchet_private.zeroize();
    }
}

impl Drop for ChainStructure {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl Drop for SkippedKeyStructure {
    fn drop(&mut self) {
        self.seed.zeroize();
    }
}

impl SessionRecord {
    /// Serialises the record (it contains secrets: store it encrypted).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let record = RecordStructure {
            current: self.current.as_ref().map(session_to_structure),
            archived: self.archived.iter().map(session_to_structure).collect(),
        };
        let mut out = Zeroizing::new(Vec::with_capacity(1 + record.encoded_len()));
        out.push(RECORD_VERSION);
        record.encode_raw(&mut *out);
        out
    }

    /// Parses a stored record.
    ///
    /// # Errors
    /// An unknown format version, a record that does not decode, an invalid key, or a limit
    /// exceeded.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecordError> {
        let (&version, body) = bytes
            .split_first()
            .ok_or(RecordError::Corrupt("empty record"))?;
        if version != RECORD_VERSION {
            return Err(RecordError::UnknownVersion(version));
        }
        let record =
            RecordStructure::decode(body).map_err(|_| RecordError::Corrupt("does not decode"))?;
        if record.archived.len() > MAX_ARCHIVED_SESSIONS {
            return Err(RecordError::Corrupt("too many archived sessions"));
        }
        let current = record
            .current
            .as_ref()
            .map(session_from_structure)
            .transpose()?;
        let archived = record
            .archived
            .iter()
            .map(session_from_structure)
            .collect::<Result<VecDeque<_>, _>>()?;
        Ok(Self { current, archived })
    }
}

fn session_to_structure(session: &Session) -> SessionStructure {
    SessionStructure {
        associated_data: session.associated_data.to_vec(),
        remote_identity: session.remote_identity.encode().to_vec(),
        base_key: session.base_key.encode().to_vec(),
        root_key: session.root_key.as_bytes().to_vec(),
        our_ratchet_private: session.our_ratchet.private.to_bytes().to_vec(),
        our_ratchet_public: session.our_ratchet.public.encode().to_vec(),
        sending_chain: session.sending_chain.as_ref().map(chain_to_structure),
        previous_counter: session.previous_counter,
        receiving_chains: session
            .receiving_chains
            .iter()
            .map(receiver_to_structure)
            .collect(),
        pending_pre_key: session
            .pending_pre_key
            .as_ref()
            .map(|p| PendingPreKeyStructure {
                local_identity: p.local_identity.encode().to_vec(),
                signed_pre_key_id: p.signed_pre_key_id,
                one_time_pre_key_id: p.one_time_pre_key_id,
                kem_pre_key_id: p.kem_pre_key_id,
                kem_ciphertext: p.kem_ciphertext.encode(),
            }),
    }
}

fn chain_to_structure(chain: &ChainKey) -> ChainStructure {
    ChainStructure {
        key: chain.key().to_vec(),
        index: chain.index(),
    }
}

fn receiver_to_structure(chain: &ReceiverChain) -> ReceiverChainStructure {
    ReceiverChainStructure {
        ratchet_key: chain.ratchet_key.encode().to_vec(),
        chain_key: Some(chain_to_structure(&chain.chain_key)),
        skipped: chain
            .skipped
            .iter()
            .map(|s| SkippedKeyStructure {
                index: s.index(),
                seed: s.seed().to_vec(),
            })
            .collect(),
    }
}

fn bytes32(bytes: &[u8], what: &'static str) -> Result<[u8; 32], RecordError> {
    bytes.try_into().map_err(|_| RecordError::Corrupt(what))
}

fn session_from_structure(s: &SessionStructure) -> Result<Session, RecordError> {
    if s.receiving_chains.len() > MAX_RECEIVING_CHAINS {
        return Err(RecordError::Corrupt("too many receiving chains"));
    }
    let private = Zeroizing::new(bytes32(&s.our_ratchet_private, "ratchet private key")?);
    Ok(Session {
        associated_data: bytes32(&s.associated_data, "associated data")?,
        remote_identity: IdentityKey::from_stored(&s.remote_identity)?,
        base_key: PublicKey::from_wire(&s.base_key)?,
        root_key: RootKey::new(bytes32(&s.root_key, "root key")?),
        our_ratchet: KeyPair {
            private: PrivateKey::from_bytes(*private),
            public: PublicKey::from_wire(&s.our_ratchet_public)?,
        },
        sending_chain: s
            .sending_chain
            .as_ref()
            .map(chain_from_structure)
            .transpose()?,
        previous_counter: s.previous_counter,
        receiving_chains: s
            .receiving_chains
            .iter()
            .map(receiver_from_structure)
            .collect::<Result<_, _>>()?,
        pending_pre_key: s
            .pending_pre_key
            .as_ref()
            .map(pending_from_structure)
            .transpose()?,
    })
}

fn chain_from_structure(c: &ChainStructure) -> Result<ChainKey, RecordError> {
    Ok(ChainKey::new(bytes32(&c.key, "chain key")?, c.index))
}

fn receiver_from_structure(c: &ReceiverChainStructure) -> Result<ReceiverChain, RecordError> {
    if c.skipped.len() > MAX_SKIPPED_KEYS_PER_CHAIN {
        return Err(RecordError::Corrupt("too many skipped keys"));
    }
    let chain_key = c
        .chain_key
        .as_ref()
        .ok_or(RecordError::Corrupt("receiving chain key"))?;
    let mut chain = ReceiverChain::new(
        PublicKey::from_wire(&c.ratchet_key)?,
        chain_from_structure(chain_key)?,
    );
    for skipped in &c.skipped {
        let seed = MessageKeySeed::new(bytes32(&skipped.seed, "skipped key")?, skipped.index);
        chain.skipped.push_back(seed);
    }
    Ok(chain)
}

fn pending_from_structure(p: &PendingPreKeyStructure) -> Result<PendingPreKey, RecordError> {
    Ok(PendingPreKey {
        local_identity: IdentityKey::from_stored(&p.local_identity)?,
        signed_pre_key_id: p.signed_pre_key_id,
        one_time_pre_key_id: p.one_time_pre_key_id,
        kem_pre_key_id: p.kem_pre_key_id,
        kem_ciphertext: KemCiphertext::from_wire(&p.kem_ciphertext)?,
    })
}
