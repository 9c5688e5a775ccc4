//! Sotto's protocol core, sans-IO: bytes in, bytes out.
//!
//! ```text
//!   IdentityKeyPair ──┐        PreKeyBundle (from the server, verified here)
//!                     ▼                 │
//!            SessionRecord::initiate ◄──┘        PreKeyStore (caller's keys, looked up)
//!                     │                                │
//!   plaintext ──► SessionRecord::encrypt ──► wire bytes ──► SessionRecord::decrypt ──► plaintext
//!                     (PQXDH, then the Double Ratchet; the record is unchanged on any failure)
//! ```
//!
//! Groups ([`group`]) build on the pairwise sessions: a sender's [`group::OwnSenderKey`]
//! encrypts one ciphertext for every member, its distribution travels inside the sessions, and
//! membership comes from admin-signed [`group::VerifiedGroupState`], never from the server.
//! Sealed sender ([`sealed`]) wraps any of these messages so that the relay does not learn who
//! sent it.
//!
//! The caller owns everything with a side effect: storage, the network, the clock and the
//! random number generator (every function that needs randomness takes a [`CryptoRng`]).
//! `docs/protocol.md` is the normative specification of what this crate implements.
//!
//! [`CryptoRng`]: rand_core::CryptoRng

pub mod address;
pub mod attachment;
pub mod bundle;
pub mod curve;
pub mod error;
pub mod group;
pub mod identity;
#[doc(hidden)]
pub mod kat;
pub mod kem;
pub mod labels;
pub mod message;
mod padding;
pub mod pqxdh;
pub mod prekey;
pub mod provisioning;
pub mod ratchet;
pub mod safety_number;
pub mod sealed;
pub mod session_record;
mod storage;

pub use address::Address;
pub use bundle::VerifiedPreKeyBundle;
pub use error::{DecryptError, EncryptError, KeyError, RecordError};
pub use identity::{IdentityKey, IdentityKeyPair};
pub use pqxdh::Parties;
pub use prekey::{
    InMemoryPreKeyStore, KemPreKeyKind, KemPreKeyPair, OneTimePreKeyPair, PreKeyStore,
    SignedPreKeyPair,
};
pub use safety_number::SafetyNumber;
pub use session_record::{Decrypted, PreKeyUse, SessionRecord};
