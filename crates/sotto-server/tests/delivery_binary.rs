//! The binary delivery WebSocket (`?frames=binary`): sends with typed results, pushes, acks of
//! several ids per frame, and the close code for bad frames. Real loopback sockets.
#![allow(clippy::unwrap_used, clippy::panic)] // test helpers: a failed unwrap is a failed test

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use futures_util::{SinkExt, StreamExt};
use sotto_proto::api::CLOSE_INVALID_FRAME;
use sotto_proto::frames::{
    self, Acks, DeviceCiphertext, PushedEnvelope, SendMessage, SendResult, client_message,
    server_message,
};
use sotto_server::relay::ClientAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Every wait in these tests is bounded, so a bug fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(10);

async fn listen(relay: &TestRelay) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = relay
        .relay
        .router()
        .into_make_service_with_connect_info::<ClientAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("ws://{addr}/v1/websocket?frames=binary")
}

async fn connect(url: &str, device: &TestDevice) -> Socket {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", device.auth.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next server frame, skipping pings.
async fn next_frame(socket: &mut Socket) -> server_message::Kind {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match message {
            Message::Binary(bytes) => return frames::decode_server(&bytes).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn queue_empty(socket: &mut Socket) {
    let frame = next_frame(socket).await;
    assert!(
        matches!(frame, server_message::Kind::QueueEmpty(_)),
        "{frame:?}"
    );
}

async fn envelope(socket: &mut Socket) -> PushedEnvelope {
    match next_frame(socket).await {
        server_message::Kind::Envelope(envelope) => envelope,
        other => panic!("expected an envelope, got {other:?}"),
    }
}

async fn result(socket: &mut Socket) -> SendResult {
    match next_frame(socket).await {
        server_message::Kind::SendResult(result) => result,
        other => panic!("expected a send result, got {other:?}"),
    }
}

fn send_frame(request_id: u64, to: &str, message_id: &str, devices: &[(u32, Vec<u8>)]) -> Message {
    let send = SendMessage {
        request_id,
        recipient_account: to.into(),
        message_id: message_id.into(),
        envelopes: devices
            .iter()
            .map(|(device_id, content)| DeviceCiphertext {
                device_id: *device_id,
                content: content.clone(),
            })
            .collect(),
    };
    Message::Binary(frames::encode_client(client_message::Kind::Send(send)).into())
}

fn acks_frame(ids: Vec<i64>) -> Message {
    Message::Binary(frames::encode_client(client_message::Kind::Acks(Acks { ids })).into())
}

async fn close_code(socket: &mut Socket) -> u16 {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn sends_are_answered_pushed_and_acked_in_one_frame() {
    let relay = TestRelay::new(relaxed()).await;
    let url = listen(&relay).await;
    let (alice, bob) = (
        relay.register("alice", 0).await,
        relay.register("bob", 0).await,
    );
    let mut sender = connect(&url, &alice).await;
    queue_empty(&mut sender).await;
    let mut receiver = connect(&url, &bob).await;
    queue_empty(&mut receiver).await;
    for n in 0..3u8 {
        let id = format!("message-{n:012}");
        let frame = send_frame(u64::from(n) + 10, &bob.account, &id, &[(1, vec![n; 5])]);
        sender.send(frame).await.unwrap();
    }
    let mut answered: Vec<u64> = Vec::new();
    for _ in 0..3 {
        let answer = result(&mut sender).await;
        assert_eq!((answer.duplicate, answer.error), (false, None));
        answered.push(answer.request_id);
    }
    answered.sort_unstable();
    assert_eq!(answered, [10, 11, 12]);
    // A retry with the same message id is stored once.
    let retry = send_frame(99, &bob.account, "message-000000000001", &[(1, vec![1; 5])]);
    sender.send(retry).await.unwrap();
    let answer = result(&mut sender).await;
    assert_eq!((answer.request_id, answer.duplicate), (99, true));
    let mut ids = Vec::new();
    for n in 0..3u8 {
        let pushed = envelope(&mut receiver).await;
        assert_eq!(pushed.content, vec![n; 5]);
        assert_eq!(
            pushed.sender_account.as_deref(),
            Some(alice.account.as_str())
        );
        assert_eq!(pushed.sender_device, Some(1));
        ids.push(pushed.id);
    }
    receiver.send(acks_frame(ids)).await.unwrap();
    receiver.close(None).await.unwrap();
    while let Some(Ok(_)) = tokio::time::timeout(PATIENCE, receiver.next())
        .await
        .unwrap()
    {}
    // Everything was acked in one frame: a new connection starts with an empty queue.
    let mut again = connect(&url, &bob).await;
    queue_empty(&mut again).await;
}

/// Recipient, message id, envelopes, expected status and code.
type FailedSend<'a> = (&'a str, &'a str, Vec<(u32, Vec<u8>)>, u32, &'a str);

#[tokio::test]
async fn failed_sends_are_typed_results_and_the_connection_stays_up() {
    let relay = TestRelay::new(relaxed()).await;
    let url = listen(&relay).await;
    let (alice, bob) = (
        relay.register("alice", 0).await,
        relay.register("bob", 0).await,
    );
    relay.add_device(&bob, 0).await;
    let mut socket = connect(&url, &alice).await;
    queue_empty(&mut socket).await;
    let too_large = vec![7u8; 96 * 1024 + 1];
    let cases: [FailedSend; 5] = [
        (
            &bob.account,
            "message-000000000001",
            vec![(1, vec![1])],
            409,
            "device_mismatch",
        ),
        (
            &bob.account,
            "message-000000000002",
            vec![(1, too_large.clone()), (2, vec![1])],
            413,
            "envelope_too_large",
        ),
        (
            &bob.account,
            "bad id",
            vec![(1, vec![1]), (2, vec![1])],
            400,
            "invalid_message_id",
        ),
        (
            "0123456789abcdef0123456789abcdef",
            "message-000000000003",
            vec![(1, vec![1])],
            404,
            "not_found",
        ),
        (
            &bob.account,
            "message-000000000004",
            vec![],
            400,
            "invalid_envelopes",
        ),
    ];
    for (n, (to, message_id, devices, status, code)) in cases.into_iter().enumerate() {
        let request_id = n as u64;
        socket
            .send(send_frame(request_id, to, message_id, &devices))
            .await
            .unwrap();
        let answer = result(&mut socket).await;
        let error = answer.error.unwrap_or_else(|| panic!("{code}: no error"));
        assert_eq!(
            (answer.request_id, error.status, error.code.as_str()),
            (request_id, status, code)
        );
        assert!(!error.message.is_empty());
        if code == "device_mismatch" {
            assert_eq!(
                (error.missing_devices, error.extra_devices),
                (vec![2], vec![])
            );
        }
    }
    let fixed = send_frame(
        7,
        &bob.account,
        "message-000000000001",
        &[(1, vec![1]), (2, vec![2])],
    );
    socket.send(fixed).await.unwrap();
    assert_eq!(result(&mut socket).await.error, None);
}

#[tokio::test]
async fn garbage_binary_frames_close_with_4400_and_delete_nothing() {
    let relay = TestRelay::new(relaxed()).await;
    let url = listen(&relay).await;
    let (alice, bob) = (
        relay.register("alice", 0).await,
        relay.register("bob", 0).await,
    );
    let body = envelopes(&[bob.device], b"keep me");
    let path = format!("/v1/messages/{}/message-000000000001", bob.account);
    let sent = relay
        .call(Method::PUT, &path, Some(&alice.auth), Some(body))
        .await;
    assert_eq!(sent.0, StatusCode::OK);
    let garbage = [
        Message::Binary(Vec::new().into()),
        Message::Binary(vec![2, 0x0a, 0x00].into()),
        Message::Binary(vec![1, 0x0a, 0xff, 0xff].into()),
        Message::Binary(vec![1].into()),
        Message::Binary(vec![0xff; 10].into()),
        Message::Text(r#"{"type":"ack","id":1}"#.into()),
        acks_frame((0..300).collect()),
    ];
    for frame in garbage {
        let mut socket = connect(&url, &bob).await;
        envelope(&mut socket).await;
        socket.send(frame).await.unwrap();
        assert_eq!(close_code(&mut socket).await, CLOSE_INVALID_FRAME);
    }
    let mut socket = connect(&url, &bob).await;
    assert_eq!(envelope(&mut socket).await.content, b"keep me");
}

#[tokio::test]
async fn an_unknown_frame_format_is_refused() {
    let relay = TestRelay::new(relaxed()).await;
    let bob = relay.register("bob", 0).await;
    let result = relay
        .call(
            Method::GET,
            "/v1/websocket?frames=xml",
            Some(&bob.auth),
            None,
        )
        .await;
    assert_error(&result, StatusCode::BAD_REQUEST, "invalid_frame_format");
    let result = relay
        .call(
            Method::GET,
            "/v1/websocket?frames=binary",
            Some(&bob.auth),
            None,
        )
        .await;
    assert_error(&result, StatusCode::BAD_REQUEST, "websocket_required");
}
