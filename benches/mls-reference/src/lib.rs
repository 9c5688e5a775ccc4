//! Nothing here: the benchmark is `benches/mls.rs` (see README.md).
