//! Prekey bundles: published by a device, fetched from the server, verified before use.

use prost::Message;
use sotto_proto::protocol as wire;

use crate::curve::PublicKey;
use crate::error::{BundleError, KeyError};
use crate::identity::{IdentityKey, IdentityKeyPair};
use crate::kem::KemPublicKey;
use crate::labels;
use crate::prekey::{
    KemPreKeyKind, KemPreKeyPair, OneTimePreKeyPair, SignedPreKeyPair, kem_signed_body,
    signed_pre_key_body,
};

/// A prekey bundle whose keys are valid and whose signatures verify under its identity.
#[derive(Clone, Debug)]
pub struct VerifiedPreKeyBundle {
    /// The responder's identity.
    pub identity: IdentityKey,
    /// Id and key of the signed X25519 prekey.
    pub signed_pre_key: (u32, PublicKey),
    /// Id and key of a one-time X25519 prekey, if the server had one left.
    pub one_time_pre_key: Option<(u32, PublicKey)>,
    /// Id, kind and key of the ML-KEM-1024 prekey.
    pub kem_pre_key: (u32, KemPreKeyKind, KemPublicKey),
}

impl VerifiedPreKeyBundle {
    /// Decodes and verifies a bundle's protobuf bytes.
    ///
    /// # Errors
    /// See [`VerifiedPreKeyBundle::verify`]; also [`BundleError::Malformed`].
    pub fn from_wire(bytes: &[u8]) -> Result<Self, BundleError> {
        let bundle = wire::PreKeyBundle::decode(bytes).map_err(|_| BundleError::Malformed)?;
        Self::verify(&bundle)
    }

    /// Verifies a decoded bundle: every key valid, both signatures strict-valid.
    ///
    /// # Errors
    /// A missing part, an invalid key, a bad signature or an unknown KEM prekey kind.
    pub fn verify(bundle: &wire::PreKeyBundle) -> Result<Self, BundleError> {
        let identity = IdentityKey::from_wire(&bundle.identity_key).map_err(key("identity key"))?;
        let spk = bundle
            .signed_pre_key
            .as_ref()
            .ok_or(BundleError::Missing("signed prekey"))?;
        let signed_pre_key = verify_signed_pre_key(&identity, spk)?;
        let one_time_pre_key = match &bundle.one_time_pre_key {
            Some(otpk) => Some((
                otpk.id,
                PublicKey::from_wire(&otpk.public_key).map_err(key("one-time prekey"))?,
            )),
            None => None,
        };
        let kem = bundle
            .kem_pre_key
            .as_ref()
            .ok_or(BundleError::Missing("ML-KEM prekey"))?;
        let kem_pre_key = verify_kem_pre_key(&identity, kem)?;
        Ok(Self {
            identity,
            signed_pre_key,
            one_time_pre_key,
            kem_pre_key,
        })
    }
}

fn key(field: &'static str) -> impl Fn(KeyError) -> BundleError {
    move |source| BundleError::Key { field, source }
}

fn verify_signed_pre_key(
    identity: &IdentityKey,
    spk: &wire::SignedPreKey,
) -> Result<(u32, PublicKey), BundleError> {
    let public = PublicKey::from_wire(&spk.public_key).map_err(key("signed prekey"))?;
    identity
        .verify(
            labels::SIGNED_PRE_KEY,
            &[&signed_pre_key_body(spk.id, &public)],
            &spk.signature,
        )
        .map_err(key("signed prekey signature"))?;
    Ok((spk.id, public))
}

fn verify_kem_pre_key(
    identity: &IdentityKey,
    kem: &wire::KemPreKey,
) -> Result<(u32, KemPreKeyKind, KemPublicKey), BundleError> {
    let kind = match wire::KemPreKeyKind::try_from(kem.kind) {
        Ok(wire::KemPreKeyKind::OneTime) => KemPreKeyKind::OneTime,
        Ok(wire::KemPreKeyKind::LastResort) => KemPreKeyKind::LastResort,
        _ => return Err(BundleError::UnknownKemKind(kem.kind)),
    };
    // Check the signature before the (costlier) key validation.
    let body = kem_signed_body(kind, kem.id, &kem.public_key);
    identity
        .verify(labels::KEM_PRE_KEY, &[&body], &kem.signature)
        .map_err(key("ML-KEM prekey signature"))?;
    let public = KemPublicKey::from_wire(&kem.public_key).map_err(key("ML-KEM prekey"))?;
    Ok((kem.id, kind, public))
}

/// Builds the bundle a device publishes (the server hands out one one-time key per fetch).
pub fn publish(
    identity: &IdentityKeyPair,
    signed_pre_key: &SignedPreKeyPair,
    one_time_pre_key: Option<&OneTimePreKeyPair>,
    kem_pre_key: &KemPreKeyPair,
) -> wire::PreKeyBundle {
    wire::PreKeyBundle {
        identity_key: identity.public().encode().to_vec(),
        signed_pre_key: Some(signed_pre_key.to_wire()),
        one_time_pre_key: one_time_pre_key.map(OneTimePreKeyPair::to_wire),
        kem_pre_key: Some(kem_pre_key.to_wire()),
    }
}
