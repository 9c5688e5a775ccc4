//! Fuzz target `group_records`: a thin wrapper, the logic is in `group_harness.rs` (replayed by `cargo test`).
#![no_main]

#[path = "../group_harness.rs"]
mod group_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| group_harness::group_records(data));
