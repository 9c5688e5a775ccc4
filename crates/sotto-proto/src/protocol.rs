//! Messages of the pairwise protocol: prekey bundles, PQXDH prekey messages, ratchet messages.

/// A Double Ratchet message header and ciphertext (the part between the version byte and the
/// MAC of a ratchet message).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RatchetMessage {
    /// The sender's current ratchet public key (33 bytes, type byte 0x05).
    #[prost(bytes = "vec", tag = "1")]
    pub ratchet_key: Vec<u8>,
    /// Index of this message in the sender's current sending chain.
    #[prost(uint32, tag = "2")]
    pub counter: u32,
    /// Length of the sender's previous sending chain.
    #[prost(uint32, tag = "3")]
    pub previous_counter: u32,
    /// AES-256-CTR ciphertext of the padded plaintext.
    #[prost(bytes = "vec", tag = "4")]
    pub ciphertext: Vec<u8>,
}

/// The first messages of a session: the PQXDH initiator's public inputs plus a ratchet message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PreKeyMessage {
    /// The initiator's identity key (129 bytes, type byte 0x21).
    #[prost(bytes = "vec", tag = "1")]
    pub identity_key: Vec<u8>,
    /// The initiator's ephemeral (base) key (33 bytes, type byte 0x05).
    #[prost(bytes = "vec", tag = "2")]
    pub base_key: Vec<u8>,
    /// Id of the responder's signed X25519 prekey that was used.
    #[prost(uint32, tag = "3")]
    pub signed_pre_key_id: u32,
    /// Id of the responder's one-time X25519 prekey, if one was used.
    #[prost(uint32, optional, tag = "4")]
    pub one_time_pre_key_id: Option<u32>,
    /// Id of the responder's ML-KEM-1024 prekey that was used.
    #[prost(uint32, tag = "5")]
    pub kem_pre_key_id: u32,
    /// The ML-KEM-1024 ciphertext (1569 bytes, type byte 0x0B).
    #[prost(bytes = "vec", tag = "6")]
    pub kem_ciphertext: Vec<u8>,
    /// A complete ratchet message (version byte, protobuf, MAC).
    #[prost(bytes = "vec", tag = "7")]
    pub message: Vec<u8>,
}

/// A signed X25519 prekey as published.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignedPreKey {
    /// Key id, chosen by the owner.
    #[prost(uint32, tag = "1")]
    pub id: u32,
    /// Public key (33 bytes, type byte 0x05).
    #[prost(bytes = "vec", tag = "2")]
    pub public_key: Vec<u8>,
    /// Ed25519 signature by the identity key (64 bytes).
    #[prost(bytes = "vec", tag = "3")]
    pub signature: Vec<u8>,
}

/// A one-time X25519 prekey as published (unsigned).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OneTimePreKey {
    /// Key id, chosen by the owner.
    #[prost(uint32, tag = "1")]
    pub id: u32,
    /// Public key (33 bytes, type byte 0x05).
    #[prost(bytes = "vec", tag = "2")]
    pub public_key: Vec<u8>,
}

/// Whether an ML-KEM prekey may be used once or is the last-resort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum KemPreKeyKind {
    /// Not set: rejected by decoders.
    Unspecified = 0,
    /// Deleted by its owner after first use.
    OneTime = 1,
    /// Kept by its owner; reuse with the same base key is refused.
    LastResort = 2,
}

/// A signed ML-KEM-1024 prekey as published.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KemPreKey {
    /// Key id, chosen by the owner.
    #[prost(uint32, tag = "1")]
    pub id: u32,
    /// One-time or last-resort.
    #[prost(enumeration = "KemPreKeyKind", tag = "2")]
    pub kind: i32,
    /// Public key (1569 bytes, type byte 0x0A).
    #[prost(bytes = "vec", tag = "3")]
    pub public_key: Vec<u8>,
    /// Ed25519 signature by the identity key (64 bytes).
    #[prost(bytes = "vec", tag = "4")]
    pub signature: Vec<u8>,
}

/// Everything an initiator needs to start a session with one device.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PreKeyBundle {
    /// The responder's identity key (129 bytes, type byte 0x21).
    #[prost(bytes = "vec", tag = "1")]
    pub identity_key: Vec<u8>,
    /// The responder's current signed prekey.
    #[prost(message, optional, tag = "2")]
    pub signed_pre_key: Option<SignedPreKey>,
    /// A one-time prekey, when the server still had one.
    #[prost(message, optional, tag = "3")]
    pub one_time_pre_key: Option<OneTimePreKey>,
    /// A one-time ML-KEM prekey, or the last-resort one.
    #[prost(message, optional, tag = "4")]
    pub kem_pre_key: Option<KemPreKey>,
}
