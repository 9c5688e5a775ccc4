//! Sending: one ciphertext per recipient device, stored once per message id.

use super::auth::AuthenticatedDevice;
use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, now_ms, rate_limit};
use crate::domain::{AccountId, DeviceId, MessageId};
use crate::metrics::Metrics;
use crate::ratelimit::RateKey;
use crate::store::{NewEnvelope, SendOutcome, Submission};
use axum::Json;
use axum::extract::{Path, State};
use sotto_proto::api::{SendRequest, SendResponse};
use std::collections::BTreeSet;

/// Turns the request into envelopes, checking sizes and device ids.
fn envelopes(state: &AppState, request: SendRequest) -> Result<Vec<NewEnvelope>, ApiError> {
    if request.envelopes.is_empty() {
        return Err(ApiError::BadEnvelopes("a send needs at least one envelope"));
    }
    let max = state.policy.limits.max_envelope_bytes;
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(request.envelopes.len());
    for envelope in request.envelopes {
        let device = DeviceId::new(envelope.device_id)?;
        if !seen.insert(device) {
            return Err(ApiError::BadEnvelopes("the same device appears twice"));
        }
        if envelope.content.0.len() > max {
            return Err(ApiError::EnvelopeTooLarge(max));
        }
        if envelope.content.0.is_empty() {
            return Err(ApiError::BadEnvelopes("an envelope has no content"));
        }
        out.push(NewEnvelope {
            device,
            content: envelope.content.0,
        });
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
    let recipient = AccountId::parse(&recipient)?;
    let message_id = MessageId::parse(&message_id)?;
    let envelopes = envelopes(&state, request)?;
    rate_limit(
        &state,
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
        recipient: recipient.clone(),
        message_id,
        sender: Some(me),
        envelopes,
        now_ms: now_ms(),
        ttl_ms: state.policy.limits.ttl_ms(),
        max_queue: state.policy.limits.max_queue,
    };
    let outcome = state.store.store(submission).await?;
    if outcome == SendOutcome::Stored {
        // The store hands the committed envelopes to the delivery bus itself.
        Metrics::inc(&state.metrics.messages_stored);
    } else {
        Metrics::inc(&state.metrics.messages_duplicate);
    }
    Ok(Json(SendResponse {
        duplicate: outcome == SendOutcome::Duplicate,
    }))
}
