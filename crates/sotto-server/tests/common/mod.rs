//! Helpers for in-process tests of the relay's router.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sotto_server::api::auth::basic_credentials;
use sotto_server::blobs::{BlobStorage, LocalBlobs};
use sotto_server::config::{Policy, RateLimitConfig};
use sotto_server::domain::{AccountId, DeviceAddress, DeviceId};
use sotto_server::relay::{ClientAddr, Relay};
use sotto_server::store::sqlite::SqliteStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use tower::ServiceExt;

/// A relay on a fresh SQLite store in a temporary directory.
pub struct TestRelay {
    pub relay: Relay,
    pub store: SqliteStore,
    pub dir: tempfile::TempDir,
    next_secret: AtomicU8,
}

/// A registered device and its credentials.
#[derive(Clone, Debug)]
pub struct TestDevice {
    pub account: String,
    pub device: u32,
    pub secret: Vec<u8>,
    pub auth: String,
}

/// Policy for tests: rate limits off unless a test turns them on.
pub fn relaxed() -> Policy {
    Policy {
        rate_limits: RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        },
        ..Policy::default()
    }
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn signed(id: u32, tag: u8) -> Value {
    json!({"key_id": id, "public_key": b64(&[tag; 33]), "signature": b64(&[tag; 64])})
}

/// A prekey upload with `n` one-time keys of each kind, ids starting at `base`.
pub fn prekeys(base: u32, n: u32) -> Value {
    json!({
        "signed_prekey": signed(1, 0xA1),
        "last_resort_kem_prekey": signed(2, 0xA2),
        "one_time_prekeys": (0..n).map(|i| json!({"key_id": base + i, "public_key": b64(&[3; 33])})).collect::<Vec<_>>(),
        "one_time_kem_prekeys": (0..n).map(|i| signed(base + 1000 + i, 4)).collect::<Vec<_>>(),
    })
}

pub fn new_device(secret: &[u8], keys: u32) -> Value {
    json!({"auth_secret": b64(secret), "registration_id": 42, "prekeys": prekeys(100, keys)})
}

impl TestRelay {
    pub async fn new(policy: Policy) -> Self {
        Self::with_blobs(policy, |dir| {
            Arc::new(LocalBlobs::open(dir.join("attachments")).unwrap())
        })
        .await
    }

    /// A relay whose attachment blobs live where `blobs` puts them (given the data directory).
    pub async fn with_blobs(
        policy: Policy,
        blobs: impl FnOnce(&std::path::Path) -> Arc<dyn BlobStorage>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let relay = Relay::new(Arc::new(store.clone()), policy).with_attachments(blobs(dir.path()));
        Self {
            relay,
            store,
            dir,
            next_secret: AtomicU8::new(1),
        }
    }

    /// The same relay issuing sender certificates from keys under `DATA_DIR/sealed-sender`.
    pub fn with_sender_certificates(mut self) -> Self {
        let keys = sotto_server::sealed_sender::SenderCertificates::load_or_create(
            &self.dir.path().join("sealed-sender"),
            sotto_server::sealed_sender::DEFAULT_VALIDITY_MS,
        )
        .unwrap();
        self.relay = self.relay.with_sender_certificates(Arc::new(keys));
        self
    }

    pub fn router(&self) -> Router {
        self.relay.router().layer(MockConnectInfo(ClientAddr(
            "127.0.0.1:4000".parse().unwrap(),
        )))
    }

    /// Sends a request with an optional JSON body and auth header; returns status, body, headers.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, HeaderMap) {
        let raw = body.map(|b| b.to_string().into_bytes());
        self.call_raw(method, path, auth, raw).await
    }

    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, Value, HeaderMap) {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        self.call_with(method, path, &headers, body.map(Body::from))
            .await
    }

    /// Sends a request with the given headers and optional JSON body.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Body>,
    ) -> (StatusCode, Value, HeaderMap) {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(body.unwrap_or_else(Body::empty)).unwrap();
        let response = self.router().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (parts.status, value, parts.headers)
    }

    /// Registers `name` with `keys` one-time keys of each kind.
    pub async fn register(&self, name: &str, keys: u32) -> TestDevice {
        let secret = vec![self.next_secret.fetch_add(1, Ordering::Relaxed); 32];
        let body = json!({"username": name, "identity_key": b64(&[7; 65]), "device": new_device(&secret, keys)});
        let (status, answer, _) = self
            .call(Method::POST, "/v1/accounts", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        device(answer["account_id"].as_str().unwrap(), 1, secret)
    }

    /// Adds a device to `owner`'s account.
    pub async fn add_device(&self, owner: &TestDevice, keys: u32) -> TestDevice {
        let secret = vec![self.next_secret.fetch_add(1, Ordering::Relaxed); 32];
        let (status, answer, _) = self
            .call(
                Method::POST,
                "/v1/devices",
                Some(&owner.auth),
                Some(new_device(&secret, keys)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        device(
            &owner.account,
            answer["device_id"].as_u64().unwrap() as u32,
            secret,
        )
    }
}

pub fn device(account: &str, device_id: u32, secret: Vec<u8>) -> TestDevice {
    let address = DeviceAddress {
        account: AccountId::parse(account).unwrap(),
        device: DeviceId::new(device_id).unwrap(),
    };
    TestDevice {
        account: account.into(),
        device: device_id,
        auth: basic_credentials(&address, &secret),
        secret,
    }
}

/// A send body with one envelope per listed device.
pub fn envelopes(devices: &[u32], content: &[u8]) -> Value {
    json!({"envelopes": devices.iter().map(|d| json!({"device_id": d, "content": b64(content)})).collect::<Vec<_>>()})
}

/// Asserts status and error code.
pub fn assert_error(result: &(StatusCode, Value, HeaderMap), status: StatusCode, code: &str) {
    assert_eq!(
        (result.0, result.1["code"].as_str()),
        (status, Some(code)),
        "{}",
        result.1
    );
    assert!(!result.1["message"].as_str().unwrap_or_default().is_empty());
}
