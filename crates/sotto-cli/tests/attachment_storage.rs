//! `sotto serve` with attachment blobs in S3-compatible storage, configured through the
//! config file and the environment, against a real S3 server (s3s-fs) in this process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hyper::{Method, StatusCode};
use serde_json::json;
use sotto_cli::relay_client::RelayClient;
use sotto_server::blobs::{S3Credentials, S3Settings};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

#[path = "../../sotto-server/tests/s3_server/mod.rs"]
mod s3_server;

const PATIENCE: Duration = Duration::from_secs(40);

/// `sotto serve --config FILE` with `secret` as the S3 secret key.
fn serve(dir: &std::path::Path, endpoint: &str, secret: &str) -> Command {
    let config = format!(
        "listen = \"127.0.0.1:0\"\nattachments = \"s3://{}/relay\"\n\n[s3]\nendpoint = \"{endpoint}\"\nallow_http = true\n",
        s3_server::BUCKET
    );
    std::fs::write(dir.join("sotto.toml"), config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sotto"));
    command
        .args(["serve", "--log", "warn", "--no-rate-limits", "--data-dir"])
        .arg(dir)
        .arg("--config")
        .arg(dir.join("sotto.toml"))
        .env_remove("SOTTO_ATTACHMENTS")
        .env("AWS_ACCESS_KEY_ID", s3_server::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_land_in_the_bucket_named_in_the_config_file() {
    let server = s3_server::TestS3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut relay = serve(dir.path(), &server.endpoint, s3_server::SECRET_ACCESS_KEY)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(relay.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("the relay printed its address");
    let url = line.strip_prefix("listening on ").unwrap().trim();
    let client = RelayClient::new(url);
    let alice = client.register("alice", 0).await.unwrap();
    // An empty attachment is complete at once: its blob is written on creation.
    let (status, created) = client
        .json(
            Method::POST,
            "/v1/attachments",
            Some(&alice),
            &json!({ "size": 0 }),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let segment = server
        .root
        .join(s3_server::BUCKET)
        .join("relay")
        .join(id)
        .join("00000000000000000000");
    assert!(segment.exists(), "{} is missing", segment.display());
    assert!(
        !dir.path().join("attachments").exists(),
        "nothing in the data directory"
    );
    let (status, _) = client
        .request(Method::GET, &format!("/v1/attachments/{id}"), None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_stops_the_relay_at_startup() {
    let server = s3_server::TestS3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut relay = serve(dir.path(), &server.endpoint, "not-the-secret")
        .spawn()
        .unwrap();
    let status = tokio::time::timeout(PATIENCE, relay.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
    let mut stderr = String::new();
    relay
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("cannot reach attachment storage s3://sotto-test/relay"),
        "{stderr}"
    );
    let mut stdout = String::new();
    relay
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    assert!(!stdout.contains("listening"), "it never listened: {stdout}");
}
