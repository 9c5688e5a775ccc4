//! In-process tests of sender certificates and the trust root (sealed sender).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::json;
use sotto_core::IdentityKeyPair;
use sotto_core::sealed::{CertificateValidator, SenderCertificate, TrustRoot};

/// Registers `name` with a real identity key (certificates need one).
async fn register_with_identity(
    relay: &TestRelay,
    name: &str,
    identity: &IdentityKeyPair,
) -> TestDevice {
    let secret = vec![0x5A; 32];
    let body = json!({
        "username": name,
        "identity_key": b64(&identity.public().encode()),
        "device": new_device(&secret, 1),
    });
    let (status, answer, _) = relay
        .call(Method::POST, "/v1/accounts", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    device(answer["account_id"].as_str().unwrap(), 1, secret)
}

fn decode(value: &serde_json::Value) -> Vec<u8> {
    STANDARD.decode(value.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_device_gets_a_certificate_that_validates_against_the_published_root() {
    let relay = TestRelay::new(relaxed()).await.with_sender_certificates();
    let identity = IdentityKeyPair::from_secret_bytes(&[3; 64]);
    let alice = register_with_identity(&relay, "alice", &identity).await;

    let root = relay
        .call(Method::GET, "/v1/certificate/trust-root", None, None)
        .await;
    assert_eq!(root.0, StatusCode::OK, "{}", root.1);
    assert_eq!(root.1["key_id"], 1);
    assert_eq!(root.1["revoked_key_ids"], json!([]));
    let root = TrustRoot::from_bytes(&decode(&root.1["trust_root"])).unwrap();

    let issued = relay
        .call(Method::GET, "/v1/certificate", Some(&alice.auth), None)
        .await;
    assert_eq!(issued.0, StatusCode::OK, "{}", issued.1);
    let certificate = SenderCertificate::from_wire(&decode(&issued.1["certificate"])).unwrap();
    assert_eq!(certificate.sender().account(), alice.account.as_bytes());
    assert_eq!(certificate.sender().device(), 1);
    assert_eq!(certificate.identity(), identity.public());
    assert_eq!(
        certificate.expires_ms(),
        issued.1["expires_ms"].as_u64().unwrap()
    );
    let now = certificate.expires_ms() - 1000;
    assert!(
        CertificateValidator::new(root, now)
            .validate(&certificate)
            .is_ok()
    );
}

#[tokio::test]
async fn certificates_need_a_device_and_a_relay_that_issues_them() {
    let relay = TestRelay::new(relaxed()).await.with_sender_certificates();
    let anonymous = relay.call(Method::GET, "/v1/certificate", None, None).await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");

    let plain = TestRelay::new(relaxed()).await;
    let bob = plain.register("bob", 1).await;
    let none = plain
        .call(Method::GET, "/v1/certificate", Some(&bob.auth), None)
        .await;
    assert_error(&none, StatusCode::NOT_FOUND, "sealed_sender_unavailable");
    let root = plain
        .call(Method::GET, "/v1/certificate/trust-root", None, None)
        .await;
    assert_error(&root, StatusCode::NOT_FOUND, "sealed_sender_unavailable");
}
