//! `sotto admin` against a running relay's data directory, and what the relay keeps.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use hyper::{Method, StatusCode};
use serde_json::Value;
use sotto_cli::relay_client::{RelayClient, random_secret, sample_prekeys};
use sotto_proto::api::{Base64Bytes, NewDevice, RegisterRequest};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

const PATIENCE: Duration = Duration::from_secs(20);

async fn admin(dir: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .arg("admin")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    (output.status.code().unwrap(), text)
}

/// Starts a relay at the default (info) log level in token mode, capturing its log.
async fn start(dir: &Path) -> (Child, RelayClient) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--registration",
            "token",
            "--data-dir",
        ])
        .arg(dir)
        .env_remove("SOTTO_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let client = RelayClient::new(line.strip_prefix("listening on ").unwrap());
    (child, client)
}

fn registration(name: &str, token: Option<&str>) -> RegisterRequest {
    RegisterRequest {
        username: name.into(),
        registration_token: token.map(str::to_owned),
        identity_key: Base64Bytes(vec![1; 65]),
        device: NewDevice {
            auth_secret: Base64Bytes(random_secret().unwrap().to_vec()),
            registration_id: 9,
            prekeys: sample_prekeys(1, 3),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_and_what_the_relay_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, relay) = start(dir.path()).await;

    // Token mode: no token, no account; an admin-made token works once.
    let (status, _) = relay
        .json(
            Method::POST,
            "/v1/accounts",
            None,
            &registration("alice", None),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (code, token) = admin(dir.path(), &["token", "--uses", "1"]).await;
    assert_eq!(code, 0);
    let token = token.trim();
    assert_eq!(token.len(), 32);
    let (status, answer) = relay
        .json(
            Method::POST,
            "/v1/accounts",
            None,
            &registration("alice", Some(token)),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, _) = relay
        .json(
            Method::POST,
            "/v1/accounts",
            None,
            &registration("bob", Some(token)),
        )
        .await
        .unwrap();
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the token was for one registration"
    );

    let (code, users) = admin(dir.path(), &["users", "--json"]).await;
    assert_eq!(code, 0);
    let user: Value = serde_json::from_str(users.lines().next().unwrap()).unwrap();
    assert_eq!(
        (
            user["username"].as_str(),
            user["devices"].as_u64(),
            user["disabled"].as_bool()
        ),
        (Some("alice"), Some(1), Some(false))
    );

    let (code, report) = admin(dir.path(), &["disclose", "ALICE"]).await;
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["account_id"], answer["account_id"]);
    assert_eq!(report["devices"][0]["one_time_prekeys"], 3);
    assert!(
        report["never_stored"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "IP addresses")
    );
    assert_eq!(admin(dir.path(), &["disclose", "nobody"]).await.0, 1);

    assert_eq!(admin(dir.path(), &["disable", "alice"]).await.0, 0);
    let (code, users) = admin(dir.path(), &["users"]).await;
    assert!(code == 0 && users.contains("disabled"), "{users}");
    assert_eq!(admin(dir.path(), &["enable", "nobody"]).await.0, 1);

    // Nothing on disk or in the default-level log holds the client's address.
    let pid = child.id().unwrap().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(PATIENCE, child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
    assert!(log.contains("relay starting"), "{log}");
    assert!(
        !log.contains("127.0.0.1"),
        "the log names a client address:\n{log}"
    );
    for file in files_under(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(9).any(|w| w == b"127.0.0.1"),
            "an address is stored in {}",
            file.display()
        );
    }
}

/// Every file under `dir`, at any depth (the data dir holds `attachments/`).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
