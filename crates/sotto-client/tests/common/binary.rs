//! Finding the `sotto` binary for tests that start a real relay; shared by the end-to-end
//! harness (`tests/common`) and the SDK's unit tests (`src/relay_multi_tests.rs`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The `sotto` binary: `$SOTTO_BIN`, else `<target>/debug/sotto` as `cargo test --workspace`
/// built it, else (missing, or older than a source it is built from) built here once per test
/// process. A nested `cargo build -p sotto-cli` resolves features differently from the
/// workspace build and recompiles half the dependency tree, so it is only the fallback.
pub fn sotto_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("SOTTO_BIN") {
                return PathBuf::from(path);
            }
            // <target>/debug/deps/e2e-HASH -> <target>/debug/sotto
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
            let binary = profile_dir.join("sotto");
            if is_up_to_date(&binary) {
                return binary;
            }
            let target = profile_dir.parent().unwrap();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = std::process::Command::new(cargo)
                .args(["build", "-p", "sotto-cli", "--bin", "sotto"])
                .env("CARGO_TARGET_DIR", target)
                .status()
                .expect("cargo build of the sotto binary");
            assert!(status.success(), "building sotto failed");
            binary
        })
        .clone()
}

/// Whether `binary` exists and is newer than every source file of the crates it is built from.
fn is_up_to_date(binary: &Path) -> bool {
    let Ok(built) = std::fs::metadata(binary).and_then(|m| m.modified()) else {
        return false;
    };
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let sources = [
        "sotto-cli",
        "sotto-server",
        "sotto-client",
        "sotto-core",
        "sotto-proto",
    ]
    .iter()
    .flat_map(|name| ["src", "migrations", "Cargo.toml"].map(|part| crates.join(name).join(part)));
    let lock = crates.parent().unwrap().join("Cargo.lock");
    !sources
        .chain(std::iter::once(lock))
        .any(|path| modified_after(&path, built))
}

/// Whether `path` (a file, or any file below a directory) was modified after `time`.
fn modified_after(path: &Path, time: std::time::SystemTime) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_dir() {
        return meta.modified().is_ok_and(|m| m > time);
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| modified_after(&entry.path(), time))
}
