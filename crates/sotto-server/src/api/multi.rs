//! Multi-recipient sends: one ciphertext (a Sender Key group message) for every device of
//! several accounts, stored once. Each account's device list is checked as a single send
//! checks it, plus the registration ids; every account pays one message token, as if the
//! sender had written to it alone.

use super::auth::AuthenticatedDevice;
use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, now_ms, rate_limit};
use crate::config::Limits;
use crate::domain::{AccountId, DeviceAddress, DeviceId, MessageId};
use crate::metrics::Metrics;
use crate::ratelimit::RateKey;
use crate::store::{MultiSubmission, RecipientAccount, SendOutcome};
use axum::Json;
use axum::extract::{Path, State};
use bytes::Bytes;
use sotto_proto::api::{AccountDeviceMismatch, MultiRecipient, MultiSendRequest, SendResponse};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Most accounts' worth of devices one multi-recipient send may address: with the default
/// 6 devices per account, 6,000 devices.
pub(super) const MAX_RECIPIENT_ACCOUNTS: usize = 1_000;

/// Most devices one multi-recipient send may address.
pub(crate) fn max_recipient_devices(limits: &Limits) -> usize {
    MAX_RECIPIENT_ACCOUNTS * limits.max_devices as usize
}

/// Largest body of a multi-recipient send: the ciphertext in base64, and per device at most
/// ~52 bytes of JSON for its ids plus ~48 for its account's entry (when every account has one
/// device), with slack for whitespace.
pub(crate) fn max_body_bytes(limits: &Limits) -> usize {
    limits.max_envelope_bytes.div_ceil(3) * 4 + 112 * max_recipient_devices(limits) + 64 * 1024
}

/// A recipient account's devices and the registration id the sender gave for each.
pub(super) type Routing = Vec<(AccountId, BTreeMap<DeviceId, Option<u32>>)>;

/// `PUT /v1/messages/multi/{message_id}`
pub(super) async fn send_multi(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
    Path(message_id): Path<String>,
    ApiJson(request): ApiJson<MultiSendRequest>,
) -> Result<Json<SendResponse>, ApiError> {
    let outcome = submit_multi(&state, me, &message_id, request).await?;
    Ok(Json(SendResponse {
        duplicate: outcome == SendOutcome::Duplicate,
    }))
}

/// Checks, rate-limits and durably stores a multi-recipient send from `me`.
pub(crate) async fn submit_multi(
    state: &AppState,
    me: DeviceAddress,
    message_id: &str,
    request: MultiSendRequest,
) -> Result<SendOutcome, ApiError> {
    let message_id = MessageId::parse(message_id)?;
    let content = checked_content(&state.policy.limits, request.content.0)?;
    let routing = parse_routing(&state.policy.limits, request.recipients)?;
    for (account, _) in &routing {
        let key = RateKey::Message {
            sender: me.account.clone(),
            recipient: account.clone(),
        };
        rate_limit(state, key).await?;
    }
    check_devices(state, Some(&me), &routing).await?;
    let submission = MultiSubmission {
        message_id,
        sender: Some(me),
        content,
        recipients: routing
            .into_iter()
            .map(|(account, devices)| RecipientAccount {
                account,
                devices: devices.into_keys().collect(),
                prefix: Bytes::new(),
            })
            .collect(),
        now_ms: now_ms(),
        ttl_ms: state.policy.limits.ttl_ms(),
        max_queue: state.policy.limits.max_queue,
    };
    commit_multi(state, submission).await
}

/// Stores a checked multi-recipient send durably (identified or sealed) and counts it.
pub(super) async fn commit_multi(
    state: &AppState,
    submission: MultiSubmission,
) -> Result<SendOutcome, ApiError> {
    let outcome = state.store.store_multi(submission).await?;
    if outcome == SendOutcome::Stored {
        Metrics::inc(&state.metrics.messages_stored);
    } else {
        Metrics::inc(&state.metrics.messages_duplicate);
    }
    Ok(outcome)
}

pub(super) fn checked_content(limits: &Limits, content: Vec<u8>) -> Result<Bytes, ApiError> {
    if content.is_empty() {
        return Err(ApiError::BadEnvelopes("the content is empty"));
    }
    if content.len() > limits.max_envelope_bytes {
        return Err(ApiError::EnvelopeTooLarge(limits.max_envelope_bytes));
    }
    Ok(Bytes::from(content))
}

/// Parses the recipient list: at least one account, each once with at least one device, each
/// device once, and no more devices in all than [`max_recipient_devices`].
pub(super) fn parse_routing(
    limits: &Limits,
    recipients: Vec<MultiRecipient>,
) -> Result<Routing, ApiError> {
    if recipients.is_empty() {
        return Err(ApiError::BadEnvelopes(
            "a multi-recipient send needs at least one recipient",
        ));
    }
    let max = max_recipient_devices(limits);
    let total: usize = recipients.iter().map(|r| r.devices.len()).sum();
    if total > max {
        return Err(ApiError::TooManyRecipients(max));
    }
    let mut accounts = HashSet::with_capacity(recipients.len());
    let mut routing = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        let account = AccountId::parse(&recipient.account_id)?;
        if !accounts.insert(account.clone()) {
            return Err(ApiError::BadEnvelopes("the same account appears twice"));
        }
        if recipient.devices.is_empty() {
            return Err(ApiError::BadEnvelopes("a recipient account has no devices"));
        }
        let mut devices = BTreeMap::new();
        for device in recipient.devices {
            let id = DeviceId::new(device.device_id)?;
            if devices.insert(id, device.registration_id).is_some() {
                return Err(ApiError::BadEnvelopes("the same device appears twice"));
            }
        }
        routing.push((account, devices));
    }
    Ok(routing)
}

/// Compares every account's listed devices with its current ones: unknown (or disabled)
/// accounts fail with `not_found`, stale lists with one `device_mismatch` naming them all.
/// `me` is the sending device, left out of its own account's list (`None` for sealed sends).
pub(super) async fn check_devices(
    state: &AppState,
    me: Option<&DeviceAddress>,
    routing: &Routing,
) -> Result<(), ApiError> {
    let mut unknown = Vec::new();
    let mut mismatches = Vec::new();
    for (account, listed) in routing {
        let Some(recipient) = state.directory.recipient(account).await? else {
            unknown.push(account.as_str().to_owned());
            continue;
        };
        let mut expected = recipient.devices;
        if let Some(me) = me.filter(|me| me.account == *account) {
            // Copies to one's own other devices never include the sending device.
            expected.remove(&me.device);
        }
        if let Some(mismatch) =
            account_mismatch(account, &expected, &recipient.registration_ids, listed)
        {
            mismatches.push(mismatch);
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::UnknownAccounts(unknown));
    }
    if !mismatches.is_empty() {
        return Err(ApiError::AccountsMismatch(mismatches));
    }
    Ok(())
}

/// How `listed` differs from the account's `expected` devices, if it does.
fn account_mismatch(
    account: &AccountId,
    expected: &BTreeSet<DeviceId>,
    registration_ids: &BTreeMap<DeviceId, u32>,
    listed: &BTreeMap<DeviceId, Option<u32>>,
) -> Option<AccountDeviceMismatch> {
    let addressed: BTreeSet<DeviceId> = listed.keys().copied().collect();
    let missing: Vec<u32> = expected.difference(&addressed).map(|d| d.get()).collect();
    let extra: Vec<u32> = addressed.difference(expected).map(|d| d.get()).collect();
    let stale: Vec<u32> = listed
        .iter()
        .filter_map(|(device, given)| given.map(|given| (device, given)))
        .filter(|(device, given)| {
            expected.contains(*device) && registration_ids.get(*device) != Some(given)
        })
        .map(|(device, _)| device.get())
        .collect();
    (!missing.is_empty() || !extra.is_empty() || !stale.is_empty()).then(|| AccountDeviceMismatch {
        account_id: account.as_str().to_owned(),
        missing_devices: missing,
        extra_devices: extra,
        stale_devices: stale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_proto::api::RecipientDevice;

    fn account(n: u8) -> String {
        format!("{n:032x}")
    }

    fn recipient(n: u8, devices: &[u32]) -> MultiRecipient {
        MultiRecipient {
            account_id: account(n),
            devices: devices
                .iter()
                .map(|&device_id| RecipientDevice {
                    device_id,
                    registration_id: Some(7),
                })
                .collect(),
        }
    }

    #[test]
    fn routing_rejects_repeats_and_empty_lists() {
        let limits = Limits::default();
        assert!(parse_routing(&limits, vec![recipient(1, &[1, 2]), recipient(2, &[1])]).is_ok());
        let cases = [
            vec![],
            vec![recipient(1, &[1]), recipient(1, &[2])],
            vec![recipient(1, &[])],
            vec![recipient(1, &[1, 1])],
        ];
        for case in cases {
            let err = parse_routing(&limits, case).unwrap_err();
            assert!(matches!(err, ApiError::BadEnvelopes(_)), "{err:?}");
        }
    }

    #[test]
    fn routing_counts_devices_against_the_limit() {
        let limits = Limits {
            max_devices: 1,
            ..Limits::default()
        };
        let fits: Vec<_> = (0..250).map(|n| recipient(n, &[1, 2, 3, 4])).collect();
        assert!(parse_routing(&limits, fits).is_ok());
        let over: Vec<_> = (0..=250).map(|n| recipient(n, &[1, 2, 3, 4])).collect();
        let err = parse_routing(&limits, over).unwrap_err();
        assert!(matches!(err, ApiError::TooManyRecipients(1_000)), "{err:?}");
    }

    #[test]
    fn a_mismatch_names_missing_extra_and_stale_devices() {
        let id = AccountId::parse(&account(1)).unwrap();
        let d = |n| DeviceId::new(n).unwrap();
        let expected: BTreeSet<_> = [d(1), d(2), d(3)].into();
        let registered: BTreeMap<_, _> = [(d(1), 10), (d(2), 20), (d(3), 30)].into();
        let listed: BTreeMap<_, _> = [(d(1), Some(10)), (d(2), Some(21)), (d(4), Some(40))].into();
        let mismatch = account_mismatch(&id, &expected, &registered, &listed).unwrap();
        assert_eq!(mismatch.missing_devices, [3]);
        assert_eq!(mismatch.extra_devices, [4]);
        assert_eq!(mismatch.stale_devices, [2]);
        let exact: BTreeMap<_, _> = registered.iter().map(|(&k, &v)| (k, Some(v))).collect();
        assert!(account_mismatch(&id, &expected, &registered, &exact).is_none());
        // A device quoted without a registration id is never stale.
        let unquoted: BTreeMap<_, _> = [(d(1), None), (d(2), None), (d(3), Some(30))].into();
        assert!(account_mismatch(&id, &expected, &registered, &unquoted).is_none());
    }
}
