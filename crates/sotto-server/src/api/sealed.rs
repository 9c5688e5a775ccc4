//! Sealed sender on the relay: envelopes whose sender it does not learn. Instead of device
//! credentials, a sealed send presents the recipient's access key (`Sotto-Access-Key`), which
//! the recipient gave its contacts inside end-to-end encrypted messages; an account may also
//! accept sealed envelopes from anyone. The relay keeps only the key's SHA-256, compares in
//! constant time, and stores sealed envelopes without a sender.
//!
//! Every refusal of access (unknown or disabled account, no key, wrong key) is the same
//! `401 access_denied`, so a sealed send does not reveal whether an account exists. Checks
//! that say something about the account (rate limit, device lists) come only after access.

use super::auth::AuthenticatedDevice;
use super::directory::Recipient;
use super::error::ApiError;
use super::json::ApiJson;
use super::messages::{ParsedSend, commit, registration_ids, split_request, stale_devices};
use super::{AppState, rate_limit};
use crate::domain::{AccessKeyHash, AccountId};
use crate::metrics::Metrics;
use crate::ratelimit::RateKey;
use crate::relay::ClientAddr;
use crate::store::SendOutcome;
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sotto_proto::api::{SealedSenderSettings, SendRequest, SendResponse};

/// The header carrying the recipient's access key, in standard base64.
pub(crate) const ACCESS_KEY_HEADER: &str = "sotto-access-key";

/// First byte of a sealed envelope: protocol version 1, message type 8.
pub(crate) const SEALED_ENVELOPE_VERSION: u8 = 0x18;

/// `PUT /v1/accounts/sealed-sender`
pub(super) async fn put_settings(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
    ApiJson(settings): ApiJson<SealedSenderSettings>,
) -> Result<StatusCode, ApiError> {
    let hash = AccessKeyHash::of_key(&settings.access_key.0)?;
    state
        .store
        .set_sealed_sender(&me.account, &hash, settings.unrestricted)
        .await?;
    state.directory.forget(&me.account);
    Ok(StatusCode::NO_CONTENT)
}

/// The hash of the access key in the request's header; `None` without the header. A header
/// that is not the base64 of 16 bytes is refused like a wrong key.
fn presented_key(headers: &HeaderMap) -> Result<Option<AccessKeyHash>, ApiError> {
    let Some(value) = headers.get(ACCESS_KEY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .and_then(|text| STANDARD.decode(text.trim()).ok())
        .ok_or(ApiError::AccessDenied)?;
    AccessKeyHash::of_key(&key)
        .map(Some)
        .map_err(|_| ApiError::AccessDenied)
}

/// The recipient, if `presented` grants access to it; `access_denied` otherwise, whatever
/// the reason.
pub(super) async fn admitted(
    state: &AppState,
    account: &AccountId,
    presented: Option<&AccessKeyHash>,
) -> Result<Recipient, ApiError> {
    match state.directory.recipient(account).await? {
        Some(recipient) if recipient.sealed.admits(presented) => Ok(recipient),
        _ => Err(ApiError::AccessDenied),
    }
}

/// `PUT /v1/messages/sealed/{account_id}/{message_id}`
pub(super) async fn send_sealed(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    Path((recipient, message_id)): Path<(String, String)>,
    ApiJson(request): ApiJson<SendRequest>,
) -> Result<Json<SendResponse>, ApiError> {
    // The address is used for this in-memory bucket only: never stored, never logged.
    rate_limit(&state, RateKey::SealedConnection(client.ip())).await?;
    let presented = presented_key(&headers)?;
    let given = registration_ids(&request.envelopes);
    let (lifetime, envelopes) = split_request(request);
    let send = ParsedSend::parse(&state, &recipient, &message_id, envelopes, lifetime)?;
    if send
        .envelopes
        .iter()
        .any(|e| e.content.first() != Some(&SEALED_ENVELOPE_VERSION))
    {
        return Err(ApiError::BadEnvelopes(
            "a sealed send carries only sealed envelopes (first byte 0x18)",
        ));
    }
    let current = admitted(&state, &send.recipient, presented.as_ref()).await?;
    rate_limit(&state, RateKey::SealedAccess(send.recipient.clone())).await?;
    stale_devices(&current, &given)?;
    let outcome = commit(&state, send, None, &current.devices).await?;
    if outcome == SendOutcome::Stored {
        Metrics::inc(&state.metrics.messages_sealed);
    }
    Ok(Json(SendResponse {
        duplicate: outcome == SendOutcome::Duplicate,
    }))
}
