//! End-to-end tests: the real `sotto serve` binary on an OS-chosen port, driven over loopback.
#![allow(clippy::unwrap_used, clippy::panic)] // test helpers: a failed unwrap is a failed test

use futures_util::{SinkExt, StreamExt};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use sotto_cli::relay_client::{Credentials, DeliverySocket, RelayClient, sample_prekeys};
use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

/// Upper bound on every wait, so a bug fails a test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

struct Server {
    child: Child,
    client: RelayClient,
}

impl Server {
    /// Starts `sotto serve` on port 0 and waits for its announcement line.
    async fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sotto"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-rate-limits",
                "--log",
                "warn",
                "--data-dir",
            ])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let base = line.strip_prefix("listening on ").unwrap().to_owned();
        Server {
            child,
            client: RelayClient::new(&base),
        }
    }

    /// SIGTERM, then wait for a clean exit.
    async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap()
            .unwrap()
    }
}

async fn next_frame(socket: &mut DeliverySocket) -> Value {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// Reads envelopes until `queue_empty`, acking each; returns their message ids in order.
async fn drain(socket: &mut DeliverySocket) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let frame = next_frame(socket).await;
        if frame["type"] == "queue_empty" {
            return ids;
        }
        ids.push(frame["message_id"].as_str().unwrap().to_owned());
        socket
            .send(Message::Text(
                json!({"type": "ack", "id": frame["id"]}).to_string().into(),
            ))
            .await
            .unwrap();
    }
}

/// Closes and waits until the server has ended the connection (acks applied by then).
async fn close(mut socket: DeliverySocket) {
    let _ = socket.close(None).await;
    while let Ok(Some(Ok(_))) = tokio::time::timeout(PATIENCE, socket.next()).await {}
}

fn message_id(n: u32) -> String {
    format!("e2e-message-{n:08}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_keys_send_receive_ack_offline_online() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let relay = &server.client;
    let alice = relay.register("alice", 0).await.unwrap();
    let bob = relay.register("Bob", 5).await.unwrap();
    let (status, _) = relay
        .json(Method::PUT, "/v1/keys", Some(&bob), &sample_prekeys(500, 5))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, info) = relay
        .request(Method::GET, "/v1/accounts/bob", Some(&alice), None)
        .await
        .unwrap();
    let info: Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(info["account_id"], bob.account_id.as_str());

    // Twenty concurrent fetches of five one-time keys: each key handed out exactly once.
    let fetches = (0..20).map(|_| {
        let (relay, alice, path) = (
            relay.clone(),
            alice.clone(),
            format!("/v1/keys/{}/1", bob.account_id),
        );
        tokio::spawn(async move {
            relay
                .request(Method::GET, &path, Some(&alice), None)
                .await
                .unwrap()
        })
    });
    let mut taken = Vec::new();
    for fetch in fetches.collect::<Vec<_>>() {
        let (status, body) = fetch.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        let bundle: Value = serde_json::from_slice(&body).unwrap();
        if let Some(id) = bundle["devices"][0]["one_time_prekey"]["key_id"].as_u64() {
            taken.push(id);
        }
    }
    taken.sort_unstable();
    assert_eq!(taken, [500, 501, 502, 503, 504]);

    // Bob online: live delivery and ack.
    let mut socket = relay.connect(&bob).await.unwrap();
    assert_eq!(next_frame(&mut socket).await["type"], "queue_empty");
    let (status, _) = relay
        .send(
            &alice,
            &bob.account_id,
            &message_id(1),
            vec![(1, b"hello bob".to_vec())],
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let frame = next_frame(&mut socket).await;
    assert_eq!(
        (frame["message_id"].as_str(), frame["content"].as_str()),
        (Some(message_id(1).as_str()), Some("aGVsbG8gYm9i"))
    );
    socket
        .send(Message::Text(
            json!({"type": "ack", "id": frame["id"]}).to_string().into(),
        ))
        .await
        .unwrap();
    close(socket).await;

    // Bob offline: messages wait, then arrive in order on reconnect; nothing comes twice.
    for n in 2..=4 {
        relay
            .send(
                &alice,
                &bob.account_id,
                &message_id(n),
                vec![(1, vec![n as u8])],
            )
            .await
            .unwrap();
    }
    let mut socket = relay.connect(&bob).await.unwrap();
    assert_eq!(
        drain(&mut socket).await,
        [message_id(2), message_id(3), message_id(4)]
    );
    close(socket).await;
    let mut socket = relay.connect(&bob).await.unwrap();
    assert!(drain(&mut socket).await.is_empty());
    assert!(server.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_send_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let alice = server.client.register("alice", 0).await.unwrap();
    let bob = server.client.register("bob", 0).await.unwrap();
    let acknowledged = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let (first_success_tx, first_success) = tokio::sync::watch::channel(0usize);
    let first_success_tx = Arc::new(first_success_tx);
    // Four senders keep sending until the server dies under them.
    let senders: Vec<_> = (0..4u32)
        .map(|lane| {
            let (client, alice, bob_id) =
                (server.client.clone(), alice.clone(), bob.account_id.clone());
            let (acknowledged, progress) = (acknowledged.clone(), first_success_tx.clone());
            tokio::spawn(async move {
                let mut attempted = Vec::new();
                for n in 0..100_000u32 {
                    let id = message_id(lane * 1_000_000 + n);
                    attempted.push(id.clone());
                    match client
                        .send(&alice, &bob_id, &id, vec![(1, id.clone().into_bytes())])
                        .await
                    {
                        Ok((StatusCode::OK, _)) => {
                            let count = {
                                let mut done = acknowledged.lock().unwrap();
                                done.insert(id);
                                done.len()
                            };
                            progress.send_replace(count);
                        }
                        _ => break,
                    }
                }
                attempted
            })
        })
        .collect();
    let mut watcher = first_success.clone();
    tokio::time::timeout(PATIENCE, watcher.wait_for(|n| *n >= 300))
        .await
        .unwrap()
        .unwrap();
    let Server { mut child, .. } = server;
    child.kill().await.unwrap(); // SIGKILL: no shutdown code runs.
    let mut attempted = Vec::new();
    for sender in senders {
        attempted.extend(sender.await.unwrap());
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 300);

    let server = Server::start(dir.path()).await;
    let mut socket = server.client.connect(&bob).await.unwrap();
    let delivered = drain(&mut socket).await;
    close(socket).await;
    let unique: HashSet<_> = delivered.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "an envelope was delivered twice"
    );
    let lost: Vec<_> = acknowledged.difference(&unique).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged sends lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );

    // The client retries every send it attempted: nothing already stored is stored again.
    for id in &attempted {
        let (status, answer) = server
            .client
            .send(
                &alice,
                &bob.account_id,
                id,
                vec![(1, id.clone().into_bytes())],
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["duplicate"], unique.contains(id), "{id}");
    }
    let mut socket = server.client.connect(&bob).await.unwrap();
    let retried: HashSet<_> = drain(&mut socket).await.into_iter().collect();
    assert!(retried.is_disjoint(&unique));
    assert_eq!(retried.len() + unique.len(), attempted.len());
    close(socket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_websockets_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let bob = server.client.register("bob", 0).await.unwrap();
    let mut socket = server.client.connect(&bob).await.unwrap();
    assert_eq!(next_frame(&mut socket).await["type"], "queue_empty");
    let exit = tokio::spawn(server.terminate());
    let code = loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, sotto_proto::api::CLOSE_GOING_AWAY);
    assert!(exit.await.unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let relay = &server.client;
    let alice = relay.register("alice", 0).await.unwrap();
    let cases: [(&[u8], &str); 3] = [
        (b"{", "malformed_json"),
        (b"[]", "malformed_json"),
        (
            br#"{"envelopes":[{"device_id":1,"content":"@@"}]}"#,
            "invalid_base64",
        ),
    ];
    let path = format!("/v1/messages/{}/{}", alice.account_id, message_id(1));
    let bob = relay.register("bob", 0).await.unwrap();
    let path = path.replace(&alice.account_id, &bob.account_id);
    for (body, code) in cases {
        let (status, answer) = relay
            .request(Method::PUT, &path, Some(&alice), Some(body.to_vec()))
            .await
            .unwrap();
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code))
        );
    }
    let forged = Credentials::new(alice.account_id.clone(), 1, [0; 32]);
    let (status, _) = relay
        .request(Method::GET, "/v1/keys/count", Some(&forged), None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Raw garbage on the TCP port.
    let addr = relay_addr(relay).await;
    let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut raw, b"\x00\xffGARBAGE\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(
        PATIENCE,
        tokio::io::AsyncReadExt::read_to_end(&mut raw, &mut reply),
    )
    .await
    .unwrap();
    assert!(
        reply.is_empty() || reply.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let (status, _) = relay
        .request(Method::GET, "/healthz", None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    // Nothing was stored by the rejected sends.
    let mut socket = relay.connect(&bob).await.unwrap();
    assert!(drain(&mut socket).await.is_empty());
}

async fn relay_addr(relay: &RelayClient) -> String {
    relay.base().trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn configuration_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sotto.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nunknown_key = 1\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid config file") && stderr.contains("unknown_key"),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            "/nonexistent.key",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("cannot read certificates from /nonexistent.pem")
    );
    let output = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .args(["admin", "--data-dir"])
        .arg(dir.path().join("none"))
        .args(["users"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no relay database"));
}

#[tokio::test]
async fn the_documented_example_configuration_works() {
    let docs = include_str!("../../../docs/server.md");
    let start = docs.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &docs[start..start + docs[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let config = example
        .replace("listen = \"0.0.0.0:7443\"", "listen = \"127.0.0.1:0\"")
        .replace("/var/lib/sotto", dir.path().to_str().unwrap());
    let path = dir.path().join("sotto.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .args(["serve", "--log", "warn", "--config"])
        .arg(&path)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    assert!(
        dir.path().join("sotto.db").exists(),
        "data_dir from the file is used"
    );
    child.kill().await.unwrap();
}
