//! The Double Ratchet: one file per term of the specification.
//!
//! A [`RootKey`](root_key::RootKey) steps with each new ratchet key; each step yields a
//! [`ChainKey`](chain_key::ChainKey) that steps once per message, yielding a
//! [`MessageKeySeed`](message_key::MessageKeySeed) from which the cipher, MAC and IV keys of one
//! message are derived. Receiving chains keep the seeds of skipped messages, within the limits
//! below.

pub(crate) mod chain_key;
pub(crate) mod message_key;
pub(crate) mod receiver_chain;
pub(crate) mod root_key;
pub(crate) mod session;

/// The furthest a message counter may jump ahead of its chain.
pub const MAX_FORWARD_JUMP: u32 = 25_000;
/// How far into a new chain an *archived* session may be asked to start. Every session of a
/// record is tried for a message on an unknown ratchet key, so without this bound one forged
/// message could make 41 sessions each derive 25,000 keys; honest peers start new chains on
/// archived sessions near index 0 (simultaneous initiation).
pub const MAX_ARCHIVED_NEW_CHAIN_JUMP: u32 = 2_000;
/// The most skipped-message keys kept per receiving chain (oldest evicted first).
pub const MAX_SKIPPED_KEYS_PER_CHAIN: usize = 2_000;
/// The most receiving chains kept per session (oldest evicted first).
pub const MAX_RECEIVING_CHAINS: usize = 5;
