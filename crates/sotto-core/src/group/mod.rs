//! Groups: Sender Keys for the messages, admin-signed group state for the membership.
//!
//! ```text
//!   OwnSenderKey ──distribution()──► SenderKeyDistribution ──(pairwise sessions)──► each member
//!        │                                                                 SenderKeyRecord::process
//!   plaintext ──encrypt──► group message (one ciphertext for every member) ──► SenderKeyRecord::decrypt
//!
//!   admin: GroupState ──sign──► signed state ──(pairwise sessions)──► VerifiedGroupState::verify_update
//!                                            VerifiedGroupState::admit(sender) before any message is read
//! ```
//!
//! Each member device has one [`OwnSenderKey`] per group: a chain key stepped once per message
//! (the chain KDF of the Double Ratchet) and an Ed25519 key that signs every message, so members
//! who can decrypt still cannot forge each other's messages. Receivers keep a
//! [`SenderKeyRecord`] per (group, sender device) holding the last few chains of that sender.
//! Every group message is bound to its group id and sender address: it cannot be replayed into
//! another group or attributed to another member.
//!
//! Membership is never taken from the server: a [`VerifiedGroupState`] only moves to a newer
//! version signed by an admin of the state it replaces, and [`VerifiedGroupState::admit`] is
//! the one place that decides whether a device may send to us or receive our sender key.
//! After a removal, [`rotation_after`] says who must start a new chain.
//! `docs/protocol.md` ("Groups") is normative.

mod error;
mod group_state;
mod membership;
mod own_sender_key;
mod sender_key_distribution;
mod sender_key_message;
mod sender_key_record;
mod sender_key_state;
mod storage;
mod verified_group_state;

pub use error::{DistributionError, GroupDecryptError, GroupStateError, MembershipError};
pub use group_state::{GroupState, Member, Role};
pub use membership::{Rotation, rotation_after};
pub use own_sender_key::OwnSenderKey;
pub use sender_key_distribution::SenderKeyDistribution;
pub use sender_key_record::SenderKeyRecord;
pub use verified_group_state::VerifiedGroupState;

pub(crate) use sender_key_message::associated_data as sender_key_message_associated_data;

use core::fmt;

use rand_core::CryptoRng;

use crate::message::PROTOCOL_VERSION;

/// The furthest a group message's iteration may jump ahead of its chain (as in 1:1).
pub const MAX_FORWARD_JUMP: u32 = crate::ratchet::MAX_FORWARD_JUMP;
/// The most skipped-message keys kept per sender chain (oldest evicted first).
pub const MAX_SKIPPED_KEYS: usize = crate::ratchet::MAX_SKIPPED_KEYS_PER_CHAIN;
/// The most chains kept per (group, sender device): older ones are dropped as new ones arrive.
pub const MAX_SENDER_CHAINS: usize = 5;
/// The most members a group state may list.
pub const MAX_GROUP_MEMBERS: usize = 2_000;
/// The longest group name, in bytes of UTF-8.
pub const MAX_GROUP_NAME_LEN: usize = 256;

/// Low nibble of a Sender Key distribution message's first byte.
pub const DISTRIBUTION_MESSAGE_TYPE: u8 = 3;
/// Low nibble of a group (Sender Key) message's first byte.
pub const GROUP_MESSAGE_TYPE: u8 = 4;
/// Low nibble of a signed group state's first byte.
pub const GROUP_STATE_MESSAGE_TYPE: u8 = 5;

/// Length of a group id.
pub const GROUP_ID_LEN: usize = 32;

/// A group's identifier: 32 random bytes chosen by its creator.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId([u8; GROUP_ID_LEN]);

impl GroupId {
    /// A fresh random group id.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut id = [0; GROUP_ID_LEN];
        rng.fill_bytes(&mut id);
        Self(id)
    }

    /// A group id from its bytes.
    pub fn from_bytes(bytes: [u8; GROUP_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; GROUP_ID_LEN] {
        &self.0
    }

    /// Reads a group id from a wire field.
    pub(crate) fn from_wire(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// The first byte of a group wire message of this type.
pub(crate) const fn version_byte(message_type: u8) -> u8 {
    (PROTOCOL_VERSION << 4) | message_type
}

/// Checks the first byte of a group wire message: `Ok(rest)` or which part is wrong.
pub(crate) fn strip_version_byte(bytes: &[u8], message_type: u8) -> Result<&[u8], BadLead> {
    let (&first, rest) = bytes.split_first().ok_or(BadLead::Empty)?;
    if first >> 4 != PROTOCOL_VERSION {
        return Err(BadLead::Version(first >> 4));
    }
    if first & 0x0f != message_type {
        return Err(BadLead::Type(first & 0x0f));
    }
    Ok(rest)
}

/// What is wrong with a message's first byte.
pub(crate) enum BadLead {
    Empty,
    Version(u8),
    Type(u8),
}

const _: () = assert!(
    DISTRIBUTION_MESSAGE_TYPE != crate::message::RATCHET_MESSAGE_TYPE
        && DISTRIBUTION_MESSAGE_TYPE != crate::message::PRE_KEY_MESSAGE_TYPE
        && GROUP_MESSAGE_TYPE != crate::message::RATCHET_MESSAGE_TYPE
        && GROUP_MESSAGE_TYPE != crate::message::PRE_KEY_MESSAGE_TYPE
        && GROUP_STATE_MESSAGE_TYPE != crate::message::RATCHET_MESSAGE_TYPE
        && GROUP_STATE_MESSAGE_TYPE != crate::message::PRE_KEY_MESSAGE_TYPE
);
