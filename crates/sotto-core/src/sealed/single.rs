//! Sealing to one recipient, in two layers (`docs/protocol.md`, "Sealed sender"):
//!
//! ```text
//!   e fresh; E = e·G; R = recipient's identity X25519 key; S = sender's
//!   outer:  (chain, keys1) = HKDF(DH(e, R), "…SealedSender_Outer" || E || R)
//!           encrypted_static  = seal(keys1, auth = E, S's identity key)
//!   inner:  keys2 = HKDF(salt = chain, DH(S, R), "…SealedSender_Inner" || E || R || encrypted_static)
//!           encrypted_message = seal(keys2, auth = E || encrypted_static, SealedContent)
//! ```
//!
//! Only the holder of `R` opens the outer layer, and only `S` (or `R`) can have made the inner
//! one, so the identity in the outer layer is authenticated; the certificate inside must name
//! that same identity.

use prost::Message as _;
use rand_core::CryptoRng;
use sotto_proto::sealed as wire;
use zeroize::Zeroizing;

use super::layers::{LayerKeys, derive};
use super::{
    CertificateValidator, SEALED_MESSAGE_TYPE, SealedSenderError, SenderCertificate, Unsealed,
    check_content, check_first_byte, decode_content,
};
use crate::address::Address;
use crate::curve::{KeyPair, PublicKey};
use crate::identity::{IdentityKey, IdentityKeyPair};
use crate::labels;
use crate::message::version_byte;

/// What the outer layer derives: the chain key salting the inner layer, and its own keys.
struct Outer {
    chain: Zeroizing<[u8; 32]>,
    keys: LayerKeys,
}

impl Outer {
    fn derive(shared: &[u8], ephemeral: &PublicKey, recipient: &IdentityKey) -> Self {
        let mut okm = Zeroizing::new([0u8; 96]);
        derive(
            None,
            shared,
            labels::SEALED_OUTER,
            &[&ephemeral.encode(), &recipient.encode()],
            okm.as_mut(),
        );
        let mut chain = Zeroizing::new([0u8; 32]);
        chain.copy_from_slice(&okm[..32]);
        let mut keys = Zeroizing::new([0u8; 64]);
        keys.copy_from_slice(&okm[32..]);
        Self {
            chain,
            keys: LayerKeys::from_okm(&keys),
        }
    }
}

fn inner_keys(
    chain: &[u8; 32],
    shared: &[u8],
    ephemeral: &PublicKey,
    recipient: &IdentityKey,
    encrypted_static: &[u8],
) -> LayerKeys {
    LayerKeys::derive(
        Some(chain),
        shared,
        labels::SEALED_INNER,
        &[&ephemeral.encode(), &recipient.encode(), encrypted_static],
    )
}

/// Seals `message` (a Sotto protocol message for `recipient`) so that only `recipient` learns
/// that `sender` sent it. `group_id` is set for group messages.
///
/// # Errors
/// [`SealedSenderError::EphemeralKey`] if a key agreement is degenerate (it cannot be for the
/// validated keys used here; checked anyway).
pub fn seal(
    rng: &mut impl CryptoRng,
    sender: &IdentityKeyPair,
    certificate: &SenderCertificate,
    recipient: &IdentityKey,
    message: &[u8],
    group_id: Option<&[u8]>,
) -> Result<Vec<u8>, SealedSenderError> {
    let ephemeral = KeyPair::generate(rng);
    let outer_shared = ephemeral
        .private
        .agree(recipient.agreement_key())
        .map_err(SealedSenderError::EphemeralKey)?;
    let outer = Outer::derive(outer_shared.as_ref(), &ephemeral.public, recipient);
    let e = ephemeral.public.encode();
    let encrypted_static = outer.keys.seal(&e, &sender.public().encode());
    let inner_shared = sender
        .agreement_key()
        .agree(recipient.agreement_key())
        .map_err(SealedSenderError::EphemeralKey)?;
    let inner = inner_keys(
        &outer.chain,
        inner_shared.as_ref(),
        &ephemeral.public,
        recipient,
        &encrypted_static,
    );
    let content = Zeroizing::new(super::content_bytes(certificate, message, group_id));
    let mut authenticated = e.to_vec();
    authenticated.extend_from_slice(&encrypted_static);
    let encrypted_message = inner.seal(&authenticated, &content);
    let envelope = wire::SealedEnvelope {
        ephemeral_key: e.to_vec(),
        encrypted_static,
        encrypted_message,
    };
    let mut out = vec![version_byte(SEALED_MESSAGE_TYPE)];
    envelope
        .encode(&mut out)
        .map_err(|_| SealedSenderError::Malformed("encoding"))?;
    Ok(out)
}

/// Opens an envelope sealed to `recipient` (our identity), received by our device `us`:
/// both layers, then the certificate, which must be valid, name the identity that sealed the
/// envelope, and not name `us`.
///
/// # Errors
/// Every [`SealedSenderError`]: the envelope is dropped and nothing changes.
pub fn unseal(
    recipient: &IdentityKeyPair,
    us: &Address,
    validator: &CertificateValidator,
    bytes: &[u8],
) -> Result<Unsealed, SealedSenderError> {
    check_first_byte(bytes, SEALED_MESSAGE_TYPE)?;
    let envelope = wire::SealedEnvelope::decode(&bytes[1..])
        .map_err(|_| SealedSenderError::Malformed("not a sealed envelope"))?;
    let ephemeral =
        PublicKey::from_wire(&envelope.ephemeral_key).map_err(SealedSenderError::EphemeralKey)?;
    let outer_shared = recipient
        .agreement_key()
        .agree(&ephemeral)
        .map_err(SealedSenderError::EphemeralKey)?;
    let outer = Outer::derive(outer_shared.as_ref(), &ephemeral, recipient.public());
    let e = ephemeral.encode();
    let sender_identity = outer
        .keys
        .open(&e, &envelope.encrypted_static)
        .ok_or(SealedSenderError::OuterLayer)?;
    let sender_identity =
        IdentityKey::from_wire(&sender_identity).map_err(SealedSenderError::SenderIdentity)?;
    let inner_shared = recipient
        .agreement_key()
        .agree(sender_identity.agreement_key())
        .map_err(SealedSenderError::SenderIdentity)?;
    let inner = inner_keys(
        &outer.chain,
        inner_shared.as_ref(),
        &ephemeral,
        recipient.public(),
        &envelope.encrypted_static,
    );
    let mut authenticated = e.to_vec();
    authenticated.extend_from_slice(&envelope.encrypted_static);
    let content = inner
        .open(&authenticated, &envelope.encrypted_message)
        .ok_or(SealedSenderError::InnerLayer)?;
    check_content(decode_content(&content)?, &sender_identity, us, validator)
}
