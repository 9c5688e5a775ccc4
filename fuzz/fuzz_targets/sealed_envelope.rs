//! Fuzz target `sealed_envelope`: a thin wrapper, the logic is in `sealed_harness.rs` (replayed by `cargo test`).
#![no_main]

#[path = "../sealed_harness.rs"]
mod sealed_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealed_harness::sealed_envelope(data));
