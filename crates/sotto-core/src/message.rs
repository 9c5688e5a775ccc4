//! Wire messages of the pairwise protocol, parsed into typed values before anything uses them.
//!
//! Every message starts with one byte: the protocol version in the high nibble, the message type
//! in the low nibble.
//!
//! - ratchet message: `0x11 || RatchetMessage (protobuf) || HMAC-SHA256 tag (32)`
//! - prekey message:  `0x12 || PreKeyMessage (protobuf)`, its `message` field a ratchet message

use prost::Message;
use sotto_proto::protocol as wire;

use crate::curve::PublicKey;
use crate::error::DecryptError;
use crate::identity::IdentityKey;
use crate::kem::KemCiphertext;
use crate::ratchet::message_key::MAC_LEN;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// Low nibble of a ratchet message's first byte.
pub const RATCHET_MESSAGE_TYPE: u8 = 1;
/// Low nibble of a prekey message's first byte.
pub const PRE_KEY_MESSAGE_TYPE: u8 = 2;

/// The first byte of a message of this type.
pub const fn version_byte(message_type: u8) -> u8 {
    (PROTOCOL_VERSION << 4) | message_type
}

/// Which kind of message some bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A Double Ratchet message in an established session.
    Ratchet,
    /// A session's opening message (PQXDH inputs plus a ratchet message).
    PreKey,
}

impl MessageKind {
    /// Reads the first byte.
    ///
    /// # Errors
    /// An empty message, an unknown version or an unknown type.
    pub fn of(bytes: &[u8]) -> Result<Self, DecryptError> {
        let first = *bytes.first().ok_or(DecryptError::Empty)?;
        if first >> 4 != PROTOCOL_VERSION {
            return Err(DecryptError::UnknownVersion(first >> 4));
        }
        match first & 0x0f {
            RATCHET_MESSAGE_TYPE => Ok(Self::Ratchet),
            PRE_KEY_MESSAGE_TYPE => Ok(Self::PreKey),
            other => Err(DecryptError::UnknownMessageType(other)),
        }
    }
}

/// A parsed ratchet message. Its keys are valid; its MAC is not yet checked.
pub(crate) struct RatchetMessage<'a> {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) counter: u32,
    pub(crate) ciphertext: Vec<u8>,
    /// The bytes the MAC covers after the associated data: version byte and protobuf.
    pub(crate) authenticated: &'a [u8],
    pub(crate) tag: &'a [u8],
}

impl<'a> TryFrom<&'a [u8]> for RatchetMessage<'a> {
    type Error = DecryptError;

    fn try_from(bytes: &'a [u8]) -> Result<Self, DecryptError> {
        if MessageKind::of(bytes)? != MessageKind::Ratchet {
            return Err(DecryptError::Malformed("expected a ratchet message"));
        }
        if bytes.len() < 1 + MAC_LEN {
            return Err(DecryptError::Malformed("truncated ratchet message"));
        }
        let (authenticated, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        let body = wire::RatchetMessage::decode(&authenticated[1..])
            .map_err(|_| DecryptError::Malformed("ratchet message does not decode"))?;
        let ratchet_key = PublicKey::from_wire(&body.ratchet_key)?;
        if body.ciphertext.is_empty() {
            return Err(DecryptError::Malformed("empty ciphertext"));
        }
        Ok(Self {
            ratchet_key,
            counter: body.counter,
            ciphertext: body.ciphertext,
            authenticated,
            tag,
        })
    }
}

/// A parsed prekey message: identity verified, keys valid, inner message not yet parsed.
pub(crate) struct PreKeyMessage {
    pub(crate) identity: IdentityKey,
    pub(crate) base_key: PublicKey,
    pub(crate) signed_pre_key_id: u32,
    pub(crate) one_time_pre_key_id: Option<u32>,
    pub(crate) kem_pre_key_id: u32,
    pub(crate) kem_ciphertext: KemCiphertext,
    pub(crate) message: Vec<u8>,
}

impl TryFrom<&[u8]> for PreKeyMessage {
    type Error = DecryptError;

    fn try_from(bytes: &[u8]) -> Result<Self, DecryptError> {
        if MessageKind::of(bytes)? != MessageKind::PreKey {
            return Err(DecryptError::Malformed("expected a prekey message"));
        }
        let body = wire::PreKeyMessage::decode(&bytes[1..])
            .map_err(|_| DecryptError::Malformed("prekey message does not decode"))?;
        let base_key = PublicKey::from_wire(&body.base_key)?;
        base_key.require_torsion_free()?;
        Ok(Self {
            identity: IdentityKey::from_wire(&body.identity_key)?,
            base_key,
            signed_pre_key_id: body.signed_pre_key_id,
            one_time_pre_key_id: body.one_time_pre_key_id,
            kem_pre_key_id: body.kem_pre_key_id,
            kem_ciphertext: KemCiphertext::from_wire(&body.kem_ciphertext)?,
            message: body.message,
        })
    }
}

/// Writes `0x11 || header+ciphertext protobuf` into a buffer with room for the tag.
pub(crate) fn encode_ratchet_body(
    ratchet_key: &PublicKey,
    counter: u32,
    previous_counter: u32,
    ciphertext: Vec<u8>,
) -> Vec<u8> {
    let body = wire::RatchetMessage {
        ratchet_key: ratchet_key.encode().to_vec(),
        counter,
        previous_counter,
        ciphertext,
    };
    let mut out = Vec::with_capacity(1 + body.encoded_len() + MAC_LEN);
    out.push(version_byte(RATCHET_MESSAGE_TYPE));
    body.encode_raw(&mut out);
    out
}

/// Wraps a ratchet message into a prekey message.
pub(crate) fn encode_pre_key_message(header: wire::PreKeyMessage) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + header.encoded_len());
    out.push(version_byte(PRE_KEY_MESSAGE_TYPE));
    header.encode_raw(&mut out);
    out
}
