//! Sending: one ciphertext per recipient device, stored once per message id.

use super::auth::AuthenticatedDevice;
use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, now_ms, rate_limit};
use crate::domain::{AccountId, DeviceAddress, DeviceId, MessageId};
use crate::metrics::Metrics;
use crate::ratelimit::RateKey;
use crate::store::{NewEnvelope, SendOutcome, Submission};
use axum::Json;
use axum::extract::{Path, State};
use sotto_proto::api::{SendRequest, SendResponse};
use std::collections::BTreeSet;

/// Turns `(device id, ciphertext)` pairs into envelopes, checking sizes and device ids.
fn envelopes(state: &AppState, request: Vec<(u32, Vec<u8>)>) -> Result<Vec<NewEnvelope>, ApiError> {
    if request.is_empty() {
        return Err(ApiError::BadEnvelopes("a send needs at least one envelope"));
    }
    let max = state.policy.limits.max_envelope_bytes;
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(request.len());
    for (device_id, content) in request {
        let device = DeviceId::new(device_id)?;
        if !seen.insert(device) {
            return Err(ApiError::BadEnvelopes("the same device appears twice"));
        }
        if content.len() > max {
            return Err(ApiError::EnvelopeTooLarge(max));
        }
        if content.is_empty() {
            return Err(ApiError::BadEnvelopes("an envelope has no content"));
        }
        out.push(NewEnvelope { device, content });
    }
    Ok(out)
}

/// The exact difference between the devices addressed and the devices that should be.
fn device_mismatch(
    expected: &BTreeSet<DeviceId>,
    addressed: &BTreeSet<DeviceId>,
) -> Option<ApiError> {
    let missing: Vec<u32> = expected.difference(addressed).map(|d| d.get()).collect();
    let extra: Vec<u32> = addressed.difference(expected).map(|d| d.get()).collect();
    (!missing.is_empty() || !extra.is_empty())
        .then_some(ApiError::DeviceMismatch { missing, extra })
}

/// `PUT /v1/messages/{account_id}/{message_id}`
pub(super) async fn send(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
    Path((recipient, message_id)): Path<(String, String)>,
    ApiJson(request): ApiJson<SendRequest>,
) -> Result<Json<SendResponse>, ApiError> {
    check_registration_ids(&state, &recipient, &request.envelopes).await?;
    let lifetime = if request.ephemeral {
        Lifetime::Ephemeral
    } else {
        Lifetime::Queued
    };
    let request = request
        .envelopes
        .into_iter()
        .map(|e| (e.device_id, e.content.0))
        .collect();
    let outcome = submit(&state, me, &recipient, &message_id, request, lifetime).await?;
    Ok(Json(SendResponse {
        duplicate: outcome == SendOutcome::Duplicate,
    }))
}

/// Sesame's stale-device check: an envelope that names the registration id its session was
/// made with fails with `410 stale_devices` if the device now has another one (it was removed
/// and its id given to a newly linked device). Unknown devices are left to the 409 check.
async fn check_registration_ids(
    state: &AppState,
    recipient: &str,
    envelopes: &[sotto_proto::api::OutgoingEnvelope],
) -> Result<(), ApiError> {
    if envelopes.iter().all(|e| e.registration_id.is_none()) {
        return Ok(());
    }
    let account = AccountId::parse(recipient)?;
    let Some(current) = state.directory.recipient(&account).await? else {
        return Ok(());
    };
    let stale: Vec<u32> = envelopes
        .iter()
        .filter_map(|e| {
            let device = DeviceId::new(e.device_id).ok()?;
            let now = current.registration_ids.get(&device)?;
            (e.registration_id? != *now).then_some(e.device_id)
        })
        .collect();
    if stale.is_empty() {
        Ok(())
    } else {
        Err(ApiError::StaleDevices(stale))
    }
}

/// How long the relay keeps an envelope no device has taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lifetime {
    /// The configured queue lifetime (30 days by default).
    Queued,
    /// A few seconds: typing indicators are worthless later.
    Ephemeral,
}

/// How long an ephemeral envelope waits for a device.
pub(crate) const EPHEMERAL_TTL_MS: i64 = 5_000;

/// Stores a message from `me` for `recipient`: the checks, rate limit and durable commit of a
/// send, shared by the HTTP `PUT` and sends over the delivery WebSocket. Answers only after
/// the commit; every failure is the error the HTTP request returns.
pub(crate) async fn submit(
    state: &AppState,
    me: DeviceAddress,
    recipient: &str,
    message_id: &str,
    request: Vec<(u32, Vec<u8>)>,
    lifetime: Lifetime,
) -> Result<SendOutcome, ApiError> {
    let recipient = AccountId::parse(recipient)?;
    let message_id = MessageId::parse(message_id)?;
    let envelopes = envelopes(state, request)?;
    rate_limit(
        state,
        RateKey::Message {
            sender: me.account.clone(),
            recipient: recipient.clone(),
        },
    )
    .await?;
    let mut expected = state
        .directory
        .recipient(&recipient)
        .await?
        .ok_or(ApiError::NotFound)?
        .devices;
    if recipient == me.account {
        // Copies to one's own other devices never include the sending device.
        expected.remove(&me.device);
    }
    let addressed: BTreeSet<DeviceId> = envelopes.iter().map(|e| e.device).collect();
    if let Some(mismatch) = device_mismatch(&expected, &addressed) {
        return Err(mismatch);
    }
    let submission = Submission {
        recipient,
        message_id,
        sender: Some(me),
        envelopes,
        now_ms: now_ms(),
        ttl_ms: match lifetime {
            Lifetime::Queued => state.policy.limits.ttl_ms(),
            Lifetime::Ephemeral => EPHEMERAL_TTL_MS,
        },
        max_queue: state.policy.limits.max_queue,
    };
    let outcome = state.store.store(submission).await?;
    if outcome == SendOutcome::Stored {
        // The store hands the committed envelopes to the delivery bus itself.
        Metrics::inc(&state.metrics.messages_stored);
    } else {
        Metrics::inc(&state.metrics.messages_duplicate);
    }
    Ok(outcome)
}
