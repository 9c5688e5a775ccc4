//! Fuzz target `daemon_request`: a thin wrapper, the logic is in `client_harness.rs` (replayed by
//! `cargo test -p sotto-cli --test fuzz_corpus`).
#![no_main]

#[path = "../client_harness.rs"]
mod client_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| client_harness::daemon_request(data));
