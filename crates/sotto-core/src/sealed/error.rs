//! Why a sealed envelope or a certificate was refused.

use thiserror::Error;

use crate::error::KeyError;

/// A sealed envelope, or a certificate inside one, was refused. Nothing was learned from it:
/// the caller drops the envelope (and, for a network peer, may count it as abuse).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SealedSenderError {
    /// Not a sealed envelope: empty, or its first byte's version nibble is not one we speak.
    #[error("sealed envelope of unknown version {0}")]
    UnknownVersion(u8),
    /// A message of another kind than a sealed envelope.
    #[error("message type {0} is not a sealed envelope")]
    WrongMessageType(u8),
    /// The bytes do not decode (bad protobuf, a field of the wrong length).
    #[error("malformed sealed envelope: {0}")]
    Malformed(&'static str),
    /// The ephemeral key is not a valid X25519 public key.
    #[error("invalid ephemeral key: {0}")]
    EphemeralKey(KeyError),
    /// The outer layer does not open with our identity: the envelope is for someone else, or
    /// was altered.
    #[error("the envelope is not addressed to this identity, or its outer layer was altered")]
    OuterLayer,
    /// The identity sealed in the outer layer is not a valid identity key.
    #[error("invalid sealed sender identity: {0}")]
    SenderIdentity(KeyError),
    /// The inner layer does not open: the message was altered, or the sealed identity is not
    /// the one that sealed it.
    #[error("the inner layer was altered or sealed by another identity")]
    InnerLayer,
    /// The sender's authentication tag of a multi-recipient envelope does not verify: someone
    /// who knows the message key (another recipient) re-sealed it.
    #[error("the sender's authentication of this multi-recipient envelope failed")]
    SenderAuthentication,
    /// The sender certificate does not decode.
    #[error("malformed sender certificate: {0}")]
    MalformedCertificate(&'static str),
    /// The server certificate is not signed by the trust root we pinned.
    #[error("the server certificate is not signed by the pinned trust root")]
    UntrustedServerKey,
    /// The server key that signed the certificate has been revoked.
    #[error("the server key {key_id} that signed the sender certificate is revoked")]
    RevokedServerKey {
        /// Id of the revoked key.
        key_id: u32,
    },
    /// The sender certificate's signature does not verify with the server key.
    #[error("the sender certificate's signature does not verify")]
    BadCertificateSignature,
    /// The sender certificate has expired.
    #[error("the sender certificate expired at {expires_ms} (now {now_ms})")]
    Expired {
        /// When it expired (Unix ms).
        expires_ms: u64,
        /// The time it was checked at (Unix ms).
        now_ms: u64,
    },
    /// The certificate names another identity than the one that sealed the envelope.
    #[error("the certificate's identity is not the identity that sealed the envelope")]
    IdentityMismatch,
    /// The certificate names the receiving device itself.
    #[error("the envelope claims to come from this very device")]
    SelfSent,
}
