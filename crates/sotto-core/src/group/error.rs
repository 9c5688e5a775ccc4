//! Error types of the group protocol, one per operation. Every failure leaves the record or
//! state it was applied to exactly as it was.

use thiserror::Error;

use super::BadLead;
use crate::error::{AddressError, KeyError};

/// A Sender Key distribution message was rejected: keep the sender's record as it is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DistributionError {
    /// The message is empty.
    #[error("empty sender key distribution")]
    Empty,
    /// The message was made by a protocol version we do not speak.
    #[error("unsupported protocol version {0}")]
    UnknownVersion(u8),
    /// The first byte names another message type.
    #[error("expected a sender key distribution, got message type {0}")]
    WrongMessageType(u8),
    /// The message does not decode.
    #[error("malformed sender key distribution: {0}")]
    Malformed(&'static str),
    /// The signing key is invalid.
    #[error("invalid signing key in sender key distribution: {0}")]
    Key(#[from] KeyError),
    /// The distribution is for another group than the record it was given to.
    #[error("the sender key is for another group")]
    WrongGroup,
}

impl From<BadLead> for DistributionError {
    fn from(lead: BadLead) -> Self {
        match lead {
            BadLead::Empty => Self::Empty,
            BadLead::Version(v) => Self::UnknownVersion(v),
            BadLead::Type(t) => Self::WrongMessageType(t),
        }
    }
}

/// A group message could not be read; the sender's record is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupDecryptError {
    /// The message is empty.
    #[error("empty group message")]
    Empty,
    /// The message was made by a protocol version we do not speak.
    #[error("unsupported protocol version {0}")]
    UnknownVersion(u8),
    /// The first byte names another message type.
    #[error("expected a group message, got message type {0}")]
    WrongMessageType(u8),
    /// The message does not decode.
    #[error("malformed group message: {0}")]
    Malformed(&'static str),
    /// We hold no chain with this id from this sender: ask the sender for its sender key.
    #[error("no sender key with chain id {chain_id} from this sender")]
    UnknownChain {
        /// The chain id the message names.
        chain_id: u32,
    },
    /// The signature does not verify: forged, re-targeted to another group or sender, or
    /// tampered.
    #[error("group message signature verification failed")]
    BadSignature,
    /// The message authentication code does not match.
    #[error("group message authentication failed")]
    BadMac,
    /// This message was already read (or its key was evicted as too old).
    #[error("duplicate group message (iteration {iteration})")]
    Duplicate {
        /// The message's iteration.
        iteration: u32,
    },
    /// The iteration is further ahead of the chain than the limit allows.
    #[error("group message iteration jumps {jump} ahead, more than the limit of {limit}")]
    CounterJumpTooLarge {
        /// The requested jump.
        jump: u64,
        /// The limit.
        limit: u32,
    },
    /// The plaintext padding is malformed (only checked after authentication).
    #[error("invalid padding")]
    BadPadding,
}

impl From<BadLead> for GroupDecryptError {
    fn from(lead: BadLead) -> Self {
        match lead {
            BadLead::Empty => Self::Empty,
            BadLead::Version(v) => Self::UnknownVersion(v),
            BadLead::Type(t) => Self::WrongMessageType(t),
        }
    }
}

/// A group state (or an update to one) was rejected; the current state stays in force.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupStateError {
    /// The message is empty.
    #[error("empty group state")]
    Empty,
    /// The message was made by a protocol version we do not speak.
    #[error("unsupported protocol version {0}")]
    UnknownVersion(u8),
    /// The first byte names another message type.
    #[error("expected a group state, got message type {0}")]
    WrongMessageType(u8),
    /// A stored state was written by a record format version we do not read.
    #[error("unsupported group state record version {0}")]
    UnknownRecordVersion(u8),
    /// The state does not decode or breaks a rule of its format.
    #[error("malformed group state: {0}")]
    Malformed(&'static str),
    /// A member's identity key is invalid.
    #[error("invalid identity key of a member: {0}")]
    Key(#[from] KeyError),
    /// A member's account id is invalid.
    #[error("invalid member account id: {0}")]
    Address(#[from] AddressError),
    /// An account is listed twice, or the members are not sorted.
    #[error("members are not sorted by account id, each once")]
    UnsortedOrDuplicateMembers,
    /// More members than [`MAX_GROUP_MEMBERS`](super::MAX_GROUP_MEMBERS).
    #[error("group lists {0} members, more than the limit")]
    TooManyMembers(usize),
    /// A state without an admin could never change again.
    #[error("group state lists no admin")]
    NoAdmin,
    /// The update is for another group.
    #[error("the group state is for another group")]
    UnknownGroup,
    /// The signer is not an admin of the state it replaces (or, for a first state, of itself).
    #[error("the group state is signed by someone who is not an admin")]
    NotAnAdmin,
    /// The update's version is not newer than the current one (an old state replayed).
    #[error("group state version {offered} is not newer than the current version {current}")]
    VersionNotNewer {
        /// The version in force.
        current: u64,
        /// The version offered.
        offered: u64,
    },
    /// The admin's signature does not verify.
    #[error("group state signature verification failed")]
    BadSignature,
    /// A first state that does not list us: we were not invited into it.
    #[error("the group state does not list this account")]
    NotListed,
}

impl From<BadLead> for GroupStateError {
    fn from(lead: BadLead) -> Self {
        match lead {
            BadLead::Empty => Self::Empty,
            BadLead::Version(v) => Self::UnknownVersion(v),
            BadLead::Type(t) => Self::WrongMessageType(t),
        }
    }
}

/// A device is not allowed to take part in the group by the verified state: drop its message
/// (and show the attempt), and do not send it our sender key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MembershipError {
    /// The account is not in the group state: a "ghost" the server may have added.
    #[error("not a member of the group")]
    NotAMember,
    /// The account is a member, but under another identity key than its session's.
    #[error("the member's identity key differs from the one the group state lists")]
    IdentityMismatch,
}
