//! Fuzz target `sender_certificate`: a thin wrapper, the logic is in `sealed_harness.rs` (replayed by `cargo test`).
#![no_main]

#[path = "../sealed_harness.rs"]
mod sealed_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealed_harness::sender_certificate(data));
