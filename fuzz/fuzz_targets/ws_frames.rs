//! Fuzz target `ws_frames`: a thin wrapper, the logic is in `harness.rs` (replayed by `cargo test`).
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::ws_frames(data));
