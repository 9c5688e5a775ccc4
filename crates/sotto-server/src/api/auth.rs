//! Device authentication: `Authorization: Basic base64("<account_id>.<device_id>:<secret>")`
//! where `<secret>` is the device's 32-byte secret in base64. Checked on every request.

use super::AppState;
use super::error::ApiError;
use crate::domain::{AccountId, DeviceAddress, DeviceId, SecretHash};
use crate::store::Day;
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The device that made the request, after its secret was checked.
#[derive(Debug, Clone)]
pub struct AuthenticatedDevice(pub DeviceAddress);

/// Parses the header into an address and the secret's hash; `None` if malformed.
pub fn parse_credentials(headers: &HeaderMap) -> Option<(DeviceAddress, SecretHash)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, secret) = decoded.split_once(':')?;
    let (account, device) = user.split_once('.')?;
    let address = DeviceAddress {
        account: AccountId::parse(account).ok()?,
        device: DeviceId::new(device.parse().ok()?).ok()?,
    };
    let hash = SecretHash::of_secret(&STANDARD.decode(secret).ok()?).ok()?;
    Some((address, hash))
}

/// Builds the header value for a device (used by clients and tests).
pub fn basic_credentials(device: &DeviceAddress, secret: &[u8]) -> String {
    let user = format!(
        "{}.{}:{}",
        device.account,
        device.device.get(),
        STANDARD.encode(secret)
    );
    format!("Basic {}", STANDARD.encode(user))
}

/// Checks the request's credentials against the store.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<DeviceAddress, ApiError> {
    let (address, presented) = parse_credentials(headers).ok_or(ApiError::Unauthorized)?;
    let stored = state
        .directory
        .credentials(&address)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !stored.secret_hash.matches(&presented) {
        return Err(ApiError::Unauthorized);
    }
    if stored.disabled {
        return Err(ApiError::AccountDisabled);
    }
    let today = Day::from_unix(super::now_ms() / 1000);
    if stored.last_seen != today {
        state.store.touch_device(&address, &today).await?;
        state.directory.seen(
            &address,
            crate::store::DeviceCredentials {
                last_seen: today,
                ..stored
            },
        );
    }
    Ok(address)
}

impl FromRequestParts<AppState> for AuthenticatedDevice {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.headers)
            .await
            .map(AuthenticatedDevice)
    }
}
