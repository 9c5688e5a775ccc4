//! Sotto's wire formats, as data only.
//!
//! Everything that crosses the network between Sotto clients is one of the protobuf messages
//! below, preceded on the wire by a one-byte version (see `docs/protocol.md`). This crate holds
//! no logic: `sotto-core` turns these structures into validated, typed values ("parse, don't
//! validate") and back.
//!
//! The structures derive [`prost::Message`] directly instead of being generated from `.proto`
//! files, so the build needs no `protoc`. The equivalent schemas are printed in
//! `docs/protocol.md`; field numbers here are normative.

pub mod api;
pub mod fingerprint;
pub mod frames;
pub mod group;
pub mod protocol;
pub mod sealed;

pub use prost::Message;
