//! Sealed sender: envelopes whose sender only the recipient learns.
//!
//! ```text
//!   server: TrustRootKeyPair ─certify─► ServerSigner ─► SenderCertificate (short-lived)
//!   sender: seal(identity, certificate, recipient identity, message) ─► 0x18 envelope
//!           seal_for_many(…, [recipient identities], group message) ─► shared part + 48-byte header each
//!   relay:  sees neither the sender's account nor its device
//!   recipient: unseal / unseal_multi ─► Unsealed { certificate (validated), message } ─► session or sender key
//! ```
//!
//! The server signs short-lived [`SenderCertificate`]s with a key the pinned [`TrustRoot`]
//! certified; the sender puts its certificate and the message inside layers encrypted to the
//! recipient's identity. The recipient checks the certificate ([`CertificateValidator`]:
//! signatures, revoked key ids, expiry), that it names the identity that sealed the envelope,
//! and that it does not name the recipient's own device. Decrypting the message inside is then
//! the ordinary session (or sender key) of the certified sender, whose identity the caller
//! compares with the certificate's. `docs/protocol.md` ("Sealed sender") is normative.

mod access;
mod certificate;
mod error;
mod layers;
mod multi;
mod single;

pub use access::{ACCESS_KEY_LEN, AccessKey};
pub use certificate::{
    CertificateValidator, SenderCertificate, ServerSigner, TrustRoot, TrustRootKeyPair,
};
pub use error::SealedSenderError;
pub use multi::{MultiSealed, RECIPIENT_HEADER_LEN, multi_envelope, seal_for_many, unseal_multi};
pub use single::{seal, unseal};

use prost::Message as _;
use sotto_proto::sealed as wire;

use crate::address::Address;
use crate::identity::IdentityKey;
use crate::message::PROTOCOL_VERSION;

/// Low nibble of a sealed (one recipient) envelope's first byte.
pub const SEALED_MESSAGE_TYPE: u8 = 8;
/// Low nibble of a sealed multi-recipient envelope's first byte.
pub const SEALED_MULTI_MESSAGE_TYPE: u8 = 9;
/// The longest sealed message accepted (the relay's envelope limit).
pub const MAX_SEALED_LEN: usize = 96 * 1024;

/// An opened envelope: the validated certificate of its sender and the message inside.
#[derive(Debug)]
pub struct Unsealed {
    /// The sender's certificate; it passed the validator and names the identity that sealed
    /// the envelope.
    pub certificate: SenderCertificate,
    /// The Sotto protocol message inside, to decrypt with the certified sender's session (or
    /// sender key); check that the session's identity is [`SenderCertificate::identity`].
    pub message: Vec<u8>,
    /// The group of a group message.
    pub group_id: Option<Vec<u8>>,
}

/// Refuses bytes that are not a sealed envelope of `message_type`.
fn check_first_byte(bytes: &[u8], message_type: u8) -> Result<(), SealedSenderError> {
    let first = *bytes.first().ok_or(SealedSenderError::Malformed("empty"))?;
    if bytes.len() > MAX_SEALED_LEN {
        return Err(SealedSenderError::Malformed("too long"));
    }
    if first >> 4 != PROTOCOL_VERSION {
        return Err(SealedSenderError::UnknownVersion(first >> 4));
    }
    if first & 0x0f != message_type {
        return Err(SealedSenderError::WrongMessageType(first & 0x0f));
    }
    Ok(())
}

/// The encoded [`wire::SealedContent`].
fn content_bytes(
    certificate: &SenderCertificate,
    message: &[u8],
    group_id: Option<&[u8]>,
) -> Vec<u8> {
    wire::SealedContent {
        certificate: certificate.encode(),
        message: message.to_vec(),
        group_id: group_id.map(<[u8]>::to_vec).unwrap_or_default(),
    }
    .encode_to_vec()
}

/// Decodes the content and parses (without validating) its certificate.
fn decode_content(content: &[u8]) -> Result<Unsealed, SealedSenderError> {
    let content = wire::SealedContent::decode(content)
        .map_err(|_| SealedSenderError::Malformed("sealed content"))?;
    let certificate = SenderCertificate::from_wire(&content.certificate)?;
    let group_id = (!content.group_id.is_empty()).then_some(content.group_id);
    Ok(Unsealed {
        certificate,
        message: content.message,
        group_id,
    })
}

/// Validates the certificate of decoded content and checks it names `sealed_by` and not `us`.
fn check_content(
    content: Unsealed,
    sealed_by: &IdentityKey,
    us: &Address,
    validator: &CertificateValidator,
) -> Result<Unsealed, SealedSenderError> {
    validator.validate(&content.certificate)?;
    if content.certificate.identity() != sealed_by {
        return Err(SealedSenderError::IdentityMismatch);
    }
    if content.certificate.sender() == us {
        return Err(SealedSenderError::SelfSent);
    }
    Ok(content)
}
