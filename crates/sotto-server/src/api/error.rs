//! Every error the API returns, mapped to an HTTP status and a stable code in one place.

use crate::domain::InvalidValue;
use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sotto_proto::api::{AccountDeviceMismatch, ErrorBody};
use std::time::Duration;

/// A failed request. The variants' codes are part of the API (see `docs/server.md`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not the JSON this endpoint expects.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// A binary field is not valid base64.
    #[error("{0}")]
    InvalidBase64(String),
    /// A value in the path or body is out of range.
    #[error(transparent)]
    InvalidValue(#[from] InvalidValue),
    /// A registration or new device lacks its signed prekey or last-resort KEM prekey.
    #[error("a device needs a signed prekey and a last-resort KEM prekey")]
    MissingPreKeys,
    /// More prekeys of one kind than allowed in one upload.
    #[error("at most {0} prekeys of each kind per upload")]
    TooManyPreKeys(usize),
    /// A send with no envelopes or the same device twice.
    #[error("{0}")]
    BadEnvelopes(&'static str),
    /// No or wrong credentials.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// A sealed send without access to (one of) its recipients: unknown or disabled account,
    /// no access key or a wrong one. One error for all, so existence is not revealed.
    #[error("sealed sending to this recipient is not allowed with the access key given")]
    AccessDenied,
    /// The account was disabled by the operator.
    #[error("this account is disabled")]
    AccountDisabled,
    /// Token mode and no valid token.
    #[error("registration requires a valid registration token")]
    InvalidRegistrationToken,
    /// No such account, device, or no device with prekeys.
    #[error("not found")]
    NotFound,
    /// No such route.
    #[error("no such endpoint")]
    UnknownRoute,
    /// A path under an API version this server does not speak.
    #[error("unsupported API version; this server speaks /v1")]
    UnsupportedApiVersion,
    /// The route exists but not with this method.
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// The username is registered already.
    #[error("username already taken")]
    UsernameTaken,
    /// The account already has the maximum number of devices.
    #[error("the account already has the maximum number of devices")]
    TooManyDevices,
    /// The sender's view of the recipient's devices is stale.
    #[error("device list mismatch")]
    DeviceMismatch {
        /// Devices the sender must add.
        missing: Vec<u32>,
        /// Devices the sender must drop.
        extra: Vec<u32>,
    },
    /// Devices addressed with a registration id they no longer have (re-linked devices).
    #[error("stale devices: their registration ids changed")]
    StaleDevices(Vec<u32>),
    /// A link token that is unknown, used or expired.
    #[error("the link token is invalid, used or expired; approve the new device again")]
    InvalidLinkToken,
    /// A provisioning channel already holds its message.
    #[error("this provisioning channel already holds a message")]
    ChannelFilled,
    /// A device tried to remove itself.
    #[error("a device cannot remove itself; remove it from another device of the account")]
    CannotRemoveSelf,
    /// A provisioning message larger than allowed.
    #[error("provisioning message larger than {0} bytes")]
    ProvisioningTooLarge(usize),
    /// Some accounts of a multi-recipient send have a stale device list.
    #[error("device list mismatch for {} recipient account(s)", .0.len())]
    AccountsMismatch(Vec<AccountDeviceMismatch>),
    /// Some accounts of a multi-recipient send do not exist or are disabled.
    #[error("{} recipient account(s) not found", .0.len())]
    UnknownAccounts(Vec<String>),
    /// A multi-recipient send addresses more devices than allowed.
    #[error("a multi-recipient send may address at most {0} devices")]
    TooManyRecipients(usize),
    /// One envelope is larger than allowed.
    #[error("envelope larger than {0} bytes")]
    EnvelopeTooLarge(usize),
    /// The request body is larger than allowed.
    #[error("request body too large")]
    BodyTooLarge,
    /// The `frames` query parameter of the WebSocket is neither `json` nor `binary`.
    #[error("unknown frame format; use frames=json or frames=binary")]
    InvalidFrameFormat,
    /// A WebSocket endpoint was requested without an upgrade.
    #[error("this endpoint needs a WebSocket upgrade")]
    WebSocketRequired,
    /// A rate limit was hit.
    #[error("rate limited; retry after {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    /// The recipient device's mailbox is full.
    #[error("the recipient's mailbox is full")]
    MailboxFull,
    /// This relay stores no attachments.
    #[error("this relay does not store attachments")]
    AttachmentsDisabled,
    /// An attachment larger than allowed, or bytes past its announced size.
    #[error("attachment larger than {0} bytes")]
    AttachmentTooLarge(u64),
    /// The account's attachments would exceed its quota.
    #[error("attachment quota exceeded; wait for older attachments to expire")]
    AttachmentQuotaExceeded,
    /// A `PATCH` without a valid `Upload-Offset` header.
    #[error("an upload needs an Upload-Offset header with the offset to append at")]
    MissingUploadOffset,
    /// The upload's offset is not the one the client sent (the answer carries it).
    #[error("the upload continues at offset {0}")]
    OffsetMismatch(u64),
    /// Another request is appending to this upload right now.
    #[error("another request is uploading this attachment; retry when it ends")]
    UploadInProgress,
    /// The request body ended early; the bytes received are kept.
    #[error("the upload was interrupted; resume at the offset GET .../upload reports")]
    UploadInterrupted,
    /// A `Range` this endpoint does not serve (the answer carries the blob size).
    #[error("only Range: bytes=N- with N below the size ({0}) is supported")]
    RangeNotSatisfiable(u64),
    /// This relay issues no sender certificates.
    #[error("this relay does not issue sender certificates")]
    SealedSenderUnavailable,
    /// Our fault; the detail is logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// HTTP status and stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use ApiError::*;
        match self {
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            InvalidBase64(_) => (StatusCode::BAD_REQUEST, "invalid_base64"),
            InvalidValue(v) => (StatusCode::BAD_REQUEST, invalid_value_code(v)),
            MissingPreKeys => (StatusCode::BAD_REQUEST, "missing_prekeys"),
            TooManyPreKeys(_) => (StatusCode::BAD_REQUEST, "too_many_prekeys"),
            BadEnvelopes(_) => (StatusCode::BAD_REQUEST, "invalid_envelopes"),
            WebSocketRequired => (StatusCode::BAD_REQUEST, "websocket_required"),
            InvalidFrameFormat => (StatusCode::BAD_REQUEST, "invalid_frame_format"),
            Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AccessDenied => (StatusCode::UNAUTHORIZED, "access_denied"),
            AccountDisabled => (StatusCode::FORBIDDEN, "account_disabled"),
            InvalidRegistrationToken => (StatusCode::FORBIDDEN, "invalid_registration_token"),
            NotFound => (StatusCode::NOT_FOUND, "not_found"),
            UnknownRoute => (StatusCode::NOT_FOUND, "unknown_route"),
            UnsupportedApiVersion => (StatusCode::NOT_FOUND, "unsupported_api_version"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            UsernameTaken => (StatusCode::CONFLICT, "username_taken"),
            TooManyDevices => (StatusCode::CONFLICT, "too_many_devices"),
            DeviceMismatch { .. } | AccountsMismatch(_) => {
                (StatusCode::CONFLICT, "device_mismatch")
            }
            UnknownAccounts(_) => (StatusCode::NOT_FOUND, "not_found"),
            TooManyRecipients(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_many_recipients"),
            StaleDevices(_) => (StatusCode::GONE, "stale_devices"),
            InvalidLinkToken => (StatusCode::FORBIDDEN, "invalid_link_token"),
            ChannelFilled => (StatusCode::CONFLICT, "channel_filled"),
            CannotRemoveSelf => (StatusCode::BAD_REQUEST, "cannot_remove_self"),
            ProvisioningTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "provisioning_too_large"),
            EnvelopeTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "envelope_too_large"),
            BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            MailboxFull => (StatusCode::INSUFFICIENT_STORAGE, "mailbox_full"),
            AttachmentsDisabled => (StatusCode::NOT_FOUND, "attachments_disabled"),
            AttachmentTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "attachment_too_large"),
            AttachmentQuotaExceeded => (
                StatusCode::INSUFFICIENT_STORAGE,
                "attachment_quota_exceeded",
            ),
            MissingUploadOffset => (StatusCode::BAD_REQUEST, "missing_upload_offset"),
            OffsetMismatch(_) => (StatusCode::CONFLICT, "offset_mismatch"),
            UploadInProgress => (StatusCode::CONFLICT, "upload_in_progress"),
            UploadInterrupted => (StatusCode::BAD_REQUEST, "upload_interrupted"),
            RangeNotSatisfiable(_) => (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable"),
            SealedSenderUnavailable => (StatusCode::NOT_FOUND, "sealed_sender_unavailable"),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

fn invalid_value_code(value: &InvalidValue) -> &'static str {
    match value {
        InvalidValue::Username => "invalid_username",
        InvalidValue::AccountId => "invalid_account_id",
        InvalidValue::DeviceId => "invalid_device_id",
        InvalidValue::MessageId => "invalid_message_id",
        InvalidValue::Secret => "invalid_secret",
        InvalidValue::AttachmentId => "invalid_attachment_id",
        InvalidValue::AccessKey => "invalid_access_key",
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::UsernameTaken => ApiError::UsernameTaken,
            StoreError::InvalidToken => ApiError::InvalidRegistrationToken,
            StoreError::TooManyDevices(_) => ApiError::TooManyDevices,
            StoreError::NotFound => ApiError::NotFound,
            StoreError::ChannelFilled => ApiError::ChannelFilled,
            StoreError::MailboxFull => ApiError::MailboxFull,
            StoreError::QuotaExceeded => ApiError::AttachmentQuotaExceeded,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let (missing_devices, extra_devices) = match &self {
            ApiError::DeviceMismatch { missing, extra } => (missing.clone(), extra.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        let stale_devices = match &self {
            ApiError::StaleDevices(stale) => stale.clone(),
            _ => Vec::new(),
        };
        let body = ErrorBody {
            code: code.to_owned(),
            message: self.to_string(),
            missing_devices,
            extra_devices,
            stale_devices,
            accounts: match &self {
                ApiError::AccountsMismatch(accounts) => accounts.clone(),
                _ => Vec::new(),
            },
            unknown_accounts: match &self {
                ApiError::UnknownAccounts(accounts) => accounts.clone(),
                _ => Vec::new(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let ApiError::RateLimited(wait) = &self {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        match &self {
            ApiError::OffsetMismatch(offset) => {
                headers.insert("upload-offset", HeaderValue::from(*offset));
            }
            ApiError::RangeNotSatisfiable(size) => {
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    headers.insert(header::CONTENT_RANGE, value);
                }
            }
            _ => {}
        }
        if let ApiError::Unauthorized = &self {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"sotto\""),
            );
        }
        response
    }
}
