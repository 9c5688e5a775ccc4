//! The relay's HTTP API and delivery WebSocket, as this SDK uses them, over [`Endpoint`]
//! connections (TLS for `https://`). One connection per request keeps this simple; the
//! delivery WebSocket is the long-lived one.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use sotto_proto::api::{
    AccountDeviceMismatch, AccountInfo, ErrorBody, MultiSendRequest, PreKeyBundle, PreKeyCount,
    PreKeyUpload, RegisterRequest, RegisterResponse, SendRequest, SendResponse,
};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use zeroize::Zeroizing;

use crate::error::RelayError;
use crate::transport::{Endpoint, Stream};

/// A connected delivery WebSocket.
pub(crate) type DeliverySocket = WebSocketStream<Stream>;

/// What the relay said to a send.
pub(crate) enum SendOutcome {
    /// Stored (or already stored under this message id).
    Stored,
    /// The device list was stale: add `missing`, drop `extra`.
    DeviceMismatch { missing: Vec<u32>, extra: Vec<u32> },
    /// These devices have another registration id than our sessions were made with.
    StaleDevices(Vec<u32>),
}

/// What the relay said to a multi-recipient send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MultiSendOutcome {
    /// Stored once for every listed device (`duplicate`: it already was, nothing new stored).
    Stored { duplicate: bool },
    /// Some accounts' device lists were stale: nothing was stored.
    DeviceMismatch(Vec<AccountDeviceMismatch>),
    /// Some accounts do not exist (or are disabled): nothing was stored.
    UnknownAccounts(Vec<String>),
}

/// One relay, reached as one device.
#[derive(Clone)]
pub(crate) struct Relay {
    pub(crate) endpoint: Endpoint,
    pub(crate) authorization: Option<Zeroizing<String>>,
}

pub(crate) fn network(error: impl std::fmt::Display) -> RelayError {
    RelayError::Network(error.to_string())
}

impl Relay {
    /// An anonymous client of the relay at `url` (`http://…` or `https://…`), trusting the
    /// system roots or, if given, only the CA certificates in `ca_pem`.
    pub(crate) fn new(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, RelayError> {
        Ok(Self {
            endpoint: Endpoint::new(url, ca_pem)?,
            authorization: None,
        })
    }

    /// The same relay, authenticated as one device.
    pub(crate) fn authenticated(
        mut self,
        account_id: &str,
        device_id: u32,
        secret: &[u8; 32],
    ) -> Self {
        let user = Zeroizing::new(format!(
            "{account_id}.{device_id}:{}",
            STANDARD.encode(secret)
        ));
        self.authorization = Some(Zeroizing::new(format!("Basic {}", STANDARD.encode(&*user))));
        self
    }

    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), RelayError> {
        let auth = self.authorization.as_ref().map(|a| a.as_str());
        let headers: Vec<_> = auth.map(|a| ("authorization", a)).into_iter().collect();
        self.request_with(method, path, body, &headers).await
    }

    /// A request with exactly these extra headers (no `Authorization` unless among them).
    pub(crate) async fn request_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), RelayError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.endpoint.authority());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(network)?;
        let stream = self.endpoint.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(network)?;
        // The connection is driven in the background and ends when `sender` is dropped.
        tokio::spawn(connection);
        let response = sender.send_request(request).await.map_err(network)?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map_err(network)?.to_bytes();
        Ok((parts.status, parts.headers, bytes))
    }

    /// A request whose success answer is JSON `T`; any other status becomes an error.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, RelayError> {
        let (status, headers, bytes) = self.request(method, path, body).await?;
        if !status.is_success() {
            return Err(status_error(status, &headers, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| RelayError::Malformed(e.to_string()))
    }

    pub(crate) fn json(body: &impl serde::Serialize) -> Result<Option<Vec<u8>>, RelayError> {
        serde_json::to_vec(body)
            .map(Some)
            .map_err(|e| RelayError::Malformed(e.to_string()))
    }

    pub(crate) async fn register(
        &self,
        request: &RegisterRequest,
    ) -> Result<RegisterResponse, RelayError> {
        self.call(Method::POST, "/v1/accounts", Self::json(request)?)
            .await
    }

    /// An account by username; `None` when the relay has no such user.
    pub(crate) async fn account(&self, username: &str) -> Result<Option<AccountInfo>, RelayError> {
        match self
            .call(Method::GET, &format!("/v1/accounts/{username}"), None)
            .await
        {
            Ok(info) => Ok(Some(info)),
            Err(RelayError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn upload_pre_keys(&self, upload: &PreKeyUpload) -> Result<(), RelayError> {
        let (status, headers, bytes) = self
            .request(Method::PUT, "/v1/keys", Self::json(upload)?)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(status_error(status, &headers, &bytes))
        }
    }

    pub(crate) async fn pre_key_count(&self) -> Result<PreKeyCount, RelayError> {
        self.call(Method::GET, "/v1/keys/count", None).await
    }

    /// Bundles of the given devices of an account (`None`: every device).
    pub(crate) async fn bundles(
        &self,
        account_id: &str,
        device: Option<u32>,
    ) -> Result<PreKeyBundle, RelayError> {
        let device = device.map_or_else(|| "*".to_owned(), |d| d.to_string());
        self.call(
            Method::GET,
            &format!("/v1/keys/{account_id}/{device}"),
            None,
        )
        .await
    }

    pub(crate) async fn send(
        &self,
        account_id: &str,
        message_id: &str,
        request: &SendRequest,
    ) -> Result<SendOutcome, RelayError> {
        let path = format!("/v1/messages/{account_id}/{message_id}");
        let (status, headers, bytes) = self
            .request(Method::PUT, &path, Self::json(request)?)
            .await?;
        Self::send_outcome(status, &headers, &bytes)
    }

    /// The outcome of a single-recipient send (identified or sealed) from the relay's answer.
    pub(crate) fn send_outcome(
        status: StatusCode,
        headers: &hyper::HeaderMap,
        bytes: &[u8],
    ) -> Result<SendOutcome, RelayError> {
        if status.is_success() {
            let _: SendResponse =
                serde_json::from_slice(bytes).map_err(|e| RelayError::Malformed(e.to_string()))?;
            return Ok(SendOutcome::Stored);
        }
        if status == StatusCode::CONFLICT
            && let Ok(body) = serde_json::from_slice::<ErrorBody>(bytes)
            && body.code == "device_mismatch"
        {
            return Ok(SendOutcome::DeviceMismatch {
                missing: body.missing_devices,
                extra: body.extra_devices,
            });
        }
        if status == StatusCode::GONE
            && let Ok(body) = serde_json::from_slice::<ErrorBody>(bytes)
            && body.code == "stale_devices"
            && !body.stale_devices.is_empty()
        {
            return Ok(SendOutcome::StaleDevices(body.stale_devices));
        }
        Err(status_error(status, headers, bytes))
    }

    /// Sends one ciphertext (a Sender Key group message) to every device listed in `request`,
    /// stored once by the relay (`PUT /v1/messages/multi/{message_id}`). A stale routing list
    /// or unknown accounts come back as outcomes, every other refusal as an error.
    pub(crate) async fn send_multi(
        &self,
        message_id: &str,
        request: &MultiSendRequest,
    ) -> Result<MultiSendOutcome, RelayError> {
        let path = format!("/v1/messages/multi/{message_id}");
        let (status, headers, bytes) = self
            .request(Method::PUT, &path, Self::json(request)?)
            .await?;
        if status.is_success() {
            let answer: SendResponse =
                serde_json::from_slice(&bytes).map_err(|e| RelayError::Malformed(e.to_string()))?;
            return Ok(MultiSendOutcome::Stored {
                duplicate: answer.duplicate,
            });
        }
        let body = serde_json::from_slice::<ErrorBody>(&bytes).ok();
        match body {
            Some(body) if status == StatusCode::CONFLICT && body.code == "device_mismatch" => {
                Ok(MultiSendOutcome::DeviceMismatch(body.accounts))
            }
            Some(body) if status == StatusCode::NOT_FOUND && !body.unknown_accounts.is_empty() => {
                Ok(MultiSendOutcome::UnknownAccounts(body.unknown_accounts))
            }
            _ => Err(status_error(status, &headers, &bytes)),
        }
    }

    /// Opens this device's delivery WebSocket.
    pub(crate) async fn connect(&self) -> Result<DeliverySocket, RelayError> {
        let scheme = if self.endpoint.is_tls() { "wss" } else { "ws" };
        let url = format!("{scheme}://{}/v1/websocket", self.endpoint.authority());
        let mut request = url.into_client_request().map_err(network)?;
        if let Some(auth) = &self.authorization {
            let value = auth.as_str().parse().map_err(network)?;
            request.headers_mut().insert("authorization", value);
        }
        let stream = self.endpoint.connect().await?;
        let (socket, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(network)?;
        Ok(socket)
    }
}

pub(crate) fn status_error(
    status: StatusCode,
    headers: &hyper::HeaderMap,
    bytes: &[u8],
) -> RelayError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after_secs = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        return RelayError::RateLimited { retry_after_secs };
    }
    let (code, message) = match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => (body.code, body.message),
        Err(_) => (String::new(), String::from_utf8_lossy(bytes).into_owned()),
    };
    RelayError::Status {
        status: status.as_u16(),
        code,
        message,
    }
}

#[cfg(test)]
#[path = "relay_multi_tests.rs"]
mod multi_tests;
