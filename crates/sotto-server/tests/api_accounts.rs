//! In-process tests of registration, authentication, lookup and devices.

mod common;

use axum::http::{Method, StatusCode, header};
use common::*;
use serde_json::json;
use sotto_server::config::{BucketConfig, Policy, RateLimitConfig, RegistrationMode};
use sotto_server::domain::token_hash;
use sotto_server::store::{AccountStore, Day};

fn registration(name: &str, secret: &[u8]) -> serde_json::Value {
    json!({"username": name, "identity_key": b64(&[7; 65]), "device": new_device(secret, 2)})
}

#[tokio::test]
async fn register_then_lookup_case_insensitively() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("Alice", 2).await;
    let bob = relay.register("bob", 0).await;
    let found = relay
        .call(Method::GET, "/v1/accounts/ALICE", Some(&bob.auth), None)
        .await;
    assert_eq!(found.0, StatusCode::OK, "{}", found.1);
    assert_eq!(found.1["account_id"], alice.account.as_str());
    assert_eq!(found.1["username"], "alice");
    assert_eq!(found.1["identity_key"], b64(&[7; 65]));
    assert_eq!(
        found.1["devices"],
        json!([{"device_id": 1, "registration_id": 42}])
    );
    let taken = relay
        .call(
            Method::POST,
            "/v1/accounts",
            None,
            Some(registration("aLiCe", &[9; 32])),
        )
        .await;
    assert_error(&taken, StatusCode::CONFLICT, "username_taken");
    let missing = relay
        .call(Method::GET, "/v1/accounts/nobody", Some(&bob.auth), None)
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    let invalid = relay
        .call(Method::GET, "/v1/accounts/a%20b", Some(&bob.auth), None)
        .await;
    assert_error(&invalid, StatusCode::BAD_REQUEST, "invalid_username");
}

#[tokio::test]
async fn registration_rejects_bad_input_without_storing() {
    let relay = TestRelay::new(relaxed()).await;
    let post = |body| relay.call(Method::POST, "/v1/accounts", None, Some(body));
    assert_error(
        &post(registration("x!", &[1; 32])).await,
        StatusCode::BAD_REQUEST,
        "invalid_username",
    );
    assert_error(
        &post(registration("ab", &[1; 32])).await,
        StatusCode::BAD_REQUEST,
        "invalid_username",
    );
    assert_error(
        &post(registration("carol", &[1; 31])).await,
        StatusCode::BAD_REQUEST,
        "invalid_secret",
    );
    let mut bad_b64 = registration("carol", &[1; 32]);
    bad_b64["identity_key"] = json!("not base64!");
    assert_error(
        &post(bad_b64).await,
        StatusCode::BAD_REQUEST,
        "invalid_base64",
    );
    let mut unknown_field = registration("carol", &[1; 32]);
    unknown_field["phone_number"] = json!("+1555");
    assert_error(
        &post(unknown_field).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    let mut no_signed = registration("carol", &[1; 32]);
    no_signed["device"]["prekeys"]
        .as_object_mut()
        .unwrap()
        .remove("signed_prekey");
    assert_error(
        &post(no_signed).await,
        StatusCode::BAD_REQUEST,
        "missing_prekeys",
    );
    let mut too_many = registration("carol", &[1; 32]);
    too_many["device"]["prekeys"] = prekeys(0, 101);
    assert_error(
        &post(too_many).await,
        StatusCode::BAD_REQUEST,
        "too_many_prekeys",
    );
    let raw = relay
        .call_raw(
            Method::POST,
            "/v1/accounts",
            None,
            Some(b"{\"username\": ".to_vec()),
        )
        .await;
    assert_error(&raw, StatusCode::BAD_REQUEST, "malformed_json");
    let huge = relay
        .call_raw(
            Method::POST,
            "/v1/accounts",
            None,
            Some(vec![b' '; 2 << 20]),
        )
        .await;
    assert_error(&huge, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert!(relay.store.list_accounts().await.unwrap().is_empty());
}

#[tokio::test]
async fn token_mode_needs_a_valid_unused_token() {
    let relay = TestRelay::new(Policy {
        registration: RegistrationMode::Token,
        ..relaxed()
    })
    .await;
    relay
        .store
        .add_registration_token(token_hash("letmein"), 1, Day("2026-11-26".into()))
        .await
        .unwrap();
    let post = |body| relay.call(Method::POST, "/v1/accounts", None, Some(body));
    assert_error(
        &post(registration("dave", &[1; 32])).await,
        StatusCode::FORBIDDEN,
        "invalid_registration_token",
    );
    let mut wrong = registration("dave", &[1; 32]);
    wrong["registration_token"] = json!("guess");
    assert_error(
        &post(wrong).await,
        StatusCode::FORBIDDEN,
        "invalid_registration_token",
    );
    let mut right = registration("dave", &[1; 32]);
    right["registration_token"] = json!("letmein");
    assert_eq!(post(right.clone()).await.0, StatusCode::CREATED);
    right["username"] = json!("erin");
    assert_error(
        &post(right).await,
        StatusCode::FORBIDDEN,
        "invalid_registration_token",
    );
}

#[tokio::test]
async fn registrations_are_rate_limited_per_address() {
    let limits = RateLimitConfig {
        registrations: BucketConfig {
            burst: 2,
            refill_ms: 60_000,
        },
        ..RateLimitConfig::default()
    };
    let relay = TestRelay::new(Policy {
        rate_limits: limits,
        ..Policy::default()
    })
    .await;
    relay.register("one", 0).await;
    relay.register("two", 0).await;
    let third = relay
        .call(
            Method::POST,
            "/v1/accounts",
            None,
            Some(registration("three", &[3; 32])),
        )
        .await;
    assert_error(&third, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = third.2[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn every_request_is_authenticated() {
    // No directory cache: the account is disabled behind the relay's back, as `sotto admin`
    // does from another process.
    let relay = TestRelay::new(Policy {
        directory_cache_ms: 0,
        ..relaxed()
    })
    .await;
    let alice = relay.register("alice", 0).await;
    let none = relay.call(Method::GET, "/v1/keys/count", None, None).await;
    assert_error(&none, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(none.2.contains_key(header::WWW_AUTHENTICATE));
    let wrong = device(&alice.account, 1, vec![0xEE; 32]);
    assert_error(
        &relay
            .call(Method::GET, "/v1/keys/count", Some(&wrong.auth), None)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let other_device = device(&alice.account, 2, alice.secret.clone());
    assert_error(
        &relay
            .call(
                Method::GET,
                "/v1/keys/count",
                Some(&other_device.auth),
                None,
            )
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    for garbage in ["Basic !!!", "Bearer abc", "Basic YWJj", ""] {
        let result = relay
            .call(Method::GET, "/v1/keys/count", Some(garbage), None)
            .await;
        assert_error(&result, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    assert_eq!(
        relay
            .call(Method::GET, "/v1/keys/count", Some(&alice.auth), None)
            .await
            .0,
        StatusCode::OK
    );
    let name = sotto_server::domain::Username::parse("alice").unwrap();
    relay.store.set_disabled(&name, true).await.unwrap();
    let disabled = relay
        .call(Method::GET, "/v1/keys/count", Some(&alice.auth), None)
        .await;
    assert_error(&disabled, StatusCode::FORBIDDEN, "account_disabled");
}

#[tokio::test]
async fn devices_are_added_up_to_the_limit() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 0).await;
    for expected in 2..=6 {
        assert_eq!(relay.add_device(&alice, 1).await.device, expected);
    }
    let seventh = relay
        .call(
            Method::POST,
            "/v1/devices",
            Some(&alice.auth),
            Some(new_device(&[99; 32], 0)),
        )
        .await;
    assert_error(&seventh, StatusCode::CONFLICT, "too_many_devices");
    let found = relay
        .call(Method::GET, "/v1/accounts/alice", Some(&alice.auth), None)
        .await;
    assert_eq!(found.1["devices"].as_array().unwrap().len(), 6);
}
