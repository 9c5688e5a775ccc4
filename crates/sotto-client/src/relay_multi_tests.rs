//! `Relay::send_multi` against the real `sotto serve` binary (the one `cargo test --workspace`
//! built, found as the end-to-end harness in `tests/common` finds it): stored once, retried, stale and unknown
//! recipients, and the WebSocket delivery a recipient sees.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use futures_util::StreamExt as _;
use sotto_proto::api::{
    Base64Bytes, DeliveredEnvelope, MultiRecipient, NewDevice, RecipientDevice, ServerFrame,
    SignedPreKey,
};
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

#[path = "../tests/common/binary.rs"]
mod binary;
use binary::sotto_binary;

/// Starts `sotto serve` on a free loopback port; returns the process and its URL.
async fn start_relay(dir: &Path) -> (Child, String) {
    let mut child = Command::new(sotto_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--no-rate-limits"])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("relay exited early");
        if let Some(url) = line.strip_prefix("listening on ") {
            return (child, url.trim().to_owned());
        }
    }
}

fn signed(id: u32) -> SignedPreKey {
    SignedPreKey {
        key_id: id,
        public_key: Base64Bytes(vec![5; 33]),
        signature: Base64Bytes(vec![6; 64]),
    }
}

/// Registers `name` (one device, registration id 7) and returns its authenticated relay.
async fn member(url: &str, name: &str, secret: u8) -> (Relay, String) {
    let request = RegisterRequest {
        username: name.to_owned(),
        registration_token: None,
        identity_key: Base64Bytes(vec![9; 65]),
        device: NewDevice {
            auth_secret: Base64Bytes(vec![secret; 32]),
            registration_id: 7,
            prekeys: PreKeyUpload {
                signed_prekey: Some(signed(1)),
                last_resort_kem_prekey: Some(signed(2)),
                ..PreKeyUpload::default()
            },
        },
    };
    let anonymous = Relay::new(url, None).unwrap();
    let answer = anonymous.register(&request).await.unwrap();
    let relay = anonymous.authenticated(&answer.account_id, 1, &[secret; 32]);
    (relay, answer.account_id)
}

fn to(account: &str, registration_id: u32) -> MultiRecipient {
    MultiRecipient {
        account_id: account.to_owned(),
        devices: vec![RecipientDevice {
            device_id: 1,
            registration_id: Some(registration_id),
        }],
    }
}

async fn next_envelope(socket: &mut DeliverySocket) -> DeliveredEnvelope {
    loop {
        let message = socket.next().await.unwrap().unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        if let ServerFrame::Envelope(envelope) = serde_json::from_str(text.as_str()).unwrap() {
            return envelope;
        }
    }
}

#[tokio::test]
async fn send_multi_stores_once_and_reports_stale_and_unknown_recipients() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, url) = start_relay(dir.path()).await;
    let (alice, _) = member(&url, "alice", 1).await;
    let (bob, bob_id) = member(&url, "bob", 2).await;
    let (_, carol_id) = member(&url, "carol", 3).await;
    let request = |recipients| MultiSendRequest {
        content: Base64Bytes(b"sender key message".to_vec()),
        recipients,
    };
    let id = "multi-message-000000000001";
    let both = request(vec![to(&bob_id, 7), to(&carol_id, 7)]);
    let sent = alice.send_multi(id, &both).await.unwrap();
    assert_eq!(sent, MultiSendOutcome::Stored { duplicate: false });
    let again = alice.send_multi(id, &both).await.unwrap();
    assert_eq!(again, MultiSendOutcome::Stored { duplicate: true });
    let stale = request(vec![to(&bob_id, 8), to(&carol_id, 7)]);
    let answer = alice.send_multi("multi-message-000000000002", &stale).await;
    let MultiSendOutcome::DeviceMismatch(accounts) = answer.unwrap() else {
        panic!("expected a device mismatch")
    };
    assert_eq!((accounts.len(), &accounts[0].account_id), (1, &bob_id));
    assert_eq!(accounts[0].stale_devices, [1]);
    let ghost = "0123456789abcdef0123456789abcdef";
    let unknown = request(vec![to(&bob_id, 7), to(ghost, 7)]);
    let answer = alice
        .send_multi("multi-message-000000000003", &unknown)
        .await;
    assert_eq!(
        answer.unwrap(),
        MultiSendOutcome::UnknownAccounts(vec![ghost.to_owned()])
    );
    let bad = alice.send_multi("short", &both).await;
    assert!(
        matches!(&bad, Err(RelayError::Status { status: 400, code, .. }) if code == "invalid_message_id"),
        "{bad:?}"
    );
    let mut socket = bob.connect().await.unwrap();
    let envelope = next_envelope(&mut socket).await;
    assert_eq!(envelope.message_id, id);
    assert_eq!(envelope.content.0, b"sender key message");
}
