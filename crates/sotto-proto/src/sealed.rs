//! Messages of sealed sender: the certificates the server signs and the sealed envelopes that
//! hide a message's sender from the server. `sotto-core::sealed` parses them into typed values;
//! `docs/protocol.md` ("Sealed sender") is normative.

/// A server key certified by the trust root: `body` is an encoded [`ServerCertificateBody`],
/// `signature` the trust root's Ed25519 signature over `"Sotto_v1_ServerCertificate" || body`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerCertificate {
    /// An encoded [`ServerCertificateBody`] (signed as these exact bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub body: Vec<u8>,
    /// 64-byte Ed25519 signature by the trust root.
    #[prost(bytes = "vec", tag = "2")]
    pub signature: Vec<u8>,
}

/// What a server certificate says.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerCertificateBody {
    /// The key's id: revoking a key revokes this id.
    #[prost(uint32, tag = "1")]
    pub key_id: u32,
    /// The server's Ed25519 public key (32 bytes) that signs sender certificates.
    #[prost(bytes = "vec", tag = "2")]
    pub key: Vec<u8>,
}

/// A sender certificate: `body` is an encoded [`SenderCertificateBody`], `signature` the
/// server key's Ed25519 signature over `"Sotto_v1_SenderCertificate" || body`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SenderCertificate {
    /// An encoded [`SenderCertificateBody`] (signed as these exact bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub body: Vec<u8>,
    /// 64-byte Ed25519 signature by the server key the body's `signer` certifies.
    #[prost(bytes = "vec", tag = "2")]
    pub signature: Vec<u8>,
}

/// What a sender certificate says: this device of this account has this identity until then.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SenderCertificateBody {
    /// The sender's account id (1 to 64 bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub account: Vec<u8>,
    /// The sender's device id.
    #[prost(uint32, tag = "2")]
    pub device_id: u32,
    /// The sender's identity key (129 bytes, type byte 0x21).
    #[prost(bytes = "vec", tag = "3")]
    pub identity_key: Vec<u8>,
    /// Unix time in milliseconds after which the certificate is refused.
    #[prost(uint64, tag = "4")]
    pub expires_ms: u64,
    /// The server key that signed this certificate, certified by the trust root.
    #[prost(message, optional, tag = "5")]
    pub signer: Option<ServerCertificate>,
}

/// A message sealed to one recipient (after its `0x18` version byte).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SealedEnvelope {
    /// The sender's ephemeral X25519 public key (33 bytes, type byte 0x05).
    #[prost(bytes = "vec", tag = "1")]
    pub ephemeral_key: Vec<u8>,
    /// The sender's identity key, encrypted to the recipient, with its tag.
    #[prost(bytes = "vec", tag = "2")]
    pub encrypted_static: Vec<u8>,
    /// The [`SealedContent`], encrypted from the sender's identity to the recipient's, with
    /// its tag.
    #[prost(bytes = "vec", tag = "3")]
    pub encrypted_message: Vec<u8>,
}

/// A message sealed to many recipients (after its `0x19` version byte). Fields 2 and 3 are the
/// same for every recipient (stored once by the relay); field 1 is each recipient account's
/// own 48-byte header, so an envelope is `header field || shared fields`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SealedMultiEnvelope {
    /// The recipient's header: the encrypted message key (32 bytes) and the sender's
    /// authentication tag (16 bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub recipient_header: Vec<u8>,
    /// The ephemeral X25519 public key derived from the message key (33 bytes).
    #[prost(bytes = "vec", tag = "2")]
    pub ephemeral_key: Vec<u8>,
    /// The [`SealedContent`] encrypted under the message key, with its tag.
    #[prost(bytes = "vec", tag = "3")]
    pub ciphertext: Vec<u8>,
}

/// What a sealed envelope carries: who sent it (certified) and the message itself.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SealedContent {
    /// The sender's encoded [`SenderCertificate`].
    #[prost(bytes = "vec", tag = "1")]
    pub certificate: Vec<u8>,
    /// A Sotto protocol message (its first byte says which kind: a ratchet, prekey or group
    /// message), decrypted with the session or sender key of the certified sender.
    #[prost(bytes = "vec", tag = "2")]
    pub message: Vec<u8>,
    /// The group a group message belongs to (32 bytes), empty otherwise.
    #[prost(bytes = "vec", tag = "3")]
    pub group_id: Vec<u8>,
}
