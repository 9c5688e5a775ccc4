//! Fuzz target `provisioning`: a thin wrapper, the logic is in `provisioning_harness.rs`
//! (replayed by `cargo test`).
#![no_main]

#[path = "../provisioning_harness.rs"]
mod provisioning_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| provisioning_harness::provisioning(data));
