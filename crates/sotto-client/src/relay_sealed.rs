//! The relay's sealed-sender API: the trust root, sender certificates, this account's access
//! key, and sends that carry no device credentials (`docs/server.md`, "Sealed sender").

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::{Method, StatusCode};
use sotto_core::sealed::AccessKey;
use sotto_proto::api::{
    Base64Bytes, ErrorBody, SealedMultiSendRequest, SealedSenderSettings, SendRequest,
    SendResponse, SenderCertificateResponse, TrustRootResponse,
};

use crate::error::RelayError;
use crate::relay::{MultiSendOutcome, Relay, SendOutcome, status_error};

/// The header that carries the recipient's access key on a sealed send.
const ACCESS_KEY_HEADER: &str = "sotto-access-key";

/// What the relay said to a sealed send.
pub(crate) enum SealedOutcome<T> {
    /// As to an identified send.
    Answered(T),
    /// The access key was refused (or the account is gone): nothing was stored.
    AccessDenied,
}

impl Relay {
    /// `GET /v1/certificate/trust-root`; `None` from a relay that issues no certificates.
    pub(crate) async fn trust_root(&self) -> Result<Option<TrustRootResponse>, RelayError> {
        self.optional(Method::GET, "/v1/certificate/trust-root")
            .await
    }

    /// `GET /v1/certificate`: a sender certificate for this device; `None` from a relay that
    /// issues none.
    pub(crate) async fn sender_certificate(
        &self,
    ) -> Result<Option<SenderCertificateResponse>, RelayError> {
        self.optional(Method::GET, "/v1/certificate").await
    }

    async fn optional<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> Result<Option<T>, RelayError> {
        let (status, headers, bytes) = self.request(method, path, None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| RelayError::Malformed(e.to_string())),
            _ => Err(status_error(status, &headers, &bytes)),
        }
    }

    /// `PUT /v1/accounts/sealed-sender`: hands our access key to the relay.
    pub(crate) async fn set_sealed_sender(
        &self,
        key: &AccessKey,
        unrestricted: bool,
    ) -> Result<(), RelayError> {
        let body = SealedSenderSettings {
            access_key: Base64Bytes(key.as_bytes().to_vec()),
            unrestricted,
        };
        let (status, headers, bytes) = self
            .request(
                Method::PUT,
                "/v1/accounts/sealed-sender",
                Self::json(&body)?,
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(status_error(status, &headers, &bytes))
        }
    }

    /// `PUT /v1/messages/sealed/{account_id}/{message_id}`, without device credentials.
    pub(crate) async fn send_sealed(
        &self,
        account_id: &str,
        message_id: &str,
        key: &AccessKey,
        request: &SendRequest,
    ) -> Result<SealedOutcome<SendOutcome>, RelayError> {
        let path = format!("/v1/messages/sealed/{account_id}/{message_id}");
        let key = STANDARD.encode(key.as_bytes());
        let (status, headers, bytes) = self
            .request_with(
                Method::PUT,
                &path,
                Self::json(request)?,
                &[(ACCESS_KEY_HEADER, &key)],
            )
            .await?;
        if status == StatusCode::UNAUTHORIZED {
            return Ok(SealedOutcome::AccessDenied);
        }
        Self::send_outcome(status, &headers, &bytes).map(SealedOutcome::Answered)
    }

    /// `PUT /v1/messages/sealed-multi/{message_id}`, without device credentials.
    pub(crate) async fn send_sealed_multi(
        &self,
        message_id: &str,
        request: &SealedMultiSendRequest,
    ) -> Result<SealedOutcome<MultiSendOutcome>, RelayError> {
        let path = format!("/v1/messages/sealed-multi/{message_id}");
        let (status, headers, bytes) = self
            .request_with(Method::PUT, &path, Self::json(request)?, &[])
            .await?;
        if status == StatusCode::UNAUTHORIZED {
            return Ok(SealedOutcome::AccessDenied);
        }
        if status.is_success() {
            let answer: SendResponse =
                serde_json::from_slice(&bytes).map_err(|e| RelayError::Malformed(e.to_string()))?;
            return Ok(SealedOutcome::Answered(MultiSendOutcome::Stored {
                duplicate: answer.duplicate,
            }));
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) if status == StatusCode::CONFLICT && body.code == "device_mismatch" => Ok(
                SealedOutcome::Answered(MultiSendOutcome::DeviceMismatch(body.accounts)),
            ),
            _ => Err(status_error(status, &headers, &bytes)),
        }
    }
}
