//! Registration, device addition and lookup by username.

use super::auth::AuthenticatedDevice;
use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, now_ms};
use crate::config::RegistrationMode;
use crate::domain::{AccountId, SecretHash, Username, token_hash};
use crate::metrics::Metrics;
use crate::ratelimit::RateKey;
use crate::relay::ClientAddr;
use crate::store::{Day, NewAccount, NewDeviceRecord};
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use sotto_proto::api::{
    AccountInfo, Base64Bytes, DeviceInfo, NewDevice, RegisterRequest, RegisterResponse,
};

/// Largest accepted public identity encoding.
const MAX_IDENTITY_BYTES: usize = 256;

/// Checks a new device's request and turns it into what the store keeps.
pub(super) fn device_record(
    state: &AppState,
    device: NewDevice,
) -> Result<NewDeviceRecord, ApiError> {
    let secret_hash = SecretHash::of_secret(&device.auth_secret.0)?;
    super::keys::check_upload(state, &device.prekeys)?;
    if device.prekeys.signed_prekey.is_none() || device.prekeys.last_resort_kem_prekey.is_none() {
        return Err(ApiError::MissingPreKeys);
    }
    if device.registration_id > 0x3FFF {
        return Err(ApiError::MalformedJson(
            "registration_id must fit in 14 bits".into(),
        ));
    }
    Ok(NewDeviceRecord {
        secret_hash,
        registration_id: device.registration_id,
        prekeys: device.prekeys,
    })
}

/// `POST /v1/accounts`
pub(super) async fn register(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    // The address is used for this in-memory bucket only: never stored, never logged.
    super::rate_limit(&state, RateKey::Registration(client.ip())).await?;
    let username = Username::parse(&request.username)?;
    if request.identity_key.0.is_empty() || request.identity_key.0.len() > MAX_IDENTITY_BYTES {
        return Err(ApiError::MalformedJson(format!(
            "identity_key must be 1–{MAX_IDENTITY_BYTES} bytes"
        )));
    }
    let token_hash = match (state.policy.registration, &request.registration_token) {
        (RegistrationMode::Open, _) => None,
        (RegistrationMode::Token, Some(token)) => Some(token_hash(token)),
        (RegistrationMode::Token, None) => return Err(ApiError::InvalidRegistrationToken),
    };
    let id = AccountId::random().map_err(|e| ApiError::Internal(e.to_string()))?;
    let account = NewAccount {
        id: id.clone(),
        username,
        identity_key: request.identity_key.0,
        device: device_record(&state, request.device)?,
        token_hash,
        today: Day::from_unix(now_ms() / 1000),
    };
    state.store.create_account(account).await?;
    Metrics::inc(&state.metrics.registrations);
    let response = RegisterResponse {
        account_id: id.to_string(),
        device_id: 1,
    };
    Ok((StatusCode::CREATED, Json(response)))
}

/// `POST /v1/devices`: an authenticated device adds another device to its account.
pub(super) async fn add_device(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
    ApiJson(device): ApiJson<NewDevice>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    let record = device_record(&state, device)?;
    let today = Day::from_unix(now_ms() / 1000);
    let id = state
        .store
        .add_device(&me.account, record, state.policy.limits.max_devices, today)
        .await?;
    state.directory.forget(&me.account);
    let response = RegisterResponse {
        account_id: me.account.to_string(),
        device_id: id.get(),
    };
    Ok((StatusCode::CREATED, Json(response)))
}

/// `GET /v1/accounts/{username}`
pub(super) async fn lookup(
    State(state): State<AppState>,
    AuthenticatedDevice(_me): AuthenticatedDevice,
    Path(username): Path<String>,
) -> Result<Json<AccountInfo>, ApiError> {
    let username = Username::parse(&username)?;
    let account = state
        .store
        .account_by_username(&username)
        .await?
        .ok_or(ApiError::NotFound)?;
    if account.disabled {
        return Err(ApiError::NotFound);
    }
    let devices = state.store.devices(&account.id).await?;
    Ok(Json(AccountInfo {
        account_id: account.id.to_string(),
        username: account.username.to_string(),
        identity_key: Base64Bytes(account.identity_key),
        devices: devices
            .iter()
            .map(|d| DeviceInfo {
                device_id: d.id.get(),
                registration_id: d.registration_id,
            })
            .collect(),
    }))
}
