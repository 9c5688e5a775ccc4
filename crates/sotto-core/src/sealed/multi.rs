//! Sealing one message to many recipients: a shared part stored once by the relay, and a
//! 48-byte header per recipient account (all devices of an account share its identity).
//!
//! ```text
//!   M = rand[32]; (e, keys) = HKDF(M, "…SealedSender_Multi"); E = e·G
//!   shared    = E, seal(keys, auth = E, SealedContent)
//!   header_i  = C_i || A_i, where
//!     C_i = M xor HKDF(DH(e, R_i), "…Multi_Key" || E || R_i)
//!     A_i = HKDF(DH(S, R_i), "…Multi_Auth" || E || R_i || S || C_i || SHA256(ciphertext))[..16]
//! ```
//!
//! A recipient recovers `M`, checks that it derives `E` (so `M` is the one the content was
//! sealed under), opens the content, and checks `A_i` with the certified identity `S`: another
//! recipient, who also knows `M`, cannot make a header that passes for `S`.

use prost::Message as _;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use sotto_proto::sealed as wire;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::layers::{LayerKeys, derive};
use super::{
    CertificateValidator, SEALED_MULTI_MESSAGE_TYPE, SealedSenderError, SenderCertificate,
    Unsealed, check_content, check_first_byte, decode_content,
};
use crate::address::Address;
use crate::curve::{PrivateKey, PublicKey};
use crate::identity::{IdentityKey, IdentityKeyPair};
use crate::labels;
use crate::message::version_byte;

/// Length of a recipient's header: the encrypted message key and the sender's tag.
pub const RECIPIENT_HEADER_LEN: usize = 32 + AUTH_LEN;
const AUTH_LEN: usize = 16;

/// A message sealed to many recipients.
#[derive(Clone, Debug)]
pub struct MultiSealed {
    shared: Vec<u8>,
    headers: Vec<[u8; RECIPIENT_HEADER_LEN]>,
}

impl MultiSealed {
    /// The part every recipient gets (the relay stores it once).
    pub fn shared(&self) -> &[u8] {
        &self.shared
    }

    /// One header per recipient, in the order the recipients were given.
    pub fn headers(&self) -> &[[u8; RECIPIENT_HEADER_LEN]] {
        &self.headers
    }

    /// The whole envelope for recipient `index`.
    pub fn envelope_for(&self, index: usize) -> Option<Vec<u8>> {
        self.headers
            .get(index)
            .map(|header| multi_envelope(header, &self.shared))
    }
}

/// Assembles a recipient's envelope from its header and the shared part: the protobuf fields
/// concatenate, so this is `0x19 || field 1 (header) || shared`.
pub fn multi_envelope(header: &[u8; RECIPIENT_HEADER_LEN], shared: &[u8]) -> Vec<u8> {
    let field = wire::SealedMultiEnvelope {
        recipient_header: header.to_vec(),
        ..Default::default()
    }
    .encode_to_vec();
    let mut out = Vec::with_capacity(1 + field.len() + shared.len());
    out.push(version_byte(SEALED_MULTI_MESSAGE_TYPE));
    out.extend_from_slice(&field);
    out.extend_from_slice(shared);
    out
}

/// What the message key `M` derives: the ephemeral key and the content's layer keys.
struct MessageKey {
    ephemeral: PrivateKey,
    keys: LayerKeys,
}

impl MessageKey {
    fn derive(m: &[u8; 32]) -> Self {
        let mut okm = Zeroizing::new([0u8; 96]);
        derive(None, m, labels::SEALED_MULTI, &[], okm.as_mut());
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&okm[..32]);
        let mut keys = Zeroizing::new([0u8; 64]);
        keys.copy_from_slice(&okm[32..]);
        Self {
            ephemeral: PrivateKey::from_bytes(*seed),
            keys: LayerKeys::from_okm(&keys),
        }
    }
}

fn key_pad(shared: &[u8], ephemeral: &PublicKey, recipient: &IdentityKey) -> Zeroizing<[u8; 32]> {
    let mut pad = Zeroizing::new([0u8; 32]);
    derive(
        None,
        shared,
        labels::SEALED_MULTI_KEY,
        &[&ephemeral.encode(), &recipient.encode()],
        pad.as_mut(),
    );
    pad
}

fn sender_tag(
    shared: &[u8],
    ephemeral: &PublicKey,
    recipient: &IdentityKey,
    sender: &IdentityKey,
    encrypted_key: &[u8],
    ciphertext: &[u8],
) -> [u8; AUTH_LEN] {
    let digest = Sha256::digest(ciphertext);
    let mut tag = [0u8; AUTH_LEN];
    derive(
        None,
        shared,
        labels::SEALED_MULTI_AUTH,
        &[
            &ephemeral.encode(),
            &recipient.encode(),
            &sender.encode(),
            encrypted_key,
            &digest,
        ],
        &mut tag,
    );
    tag
}

/// Seals `message` once for every identity in `recipients` (one per account).
///
/// # Errors
/// [`SealedSenderError::EphemeralKey`] if a key agreement is degenerate (it cannot be for
/// validated keys; checked anyway).
pub fn seal_for_many(
    rng: &mut impl CryptoRng,
    sender: &IdentityKeyPair,
    certificate: &SenderCertificate,
    recipients: &[IdentityKey],
    message: &[u8],
    group_id: Option<&[u8]>,
) -> Result<MultiSealed, SealedSenderError> {
    let mut m = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(m.as_mut());
    let key = MessageKey::derive(&m);
    let e = key.ephemeral.public_key();
    let content = Zeroizing::new(super::content_bytes(certificate, message, group_id));
    let ciphertext = key.keys.seal(&e.encode(), &content);
    let headers = recipients
        .iter()
        .map(|recipient| header(&key.ephemeral, &m, sender, recipient, &ciphertext))
        .collect::<Result<Vec<_>, _>>()?;
    let shared = wire::SealedMultiEnvelope {
        recipient_header: Vec::new(),
        ephemeral_key: e.encode().to_vec(),
        ciphertext,
    }
    .encode_to_vec();
    Ok(MultiSealed { shared, headers })
}

fn header(
    ephemeral: &PrivateKey,
    m: &[u8; 32],
    sender: &IdentityKeyPair,
    recipient: &IdentityKey,
    ciphertext: &[u8],
) -> Result<[u8; RECIPIENT_HEADER_LEN], SealedSenderError> {
    let e = ephemeral.public_key();
    let to_recipient = ephemeral
        .agree(recipient.agreement_key())
        .map_err(SealedSenderError::EphemeralKey)?;
    let pad = key_pad(to_recipient.as_ref(), &e, recipient);
    let mut out = [0u8; RECIPIENT_HEADER_LEN];
    for (i, byte) in out[..32].iter_mut().enumerate() {
        *byte = m[i] ^ pad[i];
    }
    let from_sender = sender
        .agreement_key()
        .agree(recipient.agreement_key())
        .map_err(SealedSenderError::EphemeralKey)?;
    let tag = sender_tag(
        from_sender.as_ref(),
        &e,
        recipient,
        sender.public(),
        &out[..32],
        ciphertext,
    );
    out[32..].copy_from_slice(&tag);
    Ok(out)
}

/// Opens a multi-recipient envelope as `recipient` (our identity) on our device `us`: recovers
/// the message key, opens the content, checks the sender's tag with the certified identity,
/// then the certificate.
///
/// # Errors
/// Every [`SealedSenderError`]: the envelope is dropped and nothing changes.
pub fn unseal_multi(
    recipient: &IdentityKeyPair,
    us: &Address,
    validator: &CertificateValidator,
    bytes: &[u8],
) -> Result<Unsealed, SealedSenderError> {
    check_first_byte(bytes, SEALED_MULTI_MESSAGE_TYPE)?;
    let envelope = wire::SealedMultiEnvelope::decode(&bytes[1..])
        .map_err(|_| SealedSenderError::Malformed("not a sealed multi-recipient envelope"))?;
    let header: &[u8; RECIPIENT_HEADER_LEN] = envelope
        .recipient_header
        .as_slice()
        .try_into()
        .map_err(|_| SealedSenderError::Malformed("recipient header length"))?;
    let e =
        PublicKey::from_wire(&envelope.ephemeral_key).map_err(SealedSenderError::EphemeralKey)?;
    let m = message_key(recipient, &e, header)?;
    let key = MessageKey::derive(&m);
    if !bool::from(key.ephemeral.public_key().as_bytes().ct_eq(e.as_bytes())) {
        return Err(SealedSenderError::OuterLayer);
    }
    let content = key
        .keys
        .open(&e.encode(), &envelope.ciphertext)
        .ok_or(SealedSenderError::InnerLayer)?;
    let content = decode_content(&content)?;
    let claimed = content.certificate.identity().clone();
    let from_sender = recipient
        .agreement_key()
        .agree(claimed.agreement_key())
        .map_err(SealedSenderError::SenderIdentity)?;
    let expected = sender_tag(
        from_sender.as_ref(),
        &e,
        recipient.public(),
        &claimed,
        &header[..32],
        &envelope.ciphertext,
    );
    if !bool::from(expected.ct_eq(&header[32..])) {
        return Err(SealedSenderError::SenderAuthentication);
    }
    check_content(content, &claimed, us, validator)
}

fn message_key(
    recipient: &IdentityKeyPair,
    e: &PublicKey,
    header: &[u8; RECIPIENT_HEADER_LEN],
) -> Result<Zeroizing<[u8; 32]>, SealedSenderError> {
    let shared = recipient
        .agreement_key()
        .agree(e)
        .map_err(SealedSenderError::EphemeralKey)?;
    let pad = key_pad(shared.as_ref(), e, recipient.public());
    let mut m = Zeroizing::new([0u8; 32]);
    for (i, byte) in m.iter_mut().enumerate() {
        *byte = header[i] ^ pad[i];
    }
    Ok(m)
}
