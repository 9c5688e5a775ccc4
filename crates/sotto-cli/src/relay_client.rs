//! A plain-HTTP relay client: registration, sends and the delivery WebSocket.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sotto_proto::api::{
    Base64Bytes, NewDevice, OutgoingEnvelope, PreKey, PreKeyUpload, RegisterRequest,
    RegisterResponse, SendRequest, SignedPreKey,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A connected delivery WebSocket.
pub type DeliverySocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A device's credentials.
#[derive(Clone)]
pub struct Credentials {
    /// Account id.
    pub account_id: String,
    /// Device id.
    pub device_id: u32,
    secret: [u8; 32],
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}.{})", self.account_id, self.device_id)
    }
}

impl Credentials {
    /// Credentials of an existing device.
    pub fn new(account_id: String, device_id: u32, secret: [u8; 32]) -> Self {
        Self {
            account_id,
            device_id,
            secret,
        }
    }

    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        let user = format!(
            "{}.{}:{}",
            self.account_id,
            self.device_id,
            STANDARD.encode(self.secret)
        );
        format!("Basic {}", STANDARD.encode(user))
    }
}

/// Fresh random device secret.
pub fn random_secret() -> Result<[u8; 32]> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(secret)
}

/// Placeholder public keys: the relay stores keys without interpreting them, and these tools
/// exercise the relay only. Real clients upload keys made by `sotto-core`.
pub fn sample_prekeys(first_id: u32, one_time: u32) -> PreKeyUpload {
    let signed = |key_id, tag: u8| SignedPreKey {
        key_id,
        public_key: Base64Bytes(vec![tag; 33]),
        signature: Base64Bytes(vec![tag; 64]),
    };
    PreKeyUpload {
        signed_prekey: Some(signed(1, 0x05)),
        last_resort_kem_prekey: Some(signed(2, 0x08)),
        one_time_prekeys: (0..one_time)
            .map(|i| PreKey {
                key_id: first_id + i,
                public_key: Base64Bytes(vec![0x05; 33]),
            })
            .collect(),
        one_time_kem_prekeys: (0..one_time)
            .map(|i| signed(first_id + 10_000 + i, 0x08))
            .collect(),
    }
}

/// A relay reached over plain HTTP.
#[derive(Clone)]
pub struct RelayClient {
    base: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl RelayClient {
    /// A client for `base`, e.g. `http://127.0.0.1:7443`.
    pub fn new(base: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// One request; returns status and body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        auth: Option<&Credentials>,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(auth) = auth {
            request = request.header("authorization", auth.authorization());
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let response = self
            .http
            .request(request)
            .await
            .context("request to the relay failed")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the relay's answer")?
            .to_bytes();
        Ok((status, body))
    }

    /// Like [`request`](Self::request) with a JSON body and a JSON answer.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        auth: Option<&Credentials>,
        body: &impl serde::Serialize,
    ) -> Result<(StatusCode, Value)> {
        let (status, bytes) = self
            .request(method, path, auth, Some(serde_json::to_vec(body)?))
            .await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// Registers `username` with sample prekeys (`one_time` of each kind).
    pub async fn register(&self, username: &str, one_time: u32) -> Result<Credentials> {
        let secret = random_secret()?;
        let request = RegisterRequest {
            username: username.to_owned(),
            registration_token: None,
            identity_key: Base64Bytes(vec![0x42; 65]),
            device: NewDevice {
                auth_secret: Base64Bytes(secret.to_vec()),
                registration_id: 7,
                prekeys: sample_prekeys(1, one_time),
            },
        };
        let (status, bytes) = self
            .request(
                Method::POST,
                "/v1/accounts",
                None,
                Some(serde_json::to_vec(&request)?),
            )
            .await?;
        if status != StatusCode::CREATED {
            bail!(
                "registering {username} failed: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let answer: RegisterResponse = serde_json::from_slice(&bytes)?;
        Ok(Credentials::new(
            answer.account_id,
            answer.device_id,
            secret,
        ))
    }

    /// Sends one envelope per `(device, content)`; returns status and JSON answer.
    pub async fn send(
        &self,
        from: &Credentials,
        to_account: &str,
        message_id: &str,
        envelopes: Vec<(u32, Vec<u8>)>,
    ) -> Result<(StatusCode, Value)> {
        let body = SendRequest {
            ephemeral: false,
            envelopes: envelopes
                .into_iter()
                .map(|(device_id, content)| OutgoingEnvelope {
                    device_id,
                    content: Base64Bytes(content),
                    registration_id: None,
                })
                .collect(),
        };
        self.json(
            Method::PUT,
            &format!("/v1/messages/{to_account}/{message_id}"),
            Some(from),
            &body,
        )
        .await
    }

    /// Opens the delivery WebSocket of a device.
    pub async fn connect(&self, device: &Credentials) -> Result<DeliverySocket> {
        let url = format!("{}/v1/websocket", self.base.replacen("http", "ws", 1));
        let mut request = url.into_client_request()?;
        request
            .headers_mut()
            .insert("authorization", device.authorization().parse()?);
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .context("WebSocket connection failed")?;
        Ok(socket)
    }
}
