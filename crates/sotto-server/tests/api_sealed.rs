//! In-process tests of sealed sender on the relay: access-key settings, sealed single sends
//! (`PUT /v1/messages/sealed/...`) and sealed multi-recipient sends, every answer they give,
//! and delivery over the WebSocket with exactly the envelope bytes and no sender.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use sotto_server::config::{BucketConfig, Limits, Policy, RateLimitConfig};
use sotto_server::domain::{AccountId, DeviceAddress, DeviceId};
use sotto_server::relay::ClientAddr;
use sotto_server::store::{AccountStore, Mailbox};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Reply = (StatusCode, Value, axum::http::HeaderMap);

const KEY: [u8; 16] = [0x42; 16];
const HEADER: [u8; 48] = [0xab; 48];
/// A shared part as `seal_for_many` makes it: protobuf fields 2 and 3.
const SHARED: &[u8] = &[0x12, 0x02, 0xee, 0xff, 0x1a, 0x01, 0x00];

fn address(device: &TestDevice) -> DeviceAddress {
    DeviceAddress {
        account: AccountId::parse(&device.account).unwrap(),
        device: DeviceId::new(device.device).unwrap(),
    }
}

async fn set_key(relay: &TestRelay, owner: &TestDevice, key: &[u8], unrestricted: bool) -> Reply {
    let body = json!({"access_key": b64(key), "unrestricted": unrestricted});
    relay
        .call(
            Method::PUT,
            "/v1/accounts/sealed-sender",
            Some(&owner.auth),
            Some(body),
        )
        .await
}

/// A sealed single send to `to`'s devices, with the access key header if `key` is given.
async fn sealed(relay: &TestRelay, to: &str, id: &str, key: Option<&[u8]>, body: Value) -> Reply {
    let url = format!("/v1/messages/sealed/{to}/{id}");
    let encoded = key.map(b64);
    let mut headers = vec![("content-type", "application/json")];
    if let Some(key) = &encoded {
        headers.push(("sotto-access-key", key.as_str()));
    }
    let body = Body::from(body.to_string());
    relay
        .call_with(Method::PUT, &url, &headers, Some(body))
        .await
}

/// Bob with two devices and access key `KEY`; Carol with one, unrestricted and no key set
/// but through `unrestricted`.
async fn bob_and_carol(relay: &TestRelay) -> (TestDevice, TestDevice) {
    let bob = relay.register("bob", 0).await;
    relay.add_device(&bob, 0).await;
    assert_eq!(
        set_key(relay, &bob, &KEY, false).await.0,
        StatusCode::NO_CONTENT
    );
    let carol = relay.register("carol", 0).await;
    assert_eq!(
        set_key(relay, &carol, &[9; 16], true).await.0,
        StatusCode::NO_CONTENT
    );
    (bob, carol)
}

fn sealed_content(tag: u8) -> Vec<u8> {
    vec![0x18, tag, tag, tag]
}

#[tokio::test]
async fn settings_take_a_16_byte_key_from_an_authenticated_device() {
    let relay = TestRelay::new(relaxed()).await;
    let bob = relay.register("bob", 0).await;
    assert_eq!(
        set_key(&relay, &bob, &KEY, false).await.0,
        StatusCode::NO_CONTENT
    );
    for bad in [&[1u8; 15][..], &[1; 17], &[]] {
        let answer = set_key(&relay, &bob, bad, false).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_access_key");
    }
    let anonymous = relay
        .call(
            Method::PUT,
            "/v1/accounts/sealed-sender",
            None,
            Some(json!({"access_key": b64(&KEY)})),
        )
        .await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
    let unknown_field = relay
        .call(
            Method::PUT,
            "/v1/accounts/sealed-sender",
            Some(&bob.auth),
            Some(json!({"access_key": b64(&KEY), "extra": 1})),
        )
        .await;
    assert_error(&unknown_field, StatusCode::BAD_REQUEST, "malformed_json");
}

#[tokio::test]
async fn a_sealed_send_with_the_key_is_stored_once_without_a_sender() {
    let relay = TestRelay::new(relaxed()).await;
    let (bob, carol) = bob_and_carol(&relay).await;
    let body = envelopes(&[1, 2], &sealed_content(1));
    let first = sealed(
        &relay,
        &bob.account,
        "sealed-message-0001",
        Some(&KEY),
        body.clone(),
    )
    .await;
    assert_eq!(
        (first.0, &first.1),
        (StatusCode::OK, &json!({"duplicate": false}))
    );
    let retry = sealed(
        &relay,
        &bob.account,
        "sealed-message-0001",
        Some(&KEY),
        body,
    )
    .await;
    assert_eq!(
        (retry.0, &retry.1),
        (StatusCode::OK, &json!({"duplicate": true}))
    );
    let queued = relay.store.pending(&address(&bob), 0, 10, 0).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].sender, None);
    assert_eq!(&queued[0].content[..], &sealed_content(1)[..]);
    // Carol accepts sealed envelopes from anyone: no key, or any key.
    let open = envelopes(&[1], &sealed_content(2));
    let no_key = sealed(
        &relay,
        &carol.account,
        "sealed-message-0002",
        None,
        open.clone(),
    )
    .await;
    assert_eq!(no_key.0, StatusCode::OK, "{}", no_key.1);
    let any_key = sealed(
        &relay,
        &carol.account,
        "sealed-message-0003",
        Some(&KEY),
        open,
    )
    .await;
    assert_eq!(any_key.0, StatusCode::OK, "{}", any_key.1);
    let (_, metrics, _) = relay.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("sotto_messages_sealed_total 3\n")
    );
}

#[tokio::test]
async fn every_refusal_of_access_reads_the_same() {
    let relay = TestRelay::new(relaxed()).await;
    let (bob, _) = bob_and_carol(&relay).await;
    let dave = relay.register("dave", 0).await; // no key set, not unrestricted
    let nobody = AccountId::random().unwrap().to_string();
    let body = envelopes(&[1, 2], &sealed_content(1));
    let id = "sealed-message-0001";
    let answers = [
        sealed(&relay, &bob.account, id, Some(&[0x41; 16]), body.clone()).await,
        sealed(&relay, &bob.account, id, None, body.clone()).await,
        sealed(&relay, &bob.account, id, Some(&[0x42; 15]), body.clone()).await,
        sealed(&relay, &nobody, id, Some(&KEY), body.clone()).await,
        sealed(
            &relay,
            &dave.account,
            id,
            Some(&KEY),
            envelopes(&[1], &[0x18]),
        )
        .await,
    ];
    for answer in &answers {
        assert_error(answer, StatusCode::UNAUTHORIZED, "access_denied");
        assert_eq!(answer.1, answers[0].1, "the same body whatever the reason");
        assert!(answer.2.get("www-authenticate").is_none());
    }
    assert_eq!(relay.store.queue_len(&address(&bob)).await.unwrap(), 0);
}

#[tokio::test]
async fn a_disabled_account_is_refused_like_an_unknown_one() {
    let policy = Policy {
        directory_cache_ms: 0,
        ..relaxed()
    };
    let relay = TestRelay::new(policy).await;
    let (bob, _) = bob_and_carol(&relay).await;
    relay
        .store
        .set_disabled(&sotto_server::domain::Username::parse("bob").unwrap(), true)
        .await
        .unwrap();
    let body = envelopes(&[1, 2], &sealed_content(1));
    let answer = sealed(
        &relay,
        &bob.account,
        "sealed-message-0001",
        Some(&KEY),
        body,
    )
    .await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "access_denied");
}

#[tokio::test]
async fn sealed_sends_are_checked_like_identified_ones() {
    let policy = Policy {
        limits: Limits {
            max_envelope_bytes: 64,
            ..Limits::default()
        },
        ..relaxed()
    };
    let relay = TestRelay::new(policy).await;
    let (bob, _) = bob_and_carol(&relay).await;
    let send = |id: &'static str, body: Value| {
        let relay = &relay;
        let to = bob.account.clone();
        async move { sealed(relay, &to, id, Some(&KEY), body).await }
    };
    let not_sealed = send("sealed-message-0001", envelopes(&[1, 2], b"\x01plain")).await;
    assert_error(&not_sealed, StatusCode::BAD_REQUEST, "invalid_envelopes");
    let missing = send("sealed-message-0002", envelopes(&[1], &sealed_content(1))).await;
    assert_error(&missing, StatusCode::CONFLICT, "device_mismatch");
    assert_eq!(missing.1["missing_devices"], json!([2]));
    let extra = send(
        "sealed-message-0003",
        envelopes(&[1, 2, 3], &sealed_content(1)),
    )
    .await;
    assert_eq!(extra.1["extra_devices"], json!([3]));
    let stale = json!({"envelopes": [
        {"device_id": 1, "content": b64(&sealed_content(1)), "registration_id": 42},
        {"device_id": 2, "content": b64(&sealed_content(1)), "registration_id": 7},
    ]});
    let stale = send("sealed-message-0004", stale).await;
    assert_error(&stale, StatusCode::GONE, "stale_devices");
    assert_eq!(stale.1["stale_devices"], json!([2]));
    let mut large = sealed_content(1);
    large.resize(65, 0);
    let large = send("sealed-message-0005", envelopes(&[1, 2], &large)).await;
    assert_error(&large, StatusCode::PAYLOAD_TOO_LARGE, "envelope_too_large");
    assert_eq!(relay.store.queue_len(&address(&bob)).await.unwrap(), 0);
}

fn limited(access: u32, connections: u32) -> Policy {
    Policy {
        rate_limits: RateLimitConfig {
            enabled: true,
            registrations: BucketConfig {
                burst: 100,
                refill_ms: 1,
            },
            sealed_access: BucketConfig {
                burst: access,
                refill_ms: 60_000,
            },
            sealed_connections: BucketConfig {
                burst: connections,
                refill_ms: 60_000,
            },
            ..RateLimitConfig::default()
        },
        ..Policy::default()
    }
}

#[tokio::test]
async fn sealed_sends_are_rate_limited_per_recipient_and_per_address() {
    let relay = TestRelay::new(limited(1, 100)).await;
    let (bob, carol) = bob_and_carol(&relay).await;
    let to_bob = envelopes(&[1, 2], &sealed_content(1));
    let ok = sealed(
        &relay,
        &bob.account,
        "sealed-message-0001",
        Some(&KEY),
        to_bob.clone(),
    )
    .await;
    assert_eq!(ok.0, StatusCode::OK);
    let refused = sealed(
        &relay,
        &bob.account,
        "sealed-message-0002",
        Some(&KEY),
        to_bob,
    )
    .await;
    assert_error(&refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(refused.2.get("retry-after").is_some());
    // Refused access takes no token from the recipient's bucket.
    let to_carol = envelopes(&[1], &sealed_content(2));
    let other = sealed(
        &relay,
        &carol.account,
        "sealed-message-0003",
        None,
        to_carol,
    )
    .await;
    assert_eq!(other.0, StatusCode::OK);

    let relay = TestRelay::new(limited(100, 2)).await;
    let (bob, _) = bob_and_carol(&relay).await;
    let body = envelopes(&[1, 2], &sealed_content(1));
    let wrong = sealed(
        &relay,
        &bob.account,
        "sealed-message-0001",
        Some(&[1; 16]),
        body.clone(),
    )
    .await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    let ok = sealed(
        &relay,
        &bob.account,
        "sealed-message-0002",
        Some(&KEY),
        body.clone(),
    )
    .await;
    assert_eq!(ok.0, StatusCode::OK);
    let refused = sealed(
        &relay,
        &bob.account,
        "sealed-message-0003",
        Some(&KEY),
        body,
    )
    .await;
    assert_error(&refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(refused.2.get("retry-after").is_some());
}

// ---- sealed multi-recipient sends ----

const MULTI_URL: &str = "/v1/messages/sealed-multi/sealed-group-00000001";

fn recipient(account: &TestDevice, key: Option<&[u8]>, header: &[u8], devices: &[u32]) -> Value {
    let devices: Vec<Value> = devices
        .iter()
        .map(|d| json!({"device_id": d, "registration_id": 42}))
        .collect();
    let mut entry =
        json!({"account_id": account.account, "header": b64(header), "devices": devices});
    if let Some(key) = key {
        entry["access_key"] = json!(b64(key));
    }
    entry
}

async fn sealed_multi(
    relay: &TestRelay,
    url: &str,
    shared: &[u8],
    recipients: Vec<Value>,
) -> Reply {
    let body = json!({"shared": b64(shared), "recipients": recipients});
    relay.call(Method::PUT, url, None, Some(body)).await
}

fn multi_envelope(header: &[u8], shared: &[u8]) -> Vec<u8> {
    let header: [u8; 48] = header.try_into().unwrap();
    sotto_core::sealed::multi_envelope(&header, shared)
}

#[tokio::test]
async fn a_sealed_multi_send_delivers_each_account_its_envelope_once() {
    let relay = TestRelay::new(relaxed()).await;
    let (bob, carol) = bob_and_carol(&relay).await;
    let carol_header = [0xcd; 48];
    let both = || {
        vec![
            recipient(&bob, Some(&KEY), &HEADER, &[1, 2]),
            recipient(&carol, None, &carol_header, &[1]),
        ]
    };
    let first = sealed_multi(&relay, MULTI_URL, SHARED, both()).await;
    assert_eq!(
        (first.0, &first.1),
        (StatusCode::OK, &json!({"duplicate": false})),
        "{}",
        first.1
    );
    let retry = sealed_multi(&relay, MULTI_URL, SHARED, both()).await;
    assert_eq!(
        (retry.0, &retry.1),
        (StatusCode::OK, &json!({"duplicate": true}))
    );
    assert_eq!(relay.store.shared_payloads().await.unwrap(), 1);
    for (device, header) in [
        (address(&bob), &HEADER),
        (
            DeviceAddress {
                device: DeviceId::new(2).unwrap(),
                ..address(&bob)
            },
            &HEADER,
        ),
        (address(&carol), &carol_header),
    ] {
        let queued = relay.store.pending(&device, 0, 10, 0).await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].sender, None);
        assert_eq!(&queued[0].content[..], &multi_envelope(header, SHARED)[..]);
        assert_eq!(&queued[0].content[..3], &[0x19, 0x0a, 0x30]);
    }
}

#[tokio::test]
async fn a_sealed_multi_send_with_one_refused_account_stores_nothing() {
    let relay = TestRelay::new(relaxed()).await;
    let (bob, carol) = bob_and_carol(&relay).await;
    let dave = relay.register("dave", 0).await;
    let nobody = TestDevice {
        account: AccountId::random().unwrap().to_string(),
        ..dave.clone()
    };
    let cases = [
        recipient(&bob, Some(&[1; 16]), &HEADER, &[1, 2]),
        recipient(&bob, None, &HEADER, &[1, 2]),
        recipient(&bob, Some(&[1; 3]), &HEADER, &[1, 2]),
        recipient(&dave, Some(&KEY), &HEADER, &[1]),
        recipient(&nobody, Some(&KEY), &HEADER, &[1]),
    ];
    let mut bodies = Vec::new();
    for refused in cases {
        let answer = sealed_multi(
            &relay,
            MULTI_URL,
            SHARED,
            vec![recipient(&carol, None, &HEADER, &[1]), refused],
        )
        .await;
        assert_error(&answer, StatusCode::UNAUTHORIZED, "access_denied");
        assert!(answer.1.get("unknown_accounts").is_none());
        bodies.push(answer.1);
    }
    assert!(bodies.iter().all(|b| *b == bodies[0]));
    assert_eq!(relay.store.shared_payloads().await.unwrap(), 0);
    assert_eq!(relay.store.queue_len(&address(&carol)).await.unwrap(), 0);
}

#[tokio::test]
async fn malformed_and_stale_sealed_multi_sends_are_refused() {
    let policy = Policy {
        limits: Limits {
            max_envelope_bytes: 64,
            ..Limits::default()
        },
        ..relaxed()
    };
    let relay = TestRelay::new(policy).await;
    let (bob, carol) = bob_and_carol(&relay).await;
    let ok_carol = || recipient(&carol, None, &HEADER, &[1]);
    let short = sealed_multi(
        &relay,
        MULTI_URL,
        SHARED,
        vec![recipient(&carol, None, &[1; 47], &[1])],
    )
    .await;
    assert_error(&short, StatusCode::BAD_REQUEST, "invalid_envelopes");
    let versioned = [&[0x19][..], SHARED].concat();
    let versioned = sealed_multi(&relay, MULTI_URL, &versioned, vec![ok_carol()]).await;
    assert_error(&versioned, StatusCode::BAD_REQUEST, "invalid_envelopes");
    let empty = sealed_multi(&relay, MULTI_URL, b"", vec![ok_carol()]).await;
    assert_error(&empty, StatusCode::BAD_REQUEST, "invalid_envelopes");
    let none = sealed_multi(&relay, MULTI_URL, SHARED, vec![]).await;
    assert_error(&none, StatusCode::BAD_REQUEST, "invalid_envelopes");
    let mut large = SHARED.to_vec();
    large.resize(65, 0);
    let large = sealed_multi(&relay, MULTI_URL, &large, vec![ok_carol()]).await;
    assert_error(&large, StatusCode::PAYLOAD_TOO_LARGE, "envelope_too_large");
    let mut stale = recipient(&bob, Some(&KEY), &HEADER, &[1, 2]);
    stale["devices"][1]["registration_id"] = json!(7);
    let mismatch = sealed_multi(
        &relay,
        MULTI_URL,
        SHARED,
        vec![recipient(&carol, None, &HEADER, &[1, 2]), stale],
    )
    .await;
    assert_error(&mismatch, StatusCode::CONFLICT, "device_mismatch");
    assert_eq!(
        mismatch.1["accounts"],
        json!([
            {"account_id": carol.account, "extra_devices": [2]},
            {"account_id": bob.account, "stale_devices": [2]},
        ])
    );
    assert_eq!(relay.store.shared_payloads().await.unwrap(), 0);
}

#[tokio::test]
async fn sealed_multi_sends_take_a_token_per_account_and_per_request() {
    let relay = TestRelay::new(limited(1, 100)).await;
    let (bob, carol) = bob_and_carol(&relay).await;
    let url = |n: u32| format!("/v1/messages/sealed-multi/sealed-group-{n:08}");
    let ok = sealed_multi(
        &relay,
        &url(1),
        SHARED,
        vec![recipient(&carol, None, &HEADER, &[1])],
    )
    .await;
    assert_eq!(ok.0, StatusCode::OK);
    let both = vec![
        recipient(&bob, Some(&KEY), &HEADER, &[1, 2]),
        recipient(&carol, None, &HEADER, &[1]),
    ];
    let limited_answer = sealed_multi(&relay, &url(2), SHARED, both).await;
    assert_error(
        &limited_answer,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    assert!(limited_answer.2.get("retry-after").is_some());

    let relay = TestRelay::new(limited(100, 1)).await;
    let (_, carol) = bob_and_carol(&relay).await;
    let to_carol = || vec![recipient(&carol, None, &HEADER, &[1])];
    assert_eq!(
        sealed_multi(&relay, &url(1), SHARED, to_carol()).await.0,
        StatusCode::OK
    );
    let limited_answer = sealed_multi(&relay, &url(2), SHARED, to_carol()).await;
    assert_error(
        &limited_answer,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
}

#[tokio::test]
async fn sealed_envelopes_arrive_with_their_exact_bytes_and_no_sender() {
    let relay = TestRelay::new(relaxed()).await;
    let (bob, carol) = bob_and_carol(&relay).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = relay
        .relay
        .router()
        .into_make_service_with_connect_info::<ClientAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut request = format!("ws://{addr}/v1/websocket")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", carol.auth.parse().unwrap());
    let mut socket = tokio_tungstenite::connect_async(request).await.unwrap().0;
    assert_eq!(
        next_frame(&mut socket).await,
        json!({"type": "queue_empty"})
    );
    let carol_header = [0x5c; 48];
    let recipients = vec![
        recipient(&bob, Some(&KEY), &HEADER, &[1, 2]),
        recipient(&carol, None, &carol_header, &[1]),
    ];
    let answer = sealed_multi(&relay, MULTI_URL, SHARED, recipients).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    let frame = next_frame(&mut socket).await;
    assert_eq!(frame["type"], "envelope");
    assert_eq!(
        frame["content"],
        json!(b64(&multi_envelope(&carol_header, SHARED)))
    );
    assert!(
        frame["sender_account"].is_null() && frame["sender_device"].is_null(),
        "{frame}"
    );
    let single = sealed(
        &relay,
        &carol.account,
        "sealed-message-0001",
        None,
        envelopes(&[1], &sealed_content(3)),
    )
    .await;
    assert_eq!(single.0, StatusCode::OK);
    let frame = next_frame(&mut socket).await;
    assert_eq!(frame["content"], json!(b64(&sealed_content(3))));
    assert!(
        frame["sender_account"].is_null() && frame["sender_device"].is_null(),
        "{frame}"
    );
}

/// The next JSON frame, skipping pings.
async fn next_frame(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}
