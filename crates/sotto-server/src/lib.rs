//! The Sotto relay.
//!
//! Ciphertext flows through it and nothing else: a sender `PUT`s one opaque envelope per
//! recipient device ([`api`]), the [`store`] commits them durably to per-device mailboxes, the
//! [`delivery`] bus wakes the recipient's WebSocket, which pushes the envelopes and deletes each
//! once acknowledged. Accounts, devices and public prekeys live beside the mailboxes, and
//! encrypted attachment blobs in [`blobs`]. The relay
//! never holds a key that could decrypt a message, and it keeps as little metadata as it can.

pub mod admin;
pub mod api;
pub mod blobs;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod metrics;
pub mod ratelimit;
pub mod relay;
pub mod sealed_sender;
pub mod store;
pub mod tls;
