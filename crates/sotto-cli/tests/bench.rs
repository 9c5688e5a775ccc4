//! `sotto bench throughput` on both wires, tiny: it starts its own relay, and every envelope
//! must be delivered and counted (the figures themselves belong in docs/benchmarks.md).
#![allow(clippy::unwrap_used)]

use std::process::Command;

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
