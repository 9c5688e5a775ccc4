//! In-process tests of `PUT /v1/messages/multi/{message_id}`: one ciphertext stored once for
//! the devices of several accounts, every error it answers, and delivery over the WebSocket
//! looking exactly like an ordinary envelope.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sotto_server::config::{BucketConfig, Limits, Policy, RateLimitConfig};
use sotto_server::domain::{AccountId, DeviceAddress, DeviceId};
use sotto_server::relay::ClientAddr;
use sotto_server::store::Mailbox;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const URL: &str = "/v1/messages/multi/group-message-00000001";

fn address(device: &TestDevice) -> DeviceAddress {
    DeviceAddress {
        account: AccountId::parse(&device.account).unwrap(),
        device: DeviceId::new(device.device).unwrap(),
    }
}

/// One recipient entry: the account and its devices, all with the tests' registration id 42.
fn to(account: &TestDevice, devices: &[u32]) -> Value {
    let devices: Vec<Value> = devices
        .iter()
        .map(|d| json!({"device_id": d, "registration_id": 42}))
        .collect();
    json!({"account_id": account.account, "devices": devices})
}

fn body(content: &[u8], recipients: Vec<Value>) -> Value {
    json!({"content": b64(content), "recipients": recipients})
}

async fn put(relay: &TestRelay, from: &TestDevice, url: &str, body: Value) -> Reply {
    relay
        .call(Method::PUT, url, Some(&from.auth), Some(body))
        .await
}

type Reply = (StatusCode, Value, axum::http::HeaderMap);

/// Alice (devices 1 and 2), Bob (devices 1, 2, 3) and Carol (device 1).
async fn three_members(relay: &TestRelay) -> (TestDevice, TestDevice, TestDevice) {
    let alice = relay.register("alice", 0).await;
    relay.add_device(&alice, 0).await;
    let bob = relay.register("bob", 0).await;
    relay.add_device(&bob, 0).await;
    relay.add_device(&bob, 0).await;
    (alice, bob, relay.register("carol", 0).await)
}

#[tokio::test]
async fn a_group_message_is_stored_once_for_every_device() {
    let relay = TestRelay::new(relaxed()).await;
    let (alice, bob, carol) = three_members(&relay).await;
    let recipients = vec![to(&bob, &[1, 2, 3]), to(&carol, &[1]), to(&alice, &[2])];
    let sent = put(&relay, &alice, URL, body(b"group", recipients.clone())).await;
    assert_eq!(
        (sent.0, sent.1),
        (StatusCode::OK, json!({"duplicate": false}))
    );
    let retry = put(&relay, &alice, URL, body(b"group", recipients)).await;
    assert_eq!(
        (retry.0, retry.1),
        (StatusCode::OK, json!({"duplicate": true}))
    );
    assert_eq!(relay.store.shared_payloads().await.unwrap(), 1);
    for (account, device) in [(&bob, 1), (&bob, 3), (&carol, 1), (&alice, 2)] {
        let recipient = DeviceAddress {
            device: DeviceId::new(device).unwrap(),
            ..address(account)
        };
        let queued = relay.store.pending(&recipient, 0, 10, 0).await.unwrap();
        assert_eq!(queued.len(), 1, "one entry for {device}");
        assert_eq!(&queued[0].content[..], b"group");
        assert_eq!(queued[0].sender, Some(address(&alice)));
    }
    assert_eq!(relay.store.queue_len(&address(&alice)).await.unwrap(), 0);
}

#[tokio::test]
async fn a_stale_routing_list_names_every_stale_account_and_stores_nothing() {
    let relay = TestRelay::new(relaxed()).await;
    let (alice, bob, carol) = three_members(&relay).await;
    let dave = relay.register("dave", 0).await;
    let mut stale_dave = to(&dave, &[1]);
    stale_dave["devices"][0]["registration_id"] = json!(43);
    let recipients = vec![
        to(&bob, &[1, 2]),
        to(&carol, &[1, 2]),
        stale_dave,
        to(&alice, &[1, 2]),
    ];
    let reply = put(&relay, &alice, URL, body(b"group", recipients)).await;
    assert_error(&reply, StatusCode::CONFLICT, "device_mismatch");
    let expected = json!([
        {"account_id": bob.account, "missing_devices": [3]},
        {"account_id": carol.account, "extra_devices": [2]},
        {"account_id": dave.account, "stale_devices": [1]},
        {"account_id": alice.account, "extra_devices": [1]},
    ]);
    assert_eq!(reply.1["accounts"], expected);
    assert_eq!(relay.store.queue_len(&address(&bob)).await.unwrap(), 0);
    assert_eq!(relay.store.shared_payloads().await.unwrap(), 0);
}

#[tokio::test]
async fn unknown_accounts_are_named() {
    let relay = TestRelay::new(relaxed()).await;
    let (alice, bob, _) = three_members(&relay).await;
    let stranger = AccountId::random().unwrap().to_string();
    let ghost =
        json!({"account_id": stranger, "devices": [{"device_id": 1, "registration_id": 1}]});
    let reply = put(
        &relay,
        &alice,
        URL,
        body(b"x", vec![to(&bob, &[1, 2, 3]), ghost]),
    )
    .await;
    assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(reply.1["unknown_accounts"], json!([stranger]));
    assert_eq!(relay.store.queue_len(&address(&bob)).await.unwrap(), 0);
}

#[tokio::test]
async fn malformed_sends_are_refused() {
    let relay = TestRelay::new(relaxed()).await;
    let (alice, bob, carol) = three_members(&relay).await;
    let ok = || vec![to(&bob, &[1, 2, 3])];
    let bad_request = [
        (body(b"x", vec![]), "invalid_envelopes"),
        (body(b"", ok()), "invalid_envelopes"),
        (
            body(b"x", vec![to(&bob, &[1, 2, 3]), to(&bob, &[1])]),
            "invalid_envelopes",
        ),
        (body(b"x", vec![to(&carol, &[])]), "invalid_envelopes"),
        (body(b"x", vec![to(&carol, &[1, 1])]), "invalid_envelopes"),
        (body(b"x", vec![to(&carol, &[0])]), "invalid_device_id"),
        (
            json!({"content": "AA==", "recipients": [{"account_id": "nope", "devices": []}]}),
            "invalid_account_id",
        ),
        (json!({"content": "A", "recipients": []}), "invalid_base64"),
        (
            json!({"content": "AA==", "recipient": []}),
            "malformed_json",
        ),
    ];
    for (request, code) in bad_request {
        let reply = put(&relay, &alice, URL, request).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, code);
    }
    let short_id = put(&relay, &alice, "/v1/messages/multi/short", body(b"x", ok())).await;
    assert_error(&short_id, StatusCode::BAD_REQUEST, "invalid_message_id");
    let big = body(&vec![0; 96 * 1024 + 1], ok());
    assert_error(
        &put(&relay, &alice, URL, big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "envelope_too_large",
    );
    let crowd: Vec<Value> = (0..1_001)
        .map(|_| to(&carol, &[1, 2, 3, 4, 5, 6]))
        .collect();
    assert_error(
        &put(&relay, &alice, URL, body(b"x", crowd)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_recipients",
    );
    let huge = relay
        .call_raw(
            Method::PUT,
            URL,
            Some(&alice.auth),
            Some(vec![b'{'; 2 << 20]),
        )
        .await;
    assert_error(&huge, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    let anonymous = relay
        .call(Method::PUT, URL, None, Some(body(b"x", ok())))
        .await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(relay.store.queue_len(&address(&bob)).await.unwrap(), 0);
    // The largest allowed content is accepted.
    let largest = put(&relay, &alice, URL, body(&vec![0; 96 * 1024], ok())).await;
    assert_eq!(largest.0, StatusCode::OK, "{}", largest.1);
}

#[tokio::test]
async fn every_recipient_account_costs_a_message_token_and_full_mailboxes_refuse() {
    let policy = Policy {
        rate_limits: RateLimitConfig {
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
        },
        limits: Limits {
            max_queue: 2,
            ..Limits::default()
        },
        ..Policy::default()
    };
    let relay = TestRelay::new(policy).await;
    let (alice, bob, carol) = three_members(&relay).await;
    let group = |n: u32| format!("/v1/messages/multi/group-message-{n:08}");
    let both = || vec![to(&bob, &[1, 2, 3]), to(&carol, &[1])];
    assert_eq!(
        put(&relay, &alice, &group(1), body(b"1", both())).await.0,
        StatusCode::OK
    );
    let to_bob = format!("/v1/messages/{}/single-message-0001", bob.account);
    let single = relay
        .call(
            Method::PUT,
            &to_bob,
            Some(&alice.auth),
            Some(envelopes(&[1, 2, 3], b"s")),
        )
        .await;
    assert_eq!(
        single.0,
        StatusCode::OK,
        "the same pair bucket as single sends"
    );
    let limited = put(&relay, &alice, &group(2), body(b"2", both())).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Bob's queues hold two envelopes now: the cap refuses the whole send.
    let full = put(
        &relay,
        &carol,
        &group(3),
        body(b"3", vec![to(&bob, &[1, 2, 3])]),
    )
    .await;
    assert_error(&full, StatusCode::INSUFFICIENT_STORAGE, "mailbox_full");
    assert_eq!(relay.store.shared_payloads().await.unwrap(), 1);
}

#[tokio::test]
async fn a_group_message_arrives_as_an_ordinary_envelope() {
    let relay = TestRelay::new(relaxed()).await;
    let (alice, bob, carol) = three_members(&relay).await;
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
    let recipients = vec![to(&bob, &[1, 2, 3]), to(&carol, &[1])];
    assert_eq!(
        put(&relay, &alice, URL, body(b"live", recipients)).await.0,
        StatusCode::OK
    );
    let frame = next_frame(&mut socket).await;
    let mut keys: Vec<&String> = frame.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "content",
            "id",
            "message_id",
            "sender_account",
            "sender_device",
            "server_timestamp",
            "type"
        ]
    );
    assert_eq!(
        (&frame["type"], &frame["message_id"], &frame["content"]),
        (
            &json!("envelope"),
            &json!("group-message-00000001"),
            &json!(b64(b"live"))
        )
    );
    assert_eq!(
        (&frame["sender_account"], &frame["sender_device"]),
        (&json!(alice.account), &json!(1))
    );
    let ack = json!({"type": "ack", "id": frame["id"]}).to_string();
    socket.send(Message::text(ack)).await.unwrap();
    // The server applies acks before it ends the connection: once the socket has ended, the
    // ack is applied. Bob's three entries still hold the payload.
    socket.close(None).await.unwrap();
    let patience = Duration::from_secs(10);
    while let Some(Ok(_)) = tokio::time::timeout(patience, socket.next()).await.unwrap() {}
    assert_eq!(relay.store.queue_len(&address(&carol)).await.unwrap(), 0);
    assert_eq!(relay.store.shared_payloads().await.unwrap(), 1);
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
