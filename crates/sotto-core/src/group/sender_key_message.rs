//! The group (Sender Key) message: one ciphertext for every member, signed by its sender.
//!
//! `0x14 || SenderKeyMessage (protobuf) || HMAC-SHA256 tag (32) || Ed25519 signature (64)`.
//! The tag (keys from the chain, as in 1:1) makes the encryption key-committing; the signature
//! (the sender chain's own signing key) proves which member sent it, since every member can
//! derive the message keys. Both cover the associated data, which binds the group id and the
//! sender's address.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use prost::Message;
use sha2::{Digest, Sha256};
use sotto_proto::group as wire;
use zeroize::Zeroizing;

use super::error::GroupDecryptError;
use super::{GROUP_MESSAGE_TYPE, GroupId, strip_version_byte, version_byte};
use crate::address::Address;
use crate::labels;
use crate::padding;
use crate::ratchet::message_key::{MAC_LEN, MessageKeySeed};

/// Length of the signature that ends every group message.
pub const SIGNATURE_LEN: usize = 64;

/// `SHA-256(label || group id || sender address)`: what every tag and signature covers first.
pub(crate) fn associated_data(group_id: &GroupId, sender: &Address) -> [u8; 32] {
    let mut encoded = Vec::with_capacity(1 + 64 + 4);
    sender.encode_into(&mut encoded);
    Sha256::new()
        .chain_update(labels::GROUP_MESSAGE_AD)
        .chain_update(group_id.as_bytes())
        .chain_update(&encoded)
        .finalize()
        .into()
}

/// The bytes a sender-key signature covers.
fn signed_message(associated_data: &[u8; 32], signed: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(labels::SENDER_KEY_SIGNATURE.len() + 32 + signed.len());
    message.extend_from_slice(labels::SENDER_KEY_SIGNATURE);
    message.extend_from_slice(associated_data);
    message.extend_from_slice(signed);
    message
}

/// Encrypts, tags and signs one group message with the keys of `seed`.
pub(crate) fn seal(
    seed: &MessageKeySeed,
    chain_id: u32,
    associated_data: &[u8; 32],
    signing: &SigningKey,
    plaintext: &[u8],
) -> Vec<u8> {
    let keys = seed.derive_with(labels::GROUP_MESSAGE_KEYS);
    let mut ciphertext = Vec::with_capacity(padding::padded_len(plaintext.len()));
    padding::pad_into(plaintext, &mut ciphertext);
    keys.apply_cipher(&mut ciphertext);
    let body = wire::SenderKeyMessage {
        chain_id,
        iteration: seed.index(),
        ciphertext,
    };
    let mut out = Vec::with_capacity(1 + body.encoded_len() + MAC_LEN + SIGNATURE_LEN);
    out.push(version_byte(GROUP_MESSAGE_TYPE));
    body.encode_raw(&mut out);
    let tag = keys.mac(associated_data, &out);
    out.extend_from_slice(&tag);
    let signature = signing.sign(&signed_message(associated_data, &out));
    out.extend_from_slice(&signature.to_bytes());
    out
}

/// A parsed group message. Nothing in it is authenticated yet.
pub(crate) struct GroupMessage<'a> {
    pub(crate) chain_id: u32,
    pub(crate) iteration: u32,
    ciphertext: Vec<u8>,
    /// Version byte and protobuf: what the tag covers after the associated data.
    authenticated: &'a [u8],
    tag: &'a [u8],
    /// Version byte, protobuf and tag: what the signature covers after the associated data.
    signed: &'a [u8],
    signature: [u8; SIGNATURE_LEN],
}

impl<'a> TryFrom<&'a [u8]> for GroupMessage<'a> {
    type Error = GroupDecryptError;

    fn try_from(bytes: &'a [u8]) -> Result<Self, GroupDecryptError> {
        strip_version_byte(bytes, GROUP_MESSAGE_TYPE)?;
        if bytes.len() < 1 + MAC_LEN + SIGNATURE_LEN {
            return Err(GroupDecryptError::Malformed("truncated group message"));
        }
        let (signed, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        let (authenticated, tag) = signed.split_at(signed.len() - MAC_LEN);
        let body = wire::SenderKeyMessage::decode(&authenticated[1..])
            .map_err(|_| GroupDecryptError::Malformed("group message does not decode"))?;
        if body.ciphertext.is_empty() {
            return Err(GroupDecryptError::Malformed("empty ciphertext"));
        }
        let mut sig = [0; SIGNATURE_LEN];
        sig.copy_from_slice(signature);
        Ok(Self {
            chain_id: body.chain_id,
            iteration: body.iteration,
            ciphertext: body.ciphertext,
            authenticated,
            tag,
            signed,
            signature: sig,
        })
    }
}

impl GroupMessage<'_> {
    /// Strict Ed25519 verification of the sender's signature.
    pub(crate) fn verify_signature(
        &self,
        associated_data: &[u8; 32],
        key: &VerifyingKey,
    ) -> Result<(), GroupDecryptError> {
        key.verify_strict(
            &signed_message(associated_data, self.signed),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| GroupDecryptError::BadSignature)
    }

    /// Checks the tag, then decrypts and unpads.
    pub(crate) fn open(
        &self,
        seed: &MessageKeySeed,
        associated_data: &[u8; 32],
    ) -> Result<Zeroizing<Vec<u8>>, GroupDecryptError> {
        let keys = seed.derive_with(labels::GROUP_MESSAGE_KEYS);
        if !keys.verify(associated_data, self.authenticated, self.tag) {
            return Err(GroupDecryptError::BadMac);
        }
        let mut plaintext = Zeroizing::new(self.ciphertext.clone());
        keys.apply_cipher(&mut plaintext);
        let len = padding::unpadded_len(&plaintext).map_err(|_| GroupDecryptError::BadPadding)?;
        plaintext.truncate(len);
        Ok(plaintext)
    }
}
