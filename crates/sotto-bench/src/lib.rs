//! Benchmarks only: see `benches/`. Kept out of `sotto-core` so that peer implementations used as
//! references (vodozemac) never enter the product's dependency tree.
