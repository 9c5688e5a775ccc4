//! Library side of the `sotto` command: a minimal relay client used by `sotto bench` and by
//! the end-to-end tests. It moves raw envelopes; encryption belongs to `sotto-client`.

pub mod relay_client;
