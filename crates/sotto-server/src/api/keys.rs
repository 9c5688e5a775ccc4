//! Prekey upload, count and bundle fetch.

use super::auth::AuthenticatedDevice;
use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, rate_limit};
use crate::domain::{AccountId, DeviceAddress, DeviceId};
use crate::metrics::Metrics;
use crate::ratelimit::RateKey;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sotto_proto::api::{Base64Bytes, DevicePreKeyBundle, PreKeyBundle, PreKeyCount, PreKeyUpload};

/// Largest accepted public key or signature.
const MAX_KEY_BYTES: usize = 2048;

/// Checks counts and sizes of an upload.
pub(super) fn check_upload(state: &AppState, upload: &PreKeyUpload) -> Result<(), ApiError> {
    let max = state.policy.limits.max_prekeys_per_upload;
    if upload.one_time_prekeys.len() > max || upload.one_time_kem_prekeys.len() > max {
        return Err(ApiError::TooManyPreKeys(max));
    }
    let signed = upload
        .signed_prekey
        .iter()
        .chain(&upload.last_resort_kem_prekey)
        .chain(&upload.one_time_kem_prekeys);
    let blobs = signed
        .flat_map(|k| [&k.public_key, &k.signature])
        .chain(upload.one_time_prekeys.iter().map(|k| &k.public_key));
    for blob in blobs {
        if blob.0.is_empty() || blob.0.len() > MAX_KEY_BYTES {
            return Err(ApiError::MalformedJson(format!(
                "keys and signatures must be 1–{MAX_KEY_BYTES} bytes"
            )));
        }
    }
    Ok(())
}

/// `PUT /v1/keys`
pub(super) async fn upload(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
    ApiJson(upload): ApiJson<PreKeyUpload>,
) -> Result<StatusCode, ApiError> {
    check_upload(&state, &upload)?;
    state.store.store_prekeys(&me, &upload).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/keys/count`
pub(super) async fn count(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
) -> Result<Json<PreKeyCount>, ApiError> {
    let counts = state.store.prekey_counts(&me).await?;
    Ok(Json(PreKeyCount {
        one_time_prekeys: counts.one_time,
        one_time_kem_prekeys: counts.one_time_kem,
    }))
}

/// `GET /v1/keys/{account_id}/{device_id | *}`: takes one-time keys, so rate limited.
pub(super) async fn bundle(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
    Path((account, device)): Path<(String, String)>,
) -> Result<Json<PreKeyBundle>, ApiError> {
    let account = AccountId::parse(&account)?;
    let wanted = match device.as_str() {
        "*" => None,
        id => Some(DeviceId::new(
            id.parse()
                .map_err(|_| crate::domain::InvalidValue::DeviceId)?,
        )?),
    };
    rate_limit(&state, RateKey::BundleFetch(me.account.clone())).await?;
    let target = state
        .store
        .account(&account)
        .await?
        .filter(|a| !a.disabled)
        .ok_or(ApiError::NotFound)?;
    let devices = state.store.devices(&account).await?;
    let mut bundles = Vec::new();
    for device in devices.iter().filter(|d| wanted.is_none_or(|w| w == d.id)) {
        let address = DeviceAddress {
            account: account.clone(),
            device: device.id,
        };
        let Some(taken) = state.store.take_prekeys(&address).await? else {
            continue;
        };
        Metrics::inc(&state.metrics.bundles_served);
        bundles.push(DevicePreKeyBundle {
            device_id: device.id.get(),
            registration_id: device.registration_id,
            signed_prekey: taken.signed_prekey,
            one_time_prekey: taken.one_time,
            kem_prekey: taken.kem,
            kem_prekey_is_last_resort: taken.kem_is_last_resort,
        });
    }
    if bundles.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(PreKeyBundle {
        account_id: account.to_string(),
        identity_key: Base64Bytes(target.identity_key),
        devices: bundles,
    }))
}
