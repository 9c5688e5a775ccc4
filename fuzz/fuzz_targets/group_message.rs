//! Fuzz target `group_message`: a thin wrapper, the logic is in `group_harness.rs` (replayed by `cargo test`).
#![no_main]

#[path = "../group_harness.rs"]
mod group_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| group_harness::group_message(data));
