//! Error types, one per operation. Each variant says whose fault it is: malformed input from
//! the wire, a peer that misbehaves, a caller's misuse, or a limit that protects us.

use thiserror::Error;

/// A public key, signature or ciphertext from the wire was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The encoding has the wrong length for its type.
    #[error("key encoding has {actual} bytes, expected {expected}")]
    WrongLength {
        /// Bytes expected.
        expected: usize,
        /// Bytes received.
        actual: usize,
    },
    /// The leading type byte is not the one this field requires.
    #[error("key type byte 0x{actual:02x}, expected 0x{expected:02x}")]
    WrongType {
        /// Type byte expected.
        expected: u8,
        /// Type byte received.
        actual: u8,
    },
    /// An X25519 u-coordinate that is not reduced modulo 2^255-19 or has the high bit set.
    #[error("non-canonical X25519 public key")]
    NonCanonical,
    /// An X25519 point of small order (its shared secrets would be predictable).
    #[error("X25519 public key of small order")]
    SmallOrder,
    /// An X25519 point outside the prime-order subgroup (refused for base keys).
    #[error("X25519 public key with a torsion component")]
    NotTorsionFree,
    /// A Diffie-Hellman result of all zeros.
    #[error("non-contributory key agreement")]
    NonContributory,
    /// An Ed25519 key that does not decode, or is of small order.
    #[error("invalid Ed25519 public key")]
    InvalidSigningKey,
    /// An Ed25519 signature that fails strict verification.
    #[error("signature verification failed")]
    BadSignature,
    /// An ML-KEM-1024 public key that fails the FIPS 203 modulus check.
    #[error("invalid ML-KEM-1024 public key")]
    InvalidKemKey,
}

/// An account/device address was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Account ids are 1 to 64 bytes.
    #[error("account id must be 1 to 64 bytes, got {0}")]
    AccountIdLength(usize),
}

/// A prekey bundle was rejected: do not start a session from it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bundle bytes are not a valid protobuf message.
    #[error("malformed prekey bundle")]
    Malformed,
    /// A required field is absent.
    #[error("prekey bundle lacks its {0}")]
    Missing(&'static str),
    /// A key in the bundle is invalid.
    #[error("invalid {field} in prekey bundle: {source}")]
    Key {
        /// Which key.
        field: &'static str,
        /// Why.
        source: KeyError,
    },
    /// The ML-KEM prekey kind is neither one-time nor last-resort.
    #[error("unknown ML-KEM prekey kind {0}")]
    UnknownKemKind(i32),
}

/// Encryption failed; the session record is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The record holds no session: start one from a prekey bundle first.
    #[error("no session with this device: fetch a prekey bundle to start one")]
    NoSession,
    /// The session has no chain to send on yet (a responder that has not received anything).
    #[error("the session cannot send before it has received a message")]
    NoSendingChain,
    /// The sending chain reached its last index.
    #[error("sending chain exhausted")]
    ChainExhausted,
    /// The peer's ratchet key made a non-contributory agreement.
    #[error("ratchet key agreement failed: {0}")]
    Key(KeyError),
}

/// Decryption failed; the session record and every prekey are unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The message is empty.
    #[error("empty message")]
    Empty,
    /// The message was made by a protocol version we do not speak.
    #[error("unsupported protocol version {0}")]
    UnknownVersion(u8),
    /// The message type nibble is not one we know.
    #[error("unknown message type {0}")]
    UnknownMessageType(u8),
    /// The message does not decode.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// A key in the message is invalid.
    #[error("invalid key in message: {0}")]
    Key(#[from] KeyError),
    /// The message authentication code does not match: tampered, misaddressed or not ours.
    #[error("message authentication failed")]
    BadMac,
    /// This message was already decrypted (or its key was evicted as too old).
    #[error("duplicate message (counter {counter})")]
    Duplicate {
        /// The message's counter in its chain.
        counter: u32,
    },
    /// The counter is further ahead of the chain than the limit allows.
    #[error("message counter jumps {jump} ahead, more than the limit of {limit}")]
    CounterJumpTooLarge {
        /// The requested jump.
        jump: u64,
        /// The limit.
        limit: u32,
    },
    /// A normal message arrived but no session can decrypt it.
    #[error("no session can decrypt this message")]
    NoSession,
    /// The prekey message names a signed prekey we do not hold.
    #[error("unknown signed prekey {0}")]
    UnknownSignedPreKey(u32),
    /// The prekey message names a one-time prekey we do not hold (perhaps already used).
    #[error("unknown one-time prekey {0}")]
    UnknownOneTimePreKey(u32),
    /// The prekey message names an ML-KEM prekey we do not hold (perhaps already used).
    #[error("unknown ML-KEM prekey {0}")]
    UnknownKemPreKey(u32),
    /// A prekey message replays a base key already used with our last-resort ML-KEM key.
    #[error("replayed prekey message")]
    ReplayedPreKeyMessage,
    /// The plaintext padding is malformed (only checked after authentication).
    #[error("invalid padding")]
    BadPadding,
}

/// A stored record (a session record, or a Sender Key of `group`) could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The record was written by a format version we do not read.
    #[error("unsupported record version {0}")]
    UnknownVersion(u8),
    /// The record does not decode or breaks an invariant.
    #[error("corrupt record: {0}")]
    Corrupt(&'static str),
    /// A key in the record is invalid.
    #[error("invalid key in record: {0}")]
    Key(#[from] KeyError),
}

/// A scanned safety-number code could not be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SafetyNumberError {
    /// The scanned code is not a safety-number payload.
    #[error("the scanned code is not a Sotto safety number")]
    Malformed,
    /// The scanned code uses another fingerprint version: both sides need the same.
    #[error("the scanned code has fingerprint version {theirs}, we use {ours}")]
    VersionMismatch {
        /// Version in the scanned code.
        theirs: u32,
        /// Our version.
        ours: u32,
    },
}
