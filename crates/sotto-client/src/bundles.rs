//! Conversions between sotto-core's prekeys and the relay's JSON types.

use sotto_core::bundle::VerifiedPreKeyBundle;
use sotto_core::{KemPreKeyPair, OneTimePreKeyPair, SignedPreKeyPair};
use sotto_proto::api::{self, Base64Bytes};
use sotto_proto::protocol as wire;

use crate::error::ClientError;

pub(crate) fn signed_to_api(key: &SignedPreKeyPair) -> api::SignedPreKey {
    api::SignedPreKey {
        key_id: key.id,
        public_key: Base64Bytes(key.key_pair.public.encode().to_vec()),
        signature: Base64Bytes(key.signature.to_vec()),
    }
}

pub(crate) fn one_time_to_api(key: &OneTimePreKeyPair) -> api::PreKey {
    api::PreKey {
        key_id: key.id,
        public_key: Base64Bytes(key.key_pair.public.encode().to_vec()),
    }
}

pub(crate) fn kem_to_api(key: &KemPreKeyPair) -> api::SignedPreKey {
    api::SignedPreKey {
        key_id: key.id,
        public_key: Base64Bytes(key.key_pair.public.encode()),
        signature: Base64Bytes(key.signature.to_vec()),
    }
}

/// Verifies one device's bundle as the relay handed it out.
pub(crate) fn verify_device_bundle(
    username: &str,
    identity_key: &[u8],
    device: &api::DevicePreKeyBundle,
) -> Result<VerifiedPreKeyBundle, ClientError> {
    let kind = if device.kem_prekey_is_last_resort {
        wire::KemPreKeyKind::LastResort
    } else {
        wire::KemPreKeyKind::OneTime
    };
    let bundle = wire::PreKeyBundle {
        identity_key: identity_key.to_vec(),
        signed_pre_key: Some(wire::SignedPreKey {
            id: device.signed_prekey.key_id,
            public_key: device.signed_prekey.public_key.0.clone(),
            signature: device.signed_prekey.signature.0.clone(),
        }),
        one_time_pre_key: device
            .one_time_prekey
            .as_ref()
            .map(|k| wire::OneTimePreKey {
                id: k.key_id,
                public_key: k.public_key.0.clone(),
            }),
        kem_pre_key: Some(wire::KemPreKey {
            id: device.kem_prekey.key_id,
            kind: kind as i32,
            public_key: device.kem_prekey.public_key.0.clone(),
            signature: device.kem_prekey.signature.0.clone(),
        }),
    };
    VerifiedPreKeyBundle::verify(&bundle).map_err(|source| ClientError::Bundle {
        username: username.to_owned(),
        source,
    })
}
