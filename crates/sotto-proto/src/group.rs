//! Messages of the group protocol: Sender Key distribution, Sender Key (group) messages and
//! admin-signed group state. `sotto-core::group` parses them into typed values.

/// A sender's current Sender Key, sent to each member over the pairwise sessions.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SenderKeyDistribution {
    /// The group this key sends in (32 bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub group_id: Vec<u8>,
    /// The chain's random id (31 bits).
    #[prost(uint32, tag = "2")]
    pub chain_id: u32,
    /// The iteration the chain key below produces the keys of.
    #[prost(uint32, tag = "3")]
    pub iteration: u32,
    /// The chain key at that iteration (32 bytes).
    #[prost(bytes = "vec", tag = "4")]
    pub chain_key: Vec<u8>,
    /// The Ed25519 public key that signs every message of the chain (32 bytes).
    #[prost(bytes = "vec", tag = "5")]
    pub signing_key: Vec<u8>,
}

/// The header and ciphertext of a group message (between its version byte and its MAC).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SenderKeyMessage {
    /// The sender's chain id.
    #[prost(uint32, tag = "1")]
    pub chain_id: u32,
    /// Index of this message in the chain.
    #[prost(uint32, tag = "2")]
    pub iteration: u32,
    /// AES-256-CTR ciphertext of the padded plaintext.
    #[prost(bytes = "vec", tag = "3")]
    pub ciphertext: Vec<u8>,
}

/// Whether a member may change the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum GroupRole {
    /// Not set: rejected by decoders.
    Unspecified = 0,
    /// May sign new group states.
    Admin = 1,
    /// May send and read.
    Member = 2,
}

/// One member of a group: an account and the identity all its devices share.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupMember {
    /// The account id (1 to 64 bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub account: Vec<u8>,
    /// The account's identity key (129 bytes, type byte 0x21).
    #[prost(bytes = "vec", tag = "2")]
    pub identity_key: Vec<u8>,
    /// The member's role.
    #[prost(enumeration = "GroupRole", tag = "3")]
    pub role: i32,
}

/// One version of a group's state.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupState {
    /// The group id (32 bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub group_id: Vec<u8>,
    /// The state's version: every change increases it.
    #[prost(uint64, tag = "2")]
    pub version: u64,
    /// The group's name (UTF-8).
    #[prost(string, tag = "3")]
    pub name: String,
    /// The members, sorted by account id, each once.
    #[prost(message, repeated, tag = "4")]
    pub members: Vec<GroupMember>,
}

/// A group state and an admin's signature over it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignedGroupState {
    /// The encoded [`GroupState`]: the exact bytes the signature covers.
    #[prost(bytes = "vec", tag = "1")]
    pub state: Vec<u8>,
    /// The account id of the admin who signed.
    #[prost(bytes = "vec", tag = "2")]
    pub signer: Vec<u8>,
    /// Ed25519 signature by the signer's identity key (64 bytes).
    #[prost(bytes = "vec", tag = "3")]
    pub signature: Vec<u8>,
}
