//! Sealed multi-recipient sends: one message sealed to many accounts
//! (`sotto_core::sealed::seal_for_many`), authorised by each recipient's access key, with no
//! sender. The shared part is stored once; each device's queue entry holds its account's
//! 51-byte prefix (version byte and header field), so the device receives exactly
//! `0x19 || field 1 (header) || shared`, the envelope `multi_envelope` builds.
//!
//! One account refused (no access, unknown, disabled) refuses the whole send with
//! `access_denied`, storing nothing; device lists are then checked as for identified
//! multi-recipient sends.

use super::error::ApiError;
use super::json::ApiJson;
use super::multi::{
    MAX_RECIPIENT_ACCOUNTS, check_devices, checked_content, commit_multi, parse_routing,
};
use super::sealed::admitted;
use super::{AppState, now_ms, rate_limit};
use crate::config::Limits;
use crate::domain::{AccessKeyHash, MessageId};
use crate::metrics::Metrics;
use crate::ratelimit::RateKey;
use crate::relay::ClientAddr;
use crate::store::{MultiSubmission, RecipientAccount, SendOutcome};
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use bytes::Bytes;
use sotto_proto::api::{MultiRecipient, SealedMultiSendRequest, SendResponse};

/// Length of a recipient's header: its encrypted message key (32) and the sender's tag (16).
pub(crate) const RECIPIENT_HEADER_LEN: usize = 48;

/// First byte of a sealed multi-recipient envelope: protocol version 1, message type 9.
const SEALED_MULTI_VERSION: u8 = 0x19;

/// Protobuf key of field 1, length-delimited: the recipient header.
const HEADER_FIELD_KEY: u8 = 0x0a;

/// Protobuf key of field 2, length-delimited (the ephemeral key), which the shared part
/// starts with.
const SHARED_FIELD_KEY: u8 = 0x12;

/// Length of a device's own part of the envelope.
pub(crate) const PREFIX_LEN: usize = 3 + RECIPIENT_HEADER_LEN;

/// Largest body of a sealed multi-recipient send: that of an identified one, plus each
/// account's header and access key in base64 with their JSON keys.
pub(crate) fn max_body_bytes(limits: &Limits) -> usize {
    super::multi::max_body_bytes(limits) + 160 * MAX_RECIPIENT_ACCOUNTS
}

/// The bytes a recipient's devices receive before the shared part: the version byte, then
/// the header as protobuf field 1. Fails unless the header is exactly 48 bytes.
pub(crate) fn envelope_prefix(header: &[u8]) -> Result<Bytes, ApiError> {
    if header.len() != RECIPIENT_HEADER_LEN {
        return Err(ApiError::BadEnvelopes(
            "a recipient header must be 48 bytes",
        ));
    }
    let mut prefix = Vec::with_capacity(PREFIX_LEN);
    // 48 < 128: the length is a one-byte varint.
    prefix.extend_from_slice(&[SEALED_MULTI_VERSION, HEADER_FIELD_KEY, 0x30]);
    prefix.extend_from_slice(header);
    Ok(Bytes::from(prefix))
}

/// A recipient entry split into what routing checks, its access key's hash and its prefix.
type Parsed = (MultiRecipient, Option<AccessKeyHash>, Bytes);

fn split_recipient(recipient: sotto_proto::api::SealedMultiRecipient) -> Result<Parsed, ApiError> {
    let prefix = envelope_prefix(&recipient.header.0)?;
    // A key of the wrong length cannot be right: refused like a wrong one.
    let key = recipient
        .access_key
        .map(|key| AccessKeyHash::of_key(&key.0))
        .transpose()
        .map_err(|_| ApiError::AccessDenied)?;
    let routing = MultiRecipient {
        account_id: recipient.account_id,
        devices: recipient.devices,
    };
    Ok((routing, key, prefix))
}

/// `PUT /v1/messages/sealed-multi/{message_id}`
pub(super) async fn send_sealed_multi(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    Path(message_id): Path<String>,
    ApiJson(request): ApiJson<SealedMultiSendRequest>,
) -> Result<Json<SendResponse>, ApiError> {
    // The address is used for this in-memory bucket only: never stored, never logged.
    rate_limit(&state, RateKey::SealedConnection(client.ip())).await?;
    let limits = &state.policy.limits;
    let message_id = MessageId::parse(&message_id)?;
    let shared = checked_content(limits, request.shared.0)?;
    if shared.first() != Some(&SHARED_FIELD_KEY) {
        return Err(ApiError::BadEnvelopes(
            "the shared part must start with protobuf field 2 (no version byte)",
        ));
    }
    let parsed = request
        .recipients
        .into_iter()
        .map(split_recipient)
        .collect::<Result<Vec<_>, _>>()?;
    let (plain, rest): (Vec<_>, Vec<_>) = parsed.into_iter().map(|(r, k, p)| (r, (k, p))).unzip();
    let routing = parse_routing(limits, plain)?;
    for ((account, _), (key, _)) in routing.iter().zip(&rest) {
        admitted(&state, account, key.as_ref()).await?;
    }
    for (account, _) in &routing {
        rate_limit(&state, RateKey::SealedAccess(account.clone())).await?;
    }
    check_devices(&state, None, &routing)
        .await
        .map_err(|e| match e {
            // Disabled since the access check: still no word on which account it was.
            ApiError::UnknownAccounts(_) => ApiError::AccessDenied,
            other => other,
        })?;
    let submission = MultiSubmission {
        message_id,
        sender: None,
        content: shared,
        recipients: routing
            .into_iter()
            .zip(rest)
            .map(|((account, devices), (_, prefix))| RecipientAccount {
                account,
                devices: devices.into_keys().collect(),
                prefix,
            })
            .collect(),
        now_ms: now_ms(),
        ttl_ms: limits.ttl_ms(),
        max_queue: limits.max_queue,
    };
    let outcome = commit_multi(&state, submission).await?;
    if outcome == SendOutcome::Stored {
        Metrics::inc(&state.metrics.messages_sealed);
    }
    Ok(Json(SendResponse {
        duplicate: outcome == SendOutcome::Duplicate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_proto::Message as _;
    use sotto_proto::sealed::SealedMultiEnvelope;

    #[test]
    fn prefix_and_shared_part_make_the_multi_envelope() {
        let header: Vec<u8> = (0..48).collect();
        let prefix = envelope_prefix(&header).unwrap();
        assert_eq!(prefix.len(), PREFIX_LEN);
        assert_eq!(&prefix[..3], &[0x19, 0x0a, 0x30]);
        assert_eq!(&prefix[3..], &header[..]);
        let field = SealedMultiEnvelope {
            recipient_header: header.clone(),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(&prefix[1..], &field[..], "the header is protobuf field 1");
        let shared = SealedMultiEnvelope {
            ephemeral_key: vec![5; 33],
            ciphertext: vec![6; 70],
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(shared[0], SHARED_FIELD_KEY);
        let envelope = [&prefix[..], &shared].concat();
        let decoded = SealedMultiEnvelope::decode(&envelope[1..]).unwrap();
        assert_eq!(decoded.recipient_header, header);
        assert_eq!(decoded.ephemeral_key, [5; 33]);
        assert_eq!(decoded.ciphertext, [6; 70]);
    }

    #[test]
    fn headers_must_be_48_bytes() {
        for len in [0, 47, 49, 64] {
            let err = envelope_prefix(&vec![1; len]).unwrap_err();
            assert!(matches!(err, ApiError::BadEnvelopes(_)), "{err:?}");
        }
    }
}
