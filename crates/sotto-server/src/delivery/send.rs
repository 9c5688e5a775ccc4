//! Sends over a binary delivery WebSocket: the same checks, rate limit and durable commit as
//! `PUT /v1/messages/...`, answered with a [`SendResult`] instead of an HTTP response.

use crate::api::messages::{Lifetime, submit};
use crate::api::{ApiError, AppState};
use crate::domain::DeviceAddress;
use crate::store::SendOutcome;
use sotto_proto::frames::{SendError, SendMessage, SendResult};
use tokio::sync::mpsc;

/// Runs one send on its own task (so a connection's sends share the group commit with every
/// other sender) and hands its result to `results`. If the connection is gone by then, the
/// result is dropped: the message is stored or not exactly as if an HTTP client had hung up.
pub(super) fn spawn(
    state: AppState,
    me: DeviceAddress,
    send: SendMessage,
    results: mpsc::Sender<SendResult>,
) {
    tokio::spawn(async move {
        let request_id = send.request_id;
        let result = match run(&state, me, send).await {
            Ok(outcome) => SendResult {
                request_id,
                duplicate: outcome == SendOutcome::Duplicate,
                error: None,
            },
            Err(error) => SendResult {
                request_id,
                duplicate: false,
                error: Some(send_error(error)),
            },
        };
        let _ = results.send(result).await;
    });
}

async fn run(
    state: &AppState,
    me: DeviceAddress,
    send: SendMessage,
) -> Result<SendOutcome, ApiError> {
    // An HTTP send authenticates every request; here the device authenticated at the upgrade,
    // so only what can change since (disabled account, removed device) is checked again.
    let credentials = state.directory.credentials(&me).await?;
    match credentials {
        None => return Err(ApiError::Unauthorized),
        Some(stored) if stored.disabled => return Err(ApiError::AccountDisabled),
        Some(_) => {}
    }
    let envelopes = send
        .envelopes
        .into_iter()
        .map(|e| (e.device_id, e.content))
        .collect();
    submit(
        state,
        me,
        &send.recipient_account,
        &send.message_id,
        envelopes,
        Lifetime::Queued,
    )
    .await
}

/// The error frame of a failed send: status, code and message as the HTTP answer has them.
fn send_error(error: ApiError) -> SendError {
    let (status, code) = error.status_and_code();
    if let ApiError::Internal(detail) = &error {
        tracing::error!(%detail, "internal error");
    }
    let retry_after_s = match &error {
        ApiError::RateLimited(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            u32::try_from(seconds.max(1)).unwrap_or(u32::MAX)
        }
        _ => 0,
    };
    let (missing_devices, extra_devices) = match &error {
        ApiError::DeviceMismatch { missing, extra } => (missing.clone(), extra.clone()),
        _ => (Vec::new(), Vec::new()),
    };
    SendError {
        status: u32::from(status.as_u16()),
        code: code.to_owned(),
        message: error.to_string(),
        missing_devices,
        extra_devices,
        retry_after_s,
    }
}
