//! `sotto bench throughput` on both wires, tiny: it starts its own relay, and every envelope
//! must be delivered and counted (the figures themselves belong in docs/benchmarks.md).
#![allow(clippy::unwrap_used)]

use sotto_server::blobs::{S3Credentials, S3Settings};
use std::process::Command;

#[path = "../../sotto-server/tests/s3_server/mod.rs"]
mod s3_server;

const SOTTO: &str = env!("CARGO_BIN_EXE_sotto");

#[test]
fn throughput_delivers_every_envelope_on_both_wires() {
    for wire in ["binary", "json"] {
        let out = Command::new(SOTTO)
            .args(["bench", "throughput", "--devices", "3", "--messages", "60"])
            .args(["--concurrency", "8", "--json", "--wire", wire])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{wire}: {stderr}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["wire"], wire);
        assert_eq!(report["delivered"], 60, "{report}");
        assert_eq!(report["latency_samples"], 60, "{report}");
    }
}

/// `sotto bench attachments` through a relay on a local directory and one on a real
/// S3-compatible server (s3s-fs, in this process): the file must come back intact from both,
/// and the second relay's blob must be in the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_round_trip_through_a_directory_and_s3() {
    let server = s3_server::TestS3::start().await;
    let out = tokio::process::Command::new(SOTTO)
        .args([
            "bench",
            "attachments",
            "--size",
            "3MiB",
            "--request",
            "1MiB",
            "--json",
        ])
        .args(["--s3", "s3://sotto-test/bench", "--s3-allow-http"])
        .args(["--s3-endpoint", &server.endpoint])
        .env("AWS_ACCESS_KEY_ID", s3_server::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", s3_server::SECRET_ACCESS_KEY)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for store in ["local", "s3"] {
        assert_eq!(report[format!("{store}_requests")], 4, "{report}");
        assert!(report[format!("{store}_upload_mb_s")].as_f64().unwrap() > 0.0);
    }
    let blobs: Vec<_> = std::fs::read_dir(server.root.join("sotto-test/bench"))
        .unwrap()
        .collect();
    assert_eq!(blobs.len(), 1, "one attachment's segments in the bucket");
}
