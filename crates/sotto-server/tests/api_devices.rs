//! In-process tests of linking (provisioning channels, link tokens), the device list, device
//! removal and the 410 answer for re-linked devices.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{Value, json};

/// Opens a channel; returns its id and the bearer header that reads it.
async fn open_channel(relay: &TestRelay) -> (String, String) {
    let (status, answer, _) = relay
        .call(Method::POST, "/v1/provisioning", None, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["expires_in_secs"], 600);
    let id = answer["channel_id"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {}", answer["secret"].as_str().unwrap());
    (id, bearer)
}

async fn link_token(relay: &TestRelay, owner: &TestDevice) -> String {
    let (status, answer, _) = relay
        .call(
            Method::POST,
            "/v1/devices/link-token",
            Some(&owner.auth),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer["token"].as_str().unwrap().to_owned()
}

async fn link(relay: &TestRelay, token: &str, secret: &[u8]) -> (StatusCode, Value) {
    let body = json!({"link_token": token, "device": new_device(secret, 1)});
    let (status, answer, _) = relay
        .call(Method::POST, "/v1/devices/link", None, Some(body))
        .await;
    (status, answer)
}

#[tokio::test]
async fn a_channel_carries_one_message_to_the_holder_of_its_secret() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    let (id, bearer) = open_channel(&relay).await;
    let path = format!("/v1/provisioning/{id}");
    let empty = relay.call(Method::GET, &path, Some(&bearer), None).await;
    assert_eq!(empty.0, StatusCode::NO_CONTENT);
    let wrong = format!("Bearer {}", b64(&[0; 32]));
    let refused = relay.call(Method::GET, &path, Some(&wrong), None).await;
    assert_error(&refused, StatusCode::NOT_FOUND, "not_found");
    let anonymous = relay.call(Method::GET, &path, None, None).await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");

    let body = json!({"message": b64(b"ciphertext")});
    let unauthenticated = relay
        .call(Method::PUT, &path, None, Some(body.clone()))
        .await;
    assert_error(&unauthenticated, StatusCode::UNAUTHORIZED, "unauthorized");
    let put = relay
        .call(Method::PUT, &path, Some(&alice.auth), Some(body.clone()))
        .await;
    assert_eq!(put.0, StatusCode::NO_CONTENT, "{}", put.1);
    let again = relay
        .call(Method::PUT, &path, Some(&alice.auth), Some(body))
        .await;
    assert_error(&again, StatusCode::CONFLICT, "channel_filled");

    let read = relay.call(Method::GET, &path, Some(&bearer), None).await;
    assert_eq!(read.0, StatusCode::OK);
    assert_eq!(read.1["message"], b64(b"ciphertext"));
    let gone = relay.call(Method::GET, &path, Some(&bearer), None).await;
    assert_error(&gone, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn provisioning_messages_are_bounded_and_channels_must_exist() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    let (id, _) = open_channel(&relay).await;
    let path = format!("/v1/provisioning/{id}");
    let big = json!({"message": b64(&vec![1; 64 * 1024 + 1])});
    let too_large = relay
        .call(Method::PUT, &path, Some(&alice.auth), Some(big))
        .await;
    assert_error(
        &too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        "provisioning_too_large",
    );
    let body = json!({"message": b64(b"x")});
    let unknown = relay
        .call(
            Method::PUT,
            "/v1/provisioning/nosuchchannel",
            Some(&alice.auth),
            Some(body.clone()),
        )
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    let bad_id = relay
        .call(
            Method::PUT,
            "/v1/provisioning/a%21b",
            Some(&alice.auth),
            Some(body),
        )
        .await;
    assert_error(&bad_id, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_link_token_adds_one_device_that_then_authenticates() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    let token = link_token(&relay, &alice).await;
    let (status, answer) = link(&relay, &token, &[50; 32]).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["account_id"], alice.account.as_str());
    assert_eq!(answer["device_id"], 2);
    let second = device(&alice.account, 2, vec![50; 32]);
    let list = relay
        .call(Method::GET, "/v1/devices", Some(&second.auth), None)
        .await;
    assert_eq!(list.0, StatusCode::OK, "{}", list.1);
    let ids: Vec<u64> = list.1["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(
        list.1["devices"][1]["created_day"].as_str().unwrap().len(),
        10
    );

    let (status, reused) = link(&relay, &token, &[51; 32]).await;
    assert_eq!(
        (status, reused["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_link_token"))
    );
    let (status, made_up) = link(&relay, "made-up", &[51; 32]).await;
    assert_eq!(
        (status, made_up["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_link_token"))
    );
    let anonymous = relay
        .call(Method::POST, "/v1/devices/link-token", None, None)
        .await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn the_device_limit_holds_for_linked_devices() {
    let mut policy = relaxed();
    policy.limits.max_devices = 2;
    let relay = TestRelay::new(policy).await;
    let alice = relay.register("alice", 1).await;
    let first = link_token(&relay, &alice).await;
    assert_eq!(link(&relay, &first, &[60; 32]).await.0, StatusCode::CREATED);
    let second = link_token(&relay, &alice).await;
    let (status, full) = link(&relay, &second, &[61; 32]).await;
    assert_eq!(
        (status, full["code"].as_str()),
        (StatusCode::CONFLICT, Some("too_many_devices"))
    );
}

#[tokio::test]
async fn a_removed_device_cannot_authenticate_and_senders_see_409() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    let bob = relay.register("bob", 1).await;
    let second = relay.add_device(&alice, 1).await;
    let to_alice = format!("/v1/messages/{}/", alice.account);
    let queued = relay
        .call(
            Method::PUT,
            &format!("{to_alice}0123456789abcdef"),
            Some(&bob.auth),
            Some(envelopes(&[1, 2], b"hi")),
        )
        .await;
    assert_eq!(queued.0, StatusCode::OK, "{}", queued.1);

    let me = format!("/v1/devices/{}", alice.device);
    let own = relay
        .call(Method::DELETE, &me, Some(&alice.auth), None)
        .await;
    assert_error(&own, StatusCode::BAD_REQUEST, "cannot_remove_self");
    let bad = relay
        .call(Method::DELETE, "/v1/devices/x", Some(&alice.auth), None)
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_device_id");
    let path = format!("/v1/devices/{}", second.device);
    let removed = relay
        .call(Method::DELETE, &path, Some(&alice.auth), None)
        .await;
    assert_eq!(removed.0, StatusCode::NO_CONTENT, "{}", removed.1);
    let again = relay
        .call(Method::DELETE, &path, Some(&alice.auth), None)
        .await;
    assert_error(&again, StatusCode::NOT_FOUND, "not_found");

    let locked_out = relay
        .call(Method::GET, "/v1/devices", Some(&second.auth), None)
        .await;
    assert_error(&locked_out, StatusCode::UNAUTHORIZED, "unauthorized");
    let stale = relay
        .call(
            Method::PUT,
            &format!("{to_alice}0123456789abcdeg"),
            Some(&bob.auth),
            Some(envelopes(&[1, 2], b"hi")),
        )
        .await;
    assert_error(&stale, StatusCode::CONFLICT, "device_mismatch");
    assert_eq!(stale.1["extra_devices"], json!([2]));
}

#[tokio::test]
async fn a_send_quoting_an_old_registration_id_gets_410() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    let bob = relay.register("bob", 1).await;
    let path = format!("/v1/messages/{}/0123456789abcdef", alice.account);
    let body = |registration_id: u32| json!({"envelopes": [{"device_id": 1, "content": b64(b"x"), "registration_id": registration_id}]});
    let stale = relay
        .call(Method::PUT, &path, Some(&bob.auth), Some(body(7)))
        .await;
    assert_error(&stale, StatusCode::GONE, "stale_devices");
    assert_eq!(stale.1["stale_devices"], json!([1]));
    // `new_device` registers with registration id 42.
    let current = relay
        .call(Method::PUT, &path, Some(&bob.auth), Some(body(42)))
        .await;
    assert_eq!(current.0, StatusCode::OK, "{}", current.1);
}
