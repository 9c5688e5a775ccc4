//! Replays the corpora of the client-side fuzz targets (`fuzz/corpus/content/`,
//! `fuzz/corpus/daemon_request/`) through the harness the targets use
//! (`fuzz/client_harness.rs`), so `cargo test` re-checks every input the fuzzer kept.
//!
//! To rewrite the hand-made seeds: `SOTTO_WRITE_FUZZ_SEEDS=1 cargo test -p sotto-cli --test
//! fuzz_corpus -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/client_harness.rs"]
mod client_harness;

use std::fs;
use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Runs `check` on every file of the target's corpus; fails if there is none.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = corpus_dir(target);
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {} is missing: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let data = fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: input {} fails", path.display());
        count += 1;
    }
    assert!(count > 0, "corpus {} is empty", dir.display());
}

#[test]
fn content() {
    replay("content", client_harness::content);
}

#[test]
fn daemon_request() {
    replay("daemon_request", client_harness::daemon_request);
}

/// The seeds pass, and the decoders accept the ones meant to be valid.
#[test]
fn seeds_pass_and_the_valid_ones_decode() {
    let seeds = client_harness::seeds();
    for (target, data) in &seeds {
        match *target {
            "content" => client_harness::content(data),
            "daemon_request" => client_harness::daemon_request(data),
            other => panic!("seed for unknown target {other}"),
        }
    }
    let decoded = |target: &str| {
        seeds
            .iter()
            .filter(|(t, _)| *t == target)
            .filter(|(_, d)| {
                let text = std::str::from_utf8(d).unwrap();
                match target {
                    "content" => sotto_client::content::Content::decode(d).is_ok(),
                    _ => client_harness::request::decode(text).is_ok(),
                }
            })
            .count()
    };
    assert_eq!(decoded("content"), 12);
    assert_eq!(decoded("daemon_request"), 15);
}

/// Writes the hand-made seeds into the corpora (`seed-<n>`).
#[test]
#[ignore = "writes files: run with SOTTO_WRITE_FUZZ_SEEDS=1 and --ignored"]
fn write_seeds() {
    if std::env::var_os("SOTTO_WRITE_FUZZ_SEEDS").is_none() {
        return;
    }
    let mut numbers = std::collections::HashMap::new();
    for (target, data) in client_harness::seeds() {
        let n = numbers.entry(target).or_insert(0);
        *n += 1;
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("seed-{n}")), data).unwrap();
    }
}
