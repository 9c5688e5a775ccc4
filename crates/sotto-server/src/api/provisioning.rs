//! Provisioning channels: a new device opens one and polls it; an existing device of the
//! account puts one end-to-end encrypted message in it. The relay only ever holds ciphertext.

use super::auth::AuthenticatedDevice;
use super::devices::{LINK_LIFETIME_SECS, random_token};
use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, now_ms};
use crate::domain::SecretHash;
use crate::ratelimit::RateKey;
use crate::relay::ClientAddr;
use crate::store::ChannelContents;
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sotto_proto::api::{Base64Bytes, ProvisioningChannel, ProvisioningEnvelope};

/// The largest provisioning message the relay keeps.
pub const MAX_PROVISIONING_BYTES: usize = 64 * 1024;
/// Longest channel id accepted in a path (ours are 43 characters).
const MAX_CHANNEL_ID: usize = 64;

fn channel_id(raw: &str) -> Result<&str, ApiError> {
    let valid = !raw.is_empty()
        && raw.len() <= MAX_CHANNEL_ID
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(raw)
    } else {
        Err(ApiError::NotFound)
    }
}

/// The reader's secret from `Authorization: Bearer <base64>`.
fn reader_secret(headers: &HeaderMap) -> Result<SecretHash, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let secret = STANDARD
        .decode(value.trim())
        .map_err(|_| ApiError::Unauthorized)?;
    SecretHash::of_secret(&secret).map_err(|_| ApiError::Unauthorized)
}

/// `POST /v1/provisioning`: unauthenticated, rate limited per client address.
pub(super) async fn open(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
) -> Result<(StatusCode, Json<ProvisioningChannel>), ApiError> {
    super::rate_limit(&state, RateKey::Registration(client.ip())).await?;
    let id = random_token()?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| ApiError::Internal(e.to_string()))?;
    let hash = SecretHash::of_secret(&secret)?;
    let now = now_ms();
    let expires = now + i64::try_from(LINK_LIFETIME_SECS * 1000).unwrap_or(i64::MAX);
    state.store.open_channel(&id, &hash, expires, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(ProvisioningChannel {
            channel_id: id,
            secret: Base64Bytes(secret.to_vec()),
            expires_in_secs: LINK_LIFETIME_SECS,
        }),
    ))
}

/// `PUT /v1/provisioning/{channel_id}`: an authenticated device delivers the message.
pub(super) async fn fill(
    State(state): State<AppState>,
    AuthenticatedDevice(_me): AuthenticatedDevice,
    Path(id): Path<String>,
    ApiJson(envelope): ApiJson<ProvisioningEnvelope>,
) -> Result<StatusCode, ApiError> {
    let id = channel_id(&id)?;
    if envelope.message.0.len() > MAX_PROVISIONING_BYTES {
        return Err(ApiError::ProvisioningTooLarge(MAX_PROVISIONING_BYTES));
    }
    if envelope.message.0.is_empty() {
        return Err(ApiError::MalformedJson("message must not be empty".into()));
    }
    state
        .store
        .fill_channel(id, &envelope.message.0, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/provisioning/{channel_id}`: 204 while empty, else the message (once).
pub(super) async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = channel_id(&id)?;
    let secret = reader_secret(&headers)?;
    match state.store.read_channel(id, &secret, now_ms()).await? {
        ChannelContents::Empty => Ok(StatusCode::NO_CONTENT.into_response()),
        ChannelContents::Message(message) => Ok(Json(ProvisioningEnvelope {
            message: Base64Bytes(message),
        })
        .into_response()),
    }
}
