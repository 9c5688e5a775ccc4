//! An account's own devices: listing, removing, and linking a new one with a one-time token.

use super::accounts::device_record;
use super::auth::AuthenticatedDevice;
use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, now_ms};
use crate::domain::{DeviceAddress, DeviceId, token_hash};
use crate::ratelimit::RateKey;
use crate::relay::ClientAddr;
use crate::store::{Day, LinkRequest, StoreError};
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sotto_proto::api::{DeviceList, LinkDeviceRequest, LinkToken, OwnDevice, RegisterResponse};

/// How long a link token and a provisioning channel live.
pub(super) const LINK_LIFETIME_SECS: u64 = 600;

/// 32 random bytes as unpadded base64url.
pub(super) fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn lifetime_ms() -> i64 {
    i64::try_from(LINK_LIFETIME_SECS * 1000).unwrap_or(i64::MAX)
}

/// `GET /v1/devices`
pub(super) async fn list(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
) -> Result<Json<DeviceList>, ApiError> {
    let devices = state.store.devices(&me.account).await?;
    Ok(Json(DeviceList {
        devices: devices
            .into_iter()
            .map(|d| OwnDevice {
                device_id: d.id.get(),
                created_day: d.created.0,
                last_seen_day: d.last_seen.0,
            })
            .collect(),
    }))
}

/// `DELETE /v1/devices/{device_id}`: the device can no longer authenticate, its prekeys and
/// queue are gone, and an open WebSocket of it is closed.
pub(super) async fn remove(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
    Path(device_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let device = device_id
        .parse()
        .map_err(|_| crate::domain::InvalidValue::DeviceId)
        .and_then(DeviceId::new)?;
    if device == me.device {
        return Err(ApiError::CannotRemoveSelf);
    }
    let address = DeviceAddress {
        account: me.account.clone(),
        device,
    };
    state.store.remove_device(&address).await?;
    state.directory.forget(&me.account);
    // A new subscription supersedes the removed device's connection, which then closes.
    drop(state.bus.subscribe(&address));
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/devices/link-token`
pub(super) async fn link_token(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
) -> Result<(StatusCode, Json<LinkToken>), ApiError> {
    let token = random_token()?;
    state
        .store
        .create_link_token(token_hash(&token), &me.account, now_ms() + lifetime_ms())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(LinkToken {
            token,
            expires_in_secs: LINK_LIFETIME_SECS,
        }),
    ))
}

/// `POST /v1/devices/link`: unauthenticated; the link token is the authorisation.
pub(super) async fn link(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    ApiJson(request): ApiJson<LinkDeviceRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    // Shares the registration bucket: both create credentials without an account.
    super::rate_limit(&state, RateKey::Registration(client.ip())).await?;
    let link = LinkRequest {
        token_hash: token_hash(&request.link_token),
        device: device_record(&state, request.device)?,
        max_devices: state.policy.limits.max_devices,
        today: Day::from_unix(now_ms() / 1000),
        now_ms: now_ms(),
    };
    let address = match state.store.link_device(link).await {
        Err(StoreError::InvalidToken) => return Err(ApiError::InvalidLinkToken),
        other => other?,
    };
    state.directory.forget(&address.account);
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            account_id: address.account.to_string(),
            device_id: address.device.get(),
        }),
    ))
}
