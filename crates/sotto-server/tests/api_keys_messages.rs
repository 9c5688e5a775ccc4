//! In-process tests of prekeys, sending, and the meta endpoints.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;
use sotto_server::config::{BucketConfig, Limits, Policy, RateLimitConfig};
use sotto_server::domain::{AccountId, DeviceAddress, DeviceId};
use sotto_server::store::Mailbox;
use std::collections::HashSet;

#[tokio::test]
async fn prekeys_upload_count_and_take_once() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 2).await;
    let bob = relay.register("bob", 0).await;
    let count = relay
        .call(Method::GET, "/v1/keys/count", Some(&alice.auth), None)
        .await;
    assert_eq!(
        count.1,
        json!({"one_time_prekeys": 2, "one_time_kem_prekeys": 2})
    );
    let path = format!("/v1/keys/{}/1", alice.account);
    let mut seen = HashSet::new();
    for _ in 0..2 {
        let bundle = relay.call(Method::GET, &path, Some(&bob.auth), None).await;
        assert_eq!(bundle.0, StatusCode::OK, "{}", bundle.1);
        let device = &bundle.1["devices"][0];
        assert_eq!(device["kem_prekey_is_last_resort"], false);
        assert!(seen.insert(device["one_time_prekey"]["key_id"].as_u64().unwrap()));
        assert!(seen.insert(device["kem_prekey"]["key_id"].as_u64().unwrap()));
        assert_eq!(bundle.1["identity_key"], b64(&[7; 65]));
    }
    let dry = relay.call(Method::GET, &path, Some(&bob.auth), None).await;
    assert_eq!(dry.1["devices"][0]["one_time_prekey"], json!(null));
    assert_eq!(dry.1["devices"][0]["kem_prekey_is_last_resort"], true);
    assert_eq!(dry.1["devices"][0]["kem_prekey"]["key_id"], 2);
    let refill = json!({"one_time_prekeys": [{"key_id": 900, "public_key": b64(&[1; 33])}]});
    assert_eq!(
        relay
            .call(Method::PUT, "/v1/keys", Some(&alice.auth), Some(refill))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let count = relay
        .call(Method::GET, "/v1/keys/count", Some(&alice.auth), None)
        .await;
    assert_eq!(
        count.1,
        json!({"one_time_prekeys": 1, "one_time_kem_prekeys": 0})
    );
}

#[tokio::test]
async fn bundles_for_all_devices_and_errors() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    relay.add_device(&alice, 1).await;
    let bob = relay.register("bob", 0).await;
    let all = relay
        .call(
            Method::GET,
            &format!("/v1/keys/{}/*", alice.account),
            Some(&bob.auth),
            None,
        )
        .await;
    let ids: Vec<_> = all.1["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2]);
    let get = async |path: String| relay.call(Method::GET, &path, Some(&bob.auth), None).await;
    assert_error(
        &get(format!("/v1/keys/{}/0", alice.account)).await,
        StatusCode::BAD_REQUEST,
        "invalid_device_id",
    );
    assert_error(
        &get(format!("/v1/keys/{}/x", alice.account)).await,
        StatusCode::BAD_REQUEST,
        "invalid_device_id",
    );
    assert_error(
        &get(format!("/v1/keys/{}/7", alice.account)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &get("/v1/keys/ABC/1".into()).await,
        StatusCode::BAD_REQUEST,
        "invalid_account_id",
    );
    let stranger = AccountId::random().unwrap();
    assert_error(
        &get(format!("/v1/keys/{stranger}/*")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let too_many = json!({"one_time_prekeys": (0..101).map(|i| json!({"key_id": i, "public_key": b64(&[1])})).collect::<Vec<_>>()});
    let upload = relay
        .call(Method::PUT, "/v1/keys", Some(&alice.auth), Some(too_many))
        .await;
    assert_error(&upload, StatusCode::BAD_REQUEST, "too_many_prekeys");
    let bad = json!({"one_time_prekeys": [{"key_id": 1, "public_key": "%%%"}]});
    assert_error(
        &relay
            .call(Method::PUT, "/v1/keys", Some(&alice.auth), Some(bad))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_base64",
    );
}

#[tokio::test]
async fn bundle_fetches_are_rate_limited_per_account() {
    let limits = RateLimitConfig {
        enabled: true,
        bundle_fetches: BucketConfig {
            burst: 1,
            refill_ms: 60_000,
        },
        registrations: BucketConfig {
            burst: 10,
            refill_ms: 1,
        },
        ..RateLimitConfig::default()
    };
    let relay = TestRelay::new(Policy {
        rate_limits: limits,
        ..Policy::default()
    })
    .await;
    let alice = relay.register("alice", 3).await;
    let bob = relay.register("bob", 0).await;
    let path = format!("/v1/keys/{}/1", alice.account);
    assert_eq!(
        relay
            .call(Method::GET, &path, Some(&bob.auth), None)
            .await
            .0,
        StatusCode::OK
    );
    let limited = relay.call(Method::GET, &path, Some(&bob.auth), None).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(limited.2.contains_key("retry-after"));
    let count = relay
        .call(Method::GET, "/v1/keys/count", Some(&alice.auth), None)
        .await;
    assert_eq!(
        count.1["one_time_prekeys"], 2,
        "a refused fetch takes no key"
    );
}

#[allow(clippy::unwrap_used)]
fn address(device: &TestDevice) -> DeviceAddress {
    DeviceAddress {
        account: AccountId::parse(&device.account).unwrap(),
        device: DeviceId::new(device.device).unwrap(),
    }
}

#[tokio::test]
async fn send_stores_once_and_checks_devices() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 0).await;
    let bob = relay.register("bob", 0).await;
    relay.add_device(&bob, 0).await;
    relay.add_device(&bob, 0).await;
    let url = format!(
        "/v1/messages/{}/7f9c2ba4e88f827d616045507605853e",
        bob.account
    );
    let stale = relay
        .call(
            Method::PUT,
            &url,
            Some(&alice.auth),
            Some(envelopes(&[1, 2, 9], b"hi")),
        )
        .await;
    assert_error(&stale, StatusCode::CONFLICT, "device_mismatch");
    assert_eq!(
        (
            stale.1["missing_devices"].clone(),
            stale.1["extra_devices"].clone()
        ),
        (json!([3]), json!([9]))
    );
    let sent = relay
        .call(
            Method::PUT,
            &url,
            Some(&alice.auth),
            Some(envelopes(&[1, 2, 3], b"hi")),
        )
        .await;
    assert_eq!(
        (sent.0, sent.1.clone()),
        (StatusCode::OK, json!({"duplicate": false}))
    );
    let retry = relay
        .call(
            Method::PUT,
            &url,
            Some(&alice.auth),
            Some(envelopes(&[1, 2, 3], b"hi")),
        )
        .await;
    assert_eq!(
        (retry.0, retry.1.clone()),
        (StatusCode::OK, json!({"duplicate": true}))
    );
    let queued = relay.store.pending(&address(&bob), 0, 10, 0).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (&queued[0].content[..], queued[0].sender.clone()),
        (&b"hi"[..], Some(address(&alice)))
    );
    // A copy to one's own other devices must not include the sending device.
    let own = format!(
        "/v1/messages/{}/00000000000000000000000000000001",
        bob.account
    );
    let itself = relay
        .call(
            Method::PUT,
            &own,
            Some(&bob.auth),
            Some(envelopes(&[1, 2, 3], b"x")),
        )
        .await;
    assert_eq!(
        (
            itself.1["missing_devices"].clone(),
            itself.1["extra_devices"].clone()
        ),
        (json!(null), json!([1]))
    );
    assert_eq!(
        relay
            .call(
                Method::PUT,
                &own,
                Some(&bob.auth),
                Some(envelopes(&[2, 3], b"x"))
            )
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn send_rejects_bad_requests() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 0).await;
    let bob = relay.register("bob", 0).await;
    let put = async |url: String, body| {
        relay
            .call(Method::PUT, &url, Some(&alice.auth), Some(body))
            .await
    };
    let ok_id = "0123456789abcdef0123";
    let url = format!("/v1/messages/{}/{ok_id}", bob.account);
    let big = envelopes(&[1], &vec![0; 96 * 1024 + 1]);
    assert_error(
        &put(url.clone(), big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "envelope_too_large",
    );
    assert_eq!(
        put(url.clone(), envelopes(&[1], &vec![0; 96 * 1024]))
            .await
            .0,
        StatusCode::OK
    );
    let url2 = format!("/v1/messages/{}/another-message-id-1", bob.account);
    assert_error(
        &put(url2.clone(), json!({"envelopes": []})).await,
        StatusCode::BAD_REQUEST,
        "invalid_envelopes",
    );
    let twice = json!({"envelopes": [{"device_id": 1, "content": "AA=="}, {"device_id": 1, "content": "AA=="}]});
    assert_error(
        &put(url2.clone(), twice).await,
        StatusCode::BAD_REQUEST,
        "invalid_envelopes",
    );
    assert_error(
        &put(
            url2.clone(),
            json!({"envelopes": [{"device_id": 1, "content": "A"}]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_base64",
    );
    assert_error(
        &put(
            url2.clone(),
            json!({"envelopes": [{"device_id": 0, "content": "AA=="}]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_device_id",
    );
    assert_error(
        &put(url2.clone(), json!({"envelope": []})).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    assert_error(
        &put(
            format!("/v1/messages/{}/short", bob.account),
            envelopes(&[1], b"x"),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_message_id",
    );
    assert_error(
        &put(format!("/v1/messages/nope/{ok_id}"), envelopes(&[1], b"x")).await,
        StatusCode::BAD_REQUEST,
        "invalid_account_id",
    );
    let stranger = AccountId::random().unwrap();
    assert_error(
        &put(
            format!("/v1/messages/{stranger}/{ok_id}"),
            envelopes(&[1], b"x"),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let huge = relay
        .call_raw(
            Method::PUT,
            &url2,
            Some(&alice.auth),
            Some(vec![b'{'; 2 << 20]),
        )
        .await;
    assert_error(&huge, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert_eq!(
        relay.store.queue_len(&address(&bob)).await.unwrap(),
        1,
        "no partial write"
    );
}

#[tokio::test]
async fn sends_are_rate_limited_per_pair_and_capped_per_mailbox() {
    let limits = RateLimitConfig {
        enabled: true,
        messages: BucketConfig {
            burst: 2,
            refill_ms: 60_000,
        },
        registrations: BucketConfig {
            burst: 10,
            refill_ms: 1,
        },
        ..RateLimitConfig::default()
    };
    let policy = Policy {
        rate_limits: limits,
        limits: Limits {
            max_queue: 2,
            ..Limits::default()
        },
        ..Policy::default()
    };
    let relay = TestRelay::new(policy).await;
    let (alice, bob, carol) = (
        relay.register("alice", 0).await,
        relay.register("bob", 0).await,
        relay.register("carol", 0).await,
    );
    let send = async |from: &TestDevice, n: u32| {
        let url = format!("/v1/messages/{}/message-id-{n:08}", bob.account);
        relay
            .call(
                Method::PUT,
                &url,
                Some(&from.auth),
                Some(envelopes(&[1], b"x")),
            )
            .await
    };
    assert_eq!(send(&alice, 1).await.0, StatusCode::OK);
    assert_eq!(send(&alice, 2).await.0, StatusCode::OK);
    assert_error(
        &send(&alice, 3).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    assert_error(
        &send(&carol, 4).await,
        StatusCode::INSUFFICIENT_STORAGE,
        "mailbox_full",
    );
}

#[tokio::test]
async fn meta_endpoints_and_unknown_routes() {
    let relay = TestRelay::new(relaxed()).await;
    let health = relay.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (health.0, health.1.as_str()),
        (StatusCode::OK, Some("ok\n"))
    );
    relay.register("alice", 0).await;
    let metrics = relay.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .1
            .as_str()
            .unwrap()
            .contains("sotto_registrations_total 1\n"),
        "{}",
        metrics.1
    );
    assert_error(
        &relay
            .call(Method::GET, "/v2/accounts/alice", None, None)
            .await,
        StatusCode::NOT_FOUND,
        "unsupported_api_version",
    );
    assert_error(
        &relay.call(Method::GET, "/v1/nothing", None, None).await,
        StatusCode::NOT_FOUND,
        "unknown_route",
    );
    assert_error(
        &relay.call(Method::DELETE, "/v1/accounts", None, None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let alice = relay.register("alice2", 0).await;
    let plain = relay
        .call(Method::GET, "/v1/websocket", Some(&alice.auth), None)
        .await;
    assert_error(&plain, StatusCode::BAD_REQUEST, "websocket_required");
    assert_error(
        &relay.call(Method::GET, "/v1/websocket", None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

#[tokio::test]
async fn a_new_device_is_expected_at_once_despite_the_cache() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 0).await;
    let bob = relay.register("bob", 0).await;
    let url = |n: u32| format!("/v1/messages/{}/cache-check-{n:08}", bob.account);
    let first = relay
        .call(
            Method::PUT,
            &url(1),
            Some(&alice.auth),
            Some(envelopes(&[1], b"x")),
        )
        .await;
    assert_eq!(first.0, StatusCode::OK);
    relay.add_device(&bob, 0).await;
    let stale = relay
        .call(
            Method::PUT,
            &url(2),
            Some(&alice.auth),
            Some(envelopes(&[1], b"x")),
        )
        .await;
    assert_error(&stale, StatusCode::CONFLICT, "device_mismatch");
    assert_eq!(stale.1["missing_devices"], json!([2]));
}

#[tokio::test]
async fn a_failing_database_gives_internal_without_details() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 0).await;
    let bob = relay.register("bob", 0).await;
    // Warm the directory cache so the request reaches the mailbox, then stop the database.
    let url = |n: u32| format!("/v1/messages/{}/internal-check-{n:04}", bob.account);
    let warm = relay
        .call(
            Method::PUT,
            &url(1),
            Some(&alice.auth),
            Some(envelopes(&[1], b"x")),
        )
        .await;
    assert_eq!(warm.0, StatusCode::OK);
    relay.store.close().await;
    let failed = relay
        .call(
            Method::PUT,
            &url(2),
            Some(&alice.auth),
            Some(envelopes(&[1], b"x")),
        )
        .await;
    assert_error(&failed, StatusCode::INTERNAL_SERVER_ERROR, "internal");
    assert_eq!(
        failed.1["message"], "internal error",
        "no database detail reaches the client"
    );
}
