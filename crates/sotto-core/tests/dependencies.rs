//! The core stays sans-IO: no async runtime, database or socket library in its normal
//! dependency tree. The layering of design §1 is checked here too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn normal_dependencies(package: &str) -> String {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--package",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn sotto_core_has_no_io_dependencies() {
    let tree = normal_dependencies("sotto-core");
    assert!(
        tree.contains("x25519-dalek"),
        "cargo tree output looks wrong:\n{tree}"
    );
    for forbidden in [
        "tokio",
        "sqlx",
        "mio",
        "getrandom",
        "socket2",
        "hyper",
        "reqwest",
    ] {
        let found = tree
            .lines()
            .any(|line| line.split_whitespace().next() == Some(forbidden));
        assert!(!found, "sotto-core depends on {forbidden}:\n{tree}");
    }
}

#[test]
fn sotto_proto_depends_on_no_sotto_crate() {
    let tree = normal_dependencies("sotto-proto");
    assert!(
        !tree.lines().skip(1).any(|line| line.starts_with("sotto-")),
        "{tree}"
    );
}
