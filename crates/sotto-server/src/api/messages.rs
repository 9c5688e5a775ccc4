//! Sending: one ciphertext per recipient device, stored once per message id.

use super::auth::AuthenticatedDevice;
use super::directory::Recipient;
use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, now_ms, rate_limit};
use crate::domain::{AccountId, DeviceAddress, DeviceId, MessageId};
use crate::metrics::Metrics;
use crate::ratelimit::RateKey;
use crate::store::{NewEnvelope, SendOutcome, Submission};
use axum::Json;
use axum::extract::{Path, State};
use sotto_proto::api::{OutgoingEnvelope, SendRequest, SendResponse};
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
    let (lifetime, request) = split_request(request);
    let outcome = submit(&state, me, &recipient, &message_id, request, lifetime).await?;
    Ok(Json(SendResponse {
        duplicate: outcome == SendOutcome::Duplicate,
    }))
}

/// A send request's lifetime and its `(device id, ciphertext)` pairs.
pub(super) fn split_request(request: SendRequest) -> (Lifetime, Vec<(u32, Vec<u8>)>) {
    let lifetime = if request.ephemeral {
        Lifetime::Ephemeral
    } else {
        Lifetime::Queued
    };
    let envelopes = request
        .envelopes
        .into_iter()
        .map(|e| (e.device_id, e.content.0))
        .collect();
    (lifetime, envelopes)
}

/// Sesame's stale-device check: an envelope that names the registration id its session was
/// made with fails with `410 stale_devices` if the device now has another one (it was removed
/// and its id given to a newly linked device). Unknown devices are left to the 409 check.
async fn check_registration_ids(
    state: &AppState,
    recipient: &str,
    envelopes: &[OutgoingEnvelope],
) -> Result<(), ApiError> {
    if envelopes.iter().all(|e| e.registration_id.is_none()) {
        return Ok(());
    }
    let account = AccountId::parse(recipient)?;
    match state.directory.recipient(&account).await? {
        Some(current) => stale_devices(&current, &registration_ids(envelopes)),
        None => Ok(()),
    }
}

/// Each envelope's device id and the registration id the sender gave for it.
pub(super) fn registration_ids(envelopes: &[OutgoingEnvelope]) -> Vec<(u32, Option<u32>)> {
    envelopes
        .iter()
        .map(|e| (e.device_id, e.registration_id))
        .collect()
}

/// The registration-id half of [`check_registration_ids`], on a recipient already looked up.
pub(super) fn stale_devices(
    current: &Recipient,
    given: &[(u32, Option<u32>)],
) -> Result<(), ApiError> {
    let stale: Vec<u32> = given
        .iter()
        .filter_map(|&(device_id, registration_id)| {
            let device = DeviceId::new(device_id).ok()?;
            let now = current.registration_ids.get(&device)?;
            (registration_id? != *now).then_some(device_id)
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

/// A send whose ids and envelopes are well-formed, not yet checked against the recipient.
pub(crate) struct ParsedSend {
    /// Recipient account.
    pub recipient: AccountId,
    /// Client-chosen idempotency key.
    pub message_id: MessageId,
    /// One ciphertext per addressed device.
    pub envelopes: Vec<NewEnvelope>,
    /// How long to keep them.
    pub lifetime: Lifetime,
}

impl ParsedSend {
    /// Parses the path's ids and the envelopes (sizes, device ids, no repeats).
    pub(crate) fn parse(
        state: &AppState,
        recipient: &str,
        message_id: &str,
        request: Vec<(u32, Vec<u8>)>,
        lifetime: Lifetime,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            recipient: AccountId::parse(recipient)?,
            message_id: MessageId::parse(message_id)?,
            envelopes: envelopes(state, request)?,
            lifetime,
        })
    }
}

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
    let send = ParsedSend::parse(state, recipient, message_id, request, lifetime)?;
    rate_limit(
        state,
        RateKey::Message {
            sender: me.account.clone(),
            recipient: send.recipient.clone(),
        },
    )
    .await?;
    let mut expected = state
        .directory
        .recipient(&send.recipient)
        .await?
        .ok_or(ApiError::NotFound)?
        .devices;
    if send.recipient == me.account {
        // Copies to one's own other devices never include the sending device.
        expected.remove(&me.device);
    }
    commit(state, send, Some(me), &expected).await
}

/// The end of every single send, identified or sealed: the addressed devices must be exactly
/// `expected` (else `409 device_mismatch`), then the envelopes are stored durably, with
/// `sender` (`None` for sealed sends), once per message id.
pub(crate) async fn commit(
    state: &AppState,
    send: ParsedSend,
    sender: Option<DeviceAddress>,
    expected: &BTreeSet<DeviceId>,
) -> Result<SendOutcome, ApiError> {
    let addressed: BTreeSet<DeviceId> = send.envelopes.iter().map(|e| e.device).collect();
    if let Some(mismatch) = device_mismatch(expected, &addressed) {
        return Err(mismatch);
    }
    let submission = Submission {
        recipient: send.recipient,
        message_id: send.message_id,
        sender,
        envelopes: send.envelopes,
        now_ms: now_ms(),
        ttl_ms: match send.lifetime {
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
