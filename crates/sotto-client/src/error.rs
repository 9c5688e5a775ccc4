//! Errors of the SDK, by whose fault they are: the local store, the relay, the peer, the caller.

use sotto_core::attachment::AttachmentError;
use sotto_core::error::BundleError;
use sotto_core::{DecryptError, EncryptError, KeyError, RecordError};

/// The local profile store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another open store) is using this profile.
    #[error("the profile is in use by another process")]
    InUse,
    /// The passphrase does not unlock this profile.
    #[error("wrong passphrase for this profile")]
    WrongPassphrase,
    /// The key file does not unlock this profile.
    #[error("the key file does not unlock this profile")]
    WrongKeyFile,
    /// The profile is locked with a passphrase but none was given, or the other way round.
    #[error("this profile is unlocked by {expected}, not by what was given")]
    WrongUnlockMethod {
        /// `passphrase` or `key file`.
        expected: &'static str,
    },
    /// The key file may be read by others than its owner.
    #[error("key file {path} has mode {mode:o}; it must be 0600 (readable by its owner only)")]
    KeyFileTooOpen {
        /// The key file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is missing or malformed.
    #[error("key file {path}: {reason}")]
    KeyFile {
        /// The key file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A stored value was written in a format this build does not know (a newer release?).
    #[error("the profile holds a value in format version {0}, which this build cannot read")]
    UnknownVersion(u8),
    /// A stored value is damaged or was written by something else.
    #[error("corrupt profile store: {0}")]
    Corrupt(&'static str),
    /// A stored session record does not load.
    #[error("stored session record: {0}")]
    Record(#[from] RecordError),
    /// The profile has no account yet.
    #[error("this profile is not registered")]
    NotRegistered,
    /// Key derivation failed (bad parameters).
    #[error("key derivation: {0}")]
    Kdf(String),
    /// SQLite failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("schema migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The profile directory could not be used.
    #[error("profile directory: {0}")]
    Io(#[from] std::io::Error),
}

/// Talking to the relay failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The connection failed or broke.
    #[error("network: {0}")]
    Network(String),
    /// The relay URL or its CA certificate is unusable.
    #[error("relay configuration: {0}")]
    Config(String),
    /// The TLS handshake failed (for example, an untrusted certificate).
    #[error("TLS: {0}")]
    Tls(String),
    /// The relay answered with an error.
    #[error("relay answered {status} {code}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Stable error code from the body.
        code: String,
        /// Human-readable message.
        message: String,
    },
    /// The relay asked us to slow down.
    #[error("rate limited by the relay (retry after {retry_after_secs:?} s)")]
    RateLimited {
        /// The `Retry-After` header, when present.
        retry_after_secs: Option<u64>,
    },
    /// The relay's answer does not parse.
    #[error("unexpected answer from the relay: {0}")]
    Malformed(String),
}

/// An SDK operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The local store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The relay.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// Not a valid username (3–32 characters of `a-z0-9_.`).
    #[error("{0:?} is not a valid username (3-32 characters of a-z, 0-9, _ and .)")]
    InvalidUsername(String),
    /// The text is longer than [`crate::MAX_TEXT_BYTES`].
    #[error("the text is {0} bytes long; at most {max} are allowed", max = crate::MAX_TEXT_BYTES)]
    TextTooLong(usize),
    /// No such user on the relay.
    #[error("no user {0} on this relay")]
    UnknownUser(String),
    /// No message with this id in the conversation (or not one of ours, for edits and deletes).
    #[error("no message {id} in the conversation with {peer}")]
    UnknownMessage {
        /// The conversation.
        peer: String,
        /// The id asked for.
        id: String,
    },
    /// The message can no longer be changed: too old, or already deleted.
    #[error("message {id} can no longer be {action}: {reason}")]
    MessageLocked {
        /// The message.
        id: String,
        /// "edited" or "deleted".
        action: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A reaction that is not one short emoji, or a timer out of range.
    #[error("invalid {0}")]
    InvalidInput(&'static str),
    /// The username is already registered.
    #[error("username {0} is taken")]
    UsernameTaken(String),
    /// The contact is verified and its identity key changed: accept the new safety number first.
    #[error("the identity of {username} changed; compare the new safety number, then accept it")]
    UntrustedIdentity {
        /// The contact.
        username: String,
    },
    /// A prekey bundle from the relay is invalid (bad key or signature).
    #[error("invalid prekey bundle of {username}: {source}")]
    Bundle {
        /// Whose bundle.
        username: String,
        /// Why it was refused.
        source: BundleError,
    },
    /// Encryption failed.
    #[error("encryption: {0}")]
    Encrypt(#[from] EncryptError),
    /// Decryption of an incoming envelope failed (the envelope is dropped, no state changes).
    #[error("decryption: {0}")]
    Decrypt(#[from] DecryptError),
    /// Sealing an envelope failed, or a sealed one did not open (it is dropped).
    #[error("sealed sender: {0}")]
    Sealed(#[from] sotto_core::sealed::SealedSenderError),
    /// A key (ours or the peer's) is unusable.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// A linking code that is not `sotto-link:<channel>:<key>`.
    #[error(
        "not a linking code: expected sotto-link:<channel>:<key> as shown by `sotto devices link`"
    )]
    InvalidLinkCode,
    /// Nobody approved the new device before its provisioning channel expired.
    #[error("the linking code expired before another device approved it; start again")]
    LinkExpired,
    /// The provisioning message does not open or parse.
    #[error("provisioning message: {0}")]
    Provisioning(#[from] sotto_core::provisioning::ProvisioningError),
    /// Linking found an inconsistency between the relay and the provisioning message.
    #[error("linking refused: {0}")]
    Linking(&'static str),
    /// A device cannot remove itself from its account.
    #[error("this device cannot remove itself; remove it from another device of the account")]
    CannotRemoveSelf,
    /// The relay's device list kept changing while sending.
    #[error("the device list of {0} kept changing; try again")]
    DeviceListUnstable(String),
    /// A group operation was refused.
    #[error(transparent)]
    Group(#[from] crate::groups::GroupError),
    /// A message could not be encoded or parsed.
    #[error("message content: {0}")]
    Content(&'static str),
    /// The file is larger than the attachment size limit (nothing was uploaded or fetched).
    #[error("the file is {size} bytes; attachments are limited to {limit} bytes")]
    AttachmentTooLarge {
        /// The file's size.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The attachment does not decrypt or verify: tampered, truncated, or a wrong digest or
    /// key in the message. No plaintext file was kept.
    #[error("attachment: {0}")]
    Attachment(#[from] AttachmentError),
    /// The relay no longer has the attachment (expired or never completed).
    #[error("attachment {0} is no longer on the relay")]
    AttachmentGone(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file or directory.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
}
