//! WebSocket delivery over real loopback sockets, against an in-process relay.
#![allow(clippy::unwrap_used, clippy::panic)] // test helpers: a failed unwrap is a failed test

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sotto_proto::api::{CLOSE_CONNECTED_ELSEWHERE, CLOSE_INVALID_FRAME};
use sotto_server::relay::ClientAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
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
    format!("ws://{addr}/v1/websocket")
}

async fn connect(url: &str, device: &TestDevice) -> Socket {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", device.auth.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next JSON frame, skipping pings.
async fn next_frame(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
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

/// Waits for the server's close frame and returns its code.
async fn close_code(socket: &mut Socket) -> u16 {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn send(relay: &TestRelay, from: &TestDevice, to: &TestDevice, n: u32, text: &str) {
    let url = format!("/v1/messages/{}/message-{n:012}", to.account);
    let result = relay
        .call(
            Method::PUT,
            &url,
            Some(&from.auth),
            Some(envelopes(&[to.device], text.as_bytes())),
        )
        .await;
    assert_eq!(result.0, StatusCode::OK, "{}", result.1);
}

fn content(frame: &Value) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(frame["content"].as_str().unwrap())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

async fn ack(socket: &mut Socket, frame: &Value) {
    let ack = json!({"type": "ack", "id": frame["id"]}).to_string();
    socket.send(Message::Text(ack.into())).await.unwrap();
}

#[tokio::test]
async fn backlog_then_queue_empty_then_live_and_acks_delete() {
    let relay = TestRelay::new(relaxed()).await;
    let url = listen(&relay).await;
    let (alice, bob) = (
        relay.register("alice", 0).await,
        relay.register("bob", 0).await,
    );
    for n in 0..3 {
        send(&relay, &alice, &bob, n, &format!("backlog {n}")).await;
    }
    let mut socket = connect(&url, &bob).await;
    let mut backlog = Vec::new();
    for n in 0..3 {
        let frame = next_frame(&mut socket).await;
        assert_eq!(
            (frame["type"].as_str(), content(&frame)),
            (Some("envelope"), format!("backlog {n}"))
        );
        assert_eq!(frame["sender_account"], alice.account.as_str());
        assert_eq!(frame["sender_device"], 1);
        backlog.push(frame);
    }
    assert_eq!(
        next_frame(&mut socket).await,
        json!({"type": "queue_empty"})
    );
    send(&relay, &alice, &bob, 10, "live").await;
    let live = next_frame(&mut socket).await;
    assert_eq!(content(&live), "live");
    ack(&mut socket, &backlog[0]).await;
    ack(&mut socket, &live).await;
    send(&relay, &alice, &bob, 11, "after acks").await;
    assert_eq!(content(&next_frame(&mut socket).await), "after acks");
    // The server handles frames in order and applies acks before it ends the connection,
    // so once the socket has ended both acks are applied.
    socket.close(None).await.unwrap();
    while let Some(Ok(_)) = tokio::time::timeout(PATIENCE, socket.next()).await.unwrap() {}
    let mut again = connect(&url, &bob).await;
    let mut left = Vec::new();
    loop {
        let frame = next_frame(&mut again).await;
        if frame["type"] == "queue_empty" {
            break;
        }
        left.push(content(&frame));
    }
    assert_eq!(left, ["backlog 1", "backlog 2", "after acks"]);
}

#[tokio::test]
async fn offline_device_gets_messages_on_connect() {
    let relay = TestRelay::new(relaxed()).await;
    let url = listen(&relay).await;
    let (alice, bob) = (
        relay.register("alice", 0).await,
        relay.register("bob", 0).await,
    );
    let mut socket = connect(&url, &bob).await;
    assert_eq!(next_frame(&mut socket).await["type"], "queue_empty");
    drop(socket);
    send(&relay, &alice, &bob, 1, "while offline").await;
    let mut socket = connect(&url, &bob).await;
    assert_eq!(content(&next_frame(&mut socket).await), "while offline");
    assert_eq!(next_frame(&mut socket).await["type"], "queue_empty");
}

#[tokio::test]
async fn second_connection_closes_the_first() {
    let relay = TestRelay::new(relaxed()).await;
    let url = listen(&relay).await;
    let (alice, bob) = (
        relay.register("alice", 0).await,
        relay.register("bob", 0).await,
    );
    let mut first = connect(&url, &bob).await;
    assert_eq!(next_frame(&mut first).await["type"], "queue_empty");
    let mut second = connect(&url, &bob).await;
    assert_eq!(close_code(&mut first).await, CLOSE_CONNECTED_ELSEWHERE);
    assert_eq!(next_frame(&mut second).await["type"], "queue_empty");
    send(&relay, &alice, &bob, 1, "to the new one").await;
    assert_eq!(content(&next_frame(&mut second).await), "to the new one");
}

#[tokio::test]
async fn garbage_frames_close_with_a_code_and_delete_nothing() {
    let relay = TestRelay::new(relaxed()).await;
    let url = listen(&relay).await;
    let (alice, bob) = (
        relay.register("alice", 0).await,
        relay.register("bob", 0).await,
    );
    send(&relay, &alice, &bob, 1, "keep me").await;
    let garbage = [
        Message::Text("not json".into()),
        Message::Text(r#"{"type":"ack","id":"one"}"#.into()),
        Message::Text(r#"{"type":"nack","id":1}"#.into()),
        Message::Binary(vec![0xff; 10].into()),
    ];
    for frame in garbage {
        let mut socket = connect(&url, &bob).await;
        next_frame(&mut socket).await;
        socket.send(frame).await.unwrap();
        assert_eq!(close_code(&mut socket).await, CLOSE_INVALID_FRAME);
    }
    // An oversized frame is refused by the WebSocket layer itself.
    let mut socket = connect(&url, &bob).await;
    next_frame(&mut socket).await;
    let _ = socket.send(Message::Text("x".repeat(1 << 20).into())).await;
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.unwrap() {
            Some(Ok(Message::Text(_))) => continue,
            Some(Ok(Message::Close(Some(frame)))) => break assert_eq!(frame.code, CloseCode::Size),
            other => panic!("oversized frame not refused with 1009: {other:?}"),
        }
    }
    let mut socket = connect(&url, &bob).await;
    assert_eq!(content(&next_frame(&mut socket).await), "keep me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_larger_than_the_live_queue_arrives_in_order_exactly_once() {
    let relay = TestRelay::new(relaxed()).await;
    let url = listen(&relay).await;
    let (alice, bob) = (
        relay.register("alice", 0).await,
        relay.register("bob", 0).await,
    );
    let mut socket = connect(&url, &bob).await;
    assert_eq!(next_frame(&mut socket).await["type"], "queue_empty");
    let total = 700u32;
    let sends = (0..total).map(|n| send(&relay, &alice, &bob, n, "burst"));
    // All at once, so commits outrun the connection and overflow its live queue.
    futures_util::future::join_all(sends).await;
    let mut ids = Vec::new();
    let mut names = std::collections::HashSet::new();
    while ids.len() < total as usize {
        let frame = next_frame(&mut socket).await;
        assert_eq!(frame["type"], "envelope", "{frame}");
        ids.push(frame["id"].as_i64().unwrap());
        assert!(
            names.insert(frame["message_id"].as_str().unwrap().to_owned()),
            "{frame}"
        );
        ack(&mut socket, &frame).await;
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order");
    close_and_wait(socket).await;
    let mut again = connect(&url, &bob).await;
    assert_eq!(
        next_frame(&mut again).await["type"],
        "queue_empty",
        "everything was acked"
    );
}

async fn close_and_wait(mut socket: Socket) {
    socket.close(None).await.unwrap();
    while let Some(Ok(_)) = tokio::time::timeout(PATIENCE, socket.next()).await.unwrap() {}
}

#[tokio::test]
async fn keep_alive_pings_and_a_silent_client_is_closed() {
    use sotto_server::config::Policy;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let relay = TestRelay::new(Policy {
        websocket_ping_ms: 50,
        ..relaxed()
    })
    .await;
    let url = listen(&relay).await;
    let bob = relay.register("bob", 0).await;
    // A normal client sees pings (and its library answers them): the connection stays up.
    let mut socket = connect(&url, &bob).await;
    let mut pings = 0;
    while pings < 3 {
        match tokio::time::timeout(PATIENCE, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Ping(_) => pings += 1,
            Message::Text(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(socket);
    // A client that completes the handshake and then never reads or answers is closed
    // with 4408 after two unanswered pings.
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/v1/websocket");
    let mut raw = TcpStream::connect(addr).await.unwrap();
    let handshake = format!(
        "GET /v1/websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: {}\r\n\r\n",
        bob.auth
    );
    raw.write_all(handshake.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, raw.read_to_end(&mut received))
        .await
        .unwrap()
        .unwrap();
    let close_4408 = [0x88u8, 0x11, 0x38];
    let found = received
        .windows(2)
        .position(|w| w[0] == 0x88)
        .map(|at| &received[at..]);
    let frame = found.expect("no close frame");
    assert_eq!(
        (frame[0], frame[2], frame[3]),
        (close_4408[0], close_4408[1], close_4408[2]),
        "{frame:?}"
    );
}
