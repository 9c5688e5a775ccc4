//! Storage behind traits split by area: accounts and devices, prekeys, the mailbox.
//!
//! A backend implements all three (see [`Store`]); the HTTP layer holds it as a trait object.
//! Every backend must pass the suite in `conformance` (run from each backend's tests).
//! Records carry no IP address and no message log; days, not times, for "last seen".
//! Rate-limit state is not stored: it sits behind [`crate::ratelimit::RateLimiter`], in
//! memory for one node. The schema's version is its migration number (sqlx records applied
//! migrations and refuses a database migrated by a newer release).

use crate::domain::{AccountId, DeviceAddress, DeviceId, MessageId, SecretHash, Username};
use async_trait::async_trait;
pub use attachments::{AttachmentIndex, AttachmentRecord, AttachmentUsage, NewAttachment};
use bytes::Bytes;
pub use linking::{ChannelContents, LinkRequest, LinkingStore};
pub use sealed::{SealedSenderAccess, SealedSenderStore};
use sotto_proto::api::{PreKey, PreKeyUpload, SignedPreKey};

mod attachments;
#[cfg(test)]
pub(crate) mod conformance;
#[cfg(test)]
pub(crate) mod conformance_linking;
mod linking;
pub mod postgres;
mod sealed;
pub mod sqlite;

/// A storage failure. Backend errors are logged by the caller, never shown to clients.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The username is already registered.
    #[error("username already taken")]
    UsernameTaken,
    /// The registration token is unknown or used up.
    #[error("registration token invalid or used up")]
    InvalidToken,
    /// The account already has the maximum number of devices.
    #[error("the account already has {0} devices")]
    TooManyDevices(u32),
    /// A provisioning channel already holds its one message.
    #[error("the provisioning channel already holds a message")]
    ChannelFilled,
    /// The account or device does not exist.
    #[error("no such account or device")]
    NotFound,
    /// The recipient device's mailbox holds its maximum number of envelopes.
    #[error("recipient mailbox is full")]
    MailboxFull,
    /// The account's attachments would exceed its quota.
    #[error("attachment quota exceeded")]
    QuotaExceeded,
    /// A stored record could not be read back (corruption or a newer schema).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err.to_string())
    }
}

/// A calendar day as `YYYY-MM-DD` (UTC): the precision of "last seen" and "created".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(pub String);

impl Day {
    /// The UTC day containing `unix_seconds`.
    pub fn from_unix(unix_seconds: i64) -> Day {
        let days = unix_seconds.div_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Day(format!("{y:04}-{m:02}-{d:02}"))
    }
}

/// Days since 1970-01-01 to (year, month, day), the proleptic Gregorian algorithm
/// from Howard Hinnant's "chrono-compatible low-level date algorithms".
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// What registration (or device addition) stores for a new device.
#[derive(Debug, Clone)]
pub struct NewDeviceRecord {
    /// Hash of the device secret.
    pub secret_hash: SecretHash,
    /// Registration id.
    pub registration_id: u32,
    /// Initial prekeys (signed prekey and last-resort KEM key present).
    pub prekeys: PreKeyUpload,
}

/// What registration stores.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Fresh random id.
    pub id: AccountId,
    /// Canonical username.
    pub username: Username,
    /// Public identity bytes.
    pub identity_key: Vec<u8>,
    /// First device.
    pub device: NewDeviceRecord,
    /// Registration token hash to consume in the same transaction, in token mode.
    pub token_hash: Option<[u8; 32]>,
    /// Day of registration.
    pub today: Day,
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Canonical username.
    pub username: Username,
    /// Public identity bytes.
    pub identity_key: Vec<u8>,
    /// Day of registration.
    pub created: Day,
    /// Disabled by the operator: no authentication succeeds.
    pub disabled: bool,
}

/// A device as stored (without its secret hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Device id.
    pub id: DeviceId,
    /// Registration id.
    pub registration_id: u32,
    /// Day it was added.
    pub created: Day,
    /// Last day it authenticated.
    pub last_seen: Day,
}

/// What authentication needs about a device.
#[derive(Debug, Clone)]
pub struct DeviceCredentials {
    /// Stored secret hash.
    pub secret_hash: SecretHash,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Last day seen, so the caller updates it at most once a day.
    pub last_seen: Day,
}

/// Accounts and devices.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account with its first device (id 1), consuming the token if one is given.
    ///
    /// Fails with `UsernameTaken` or `InvalidToken`, storing nothing.
    async fn create_account(&self, account: NewAccount) -> Result<(), StoreError>;
    /// Adds a device with the next free id, failing with `TooManyDevices` past `max_devices`.
    async fn add_device(
        &self,
        account: &AccountId,
        device: NewDeviceRecord,
        max_devices: u32,
        today: Day,
    ) -> Result<DeviceId, StoreError>;
    /// Looks an account up by canonical username.
    async fn account_by_username(&self, username: &Username)
    -> Result<Option<Account>, StoreError>;
    /// Looks an account up by id.
    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError>;
    /// An account's devices by ascending id.
    async fn devices(&self, id: &AccountId) -> Result<Vec<Device>, StoreError>;
    /// Credentials of one device, if it exists.
    async fn credentials(
        &self,
        device: &DeviceAddress,
    ) -> Result<Option<DeviceCredentials>, StoreError>;
    /// Records that the device authenticated on `today`.
    async fn touch_device(&self, device: &DeviceAddress, today: &Day) -> Result<(), StoreError>;
    /// Disables or re-enables an account; false if no such username.
    async fn set_disabled(&self, username: &Username, disabled: bool) -> Result<bool, StoreError>;
    /// Every account, by username.
    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Stores a registration token (hashed) usable `uses` times.
    async fn add_registration_token(
        &self,
        hash: [u8; 32],
        uses: u32,
        today: Day,
    ) -> Result<(), StoreError>;
}

/// One-time prekeys left for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PreKeyCounts {
    /// One-time X25519 prekeys.
    pub one_time: u32,
    /// One-time ML-KEM prekeys.
    pub one_time_kem: u32,
}

/// Prekeys taken for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenPreKeys {
    /// Signed X25519 prekey.
    pub signed_prekey: SignedPreKey,
    /// The one-time X25519 prekey taken, if any was left.
    pub one_time: Option<PreKey>,
    /// The one-time KEM prekey taken, or the last-resort one.
    pub kem: SignedPreKey,
    /// Whether `kem` is the last-resort key.
    pub kem_is_last_resort: bool,
}

/// Prekeys of devices.
#[async_trait]
pub trait PreKeyStore: Send + Sync {
    /// Stores an upload: each non-empty one-time list replaces that kind, given signed keys
    /// replace the stored ones.
    async fn store_prekeys(
        &self,
        device: &DeviceAddress,
        upload: &PreKeyUpload,
    ) -> Result<(), StoreError>;
    /// Counts the one-time prekeys left.
    async fn prekey_counts(&self, device: &DeviceAddress) -> Result<PreKeyCounts, StoreError>;
    /// Takes one one-time key of each kind atomically: no key is ever returned twice, even to
    /// concurrent callers. `None` if the device has no signed prekey or last-resort key.
    async fn take_prekeys(
        &self,
        device: &DeviceAddress,
    ) -> Result<Option<TakenPreKeys>, StoreError>;
}

/// One ciphertext addressed to one device, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnvelope {
    /// Recipient device.
    pub device: DeviceId,
    /// Opaque ciphertext.
    pub content: Vec<u8>,
}

/// A send: one message id, one ciphertext per recipient device.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Recipient account.
    pub recipient: AccountId,
    /// Client-chosen idempotency key.
    pub message_id: MessageId,
    /// Authenticated sender, if any.
    pub sender: Option<DeviceAddress>,
    /// Ciphertexts.
    pub envelopes: Vec<NewEnvelope>,
    /// Server receive time (ms since the epoch).
    pub now_ms: i64,
    /// Envelopes expire at `now_ms + ttl_ms`; the id is remembered as long.
    pub ttl_ms: i64,
    /// Maximum envelopes queued per device.
    pub max_queue: u32,
}

/// One recipient account of a multi-recipient send.
#[derive(Debug, Clone)]
pub struct RecipientAccount {
    /// The account.
    pub account: AccountId,
    /// Its addressed devices (each once, at least one).
    pub devices: Vec<DeviceId>,
    /// Bytes each of these devices receives before the shared ciphertext, stored in its own
    /// queue entry: the account's recipient header of a sealed send, empty otherwise.
    pub prefix: Bytes,
}

impl RecipientAccount {
    /// What each of the account's devices receives: `prefix || content`. Shares `content`
    /// when the prefix is empty; otherwise one copy for all the account's devices.
    pub fn delivered(&self, content: &Bytes) -> Bytes {
        if self.prefix.is_empty() {
            return content.clone();
        }
        let mut joined = Vec::with_capacity(self.prefix.len() + content.len());
        joined.extend_from_slice(&self.prefix);
        joined.extend_from_slice(content);
        Bytes::from(joined)
    }
}

/// A multi-recipient send: one ciphertext for every listed device of several accounts, stored
/// once and referenced by each device's queue entry (which may add a per-account prefix).
#[derive(Debug, Clone)]
pub struct MultiSubmission {
    /// Client-chosen idempotency key, remembered per recipient account.
    pub message_id: MessageId,
    /// Authenticated sender, if any (`None` for sealed sends).
    pub sender: Option<DeviceAddress>,
    /// The ciphertext every device receives (after its account's prefix).
    pub content: Bytes,
    /// Recipient accounts, each once.
    pub recipients: Vec<RecipientAccount>,
    /// Server receive time (ms since the epoch).
    pub now_ms: i64,
    /// Envelopes and payload expire at `now_ms + ttl_ms`; the id is remembered as long.
    pub ttl_ms: i64,
    /// Maximum envelopes queued per device.
    pub max_queue: u32,
}

impl MultiSubmission {
    /// Every addressed device.
    pub fn devices(&self) -> impl Iterator<Item = DeviceAddress> + '_ {
        self.recipients.iter().flat_map(|r| {
            r.devices.iter().map(move |device| DeviceAddress {
                account: r.account.clone(),
                device: *device,
            })
        })
    }
}

/// The outcome of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Stored now.
    Stored,
    /// This message id was already stored for this recipient: nothing new was stored.
    Duplicate,
}

/// An envelope waiting in a device's mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEnvelope {
    /// Delivery id, increasing in insertion order.
    pub id: i64,
    /// The sender's message id.
    pub message_id: String,
    /// Authenticated sender, if any.
    pub sender: Option<DeviceAddress>,
    /// Server receive time (ms).
    pub server_timestamp: i64,
    /// Ciphertext; shared, not copied, between the devices of a multi-recipient send.
    pub content: Bytes,
}

/// What a mailbox row delivers: its own content, followed by the shared payload it references
/// (a multi-recipient send). Joined here rather than in SQL, where SQLite's `||` would turn
/// the blobs into text. A row whose payload is gone is corrupt, not delivered truncated.
pub(crate) fn delivered_content(
    own: Vec<u8>,
    payload_id: Option<i64>,
    payload: Option<Vec<u8>>,
) -> Result<Bytes, StoreError> {
    match (payload_id, payload) {
        (None, _) => Ok(own.into()),
        (Some(_), None) => Err(StoreError::Corrupt("shared payload missing".into())),
        (Some(_), Some(payload)) if own.is_empty() => Ok(payload.into()),
        (Some(_), Some(payload)) => {
            let mut joined = own;
            joined.extend_from_slice(&payload);
            Ok(joined.into())
        }
    }
}

/// How a backend's group commit is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Transactions committed.
    pub commits: u64,
    /// Writes (sends, ack bursts, purges) they carried.
    pub writes: u64,
}

/// Told about envelopes right after they are committed, in commit (= id) order per device.
///
/// The relay uses it to push new envelopes to connected devices without reading them back.
/// It must not block: it runs on the backend's commit path.
pub trait CommitHook: Send + Sync {
    /// Envelopes just made durable.
    fn committed(&self, envelopes: Vec<(DeviceAddress, QueuedEnvelope)>);
}

/// Per-device queues of ciphertexts.
#[async_trait]
pub trait Mailbox: Send + Sync {
    /// Installs the hook told about every later commit of new envelopes. A backend that
    /// cannot tell (none yet) leaves delivery to wake-ups and mailbox reads.
    fn set_commit_hook(&self, hook: std::sync::Arc<dyn CommitHook>);
    /// Commits and the writes they carried, for `/metrics` (zero where not tracked).
    fn commit_stats(&self) -> CommitStats {
        CommitStats::default()
    }
    /// Stores every envelope of a send in one durable transaction, once per message id:
    /// returns only after the commit is durable. Fails with `MailboxFull`, storing nothing.
    async fn store(&self, send: Submission) -> Result<SendOutcome, StoreError>;
    /// Stores a multi-recipient send in one durable transaction: the ciphertext once, one queue
    /// entry per device referencing it. Accounts that already remember the message id get
    /// nothing new; `Duplicate` when that is all of them. Fails with `MailboxFull` (storing
    /// nothing) if any device's queue is full. The ciphertext is deleted with the last entry
    /// referencing it (acknowledged or expired).
    async fn store_multi(&self, send: MultiSubmission) -> Result<SendOutcome, StoreError>;
    /// Number of multi-recipient ciphertexts stored (for tests and metrics).
    async fn shared_payloads(&self) -> Result<u64, StoreError>;
    /// Unexpired envelopes of a device with id greater than `after`, oldest first.
    async fn pending(
        &self,
        device: &DeviceAddress,
        after: i64,
        limit: u32,
        now_ms: i64,
    ) -> Result<Vec<QueuedEnvelope>, StoreError>;
    /// Deletes acknowledged envelopes of this device; returns how many existed.
    async fn ack(&self, device: &DeviceAddress, ids: &[i64]) -> Result<u64, StoreError>;
    /// Number of envelopes queued for a device.
    async fn queue_len(&self, device: &DeviceAddress) -> Result<u64, StoreError>;
    /// Number of message ids remembered for an account's idempotency (for disclosure).
    async fn remembered_ids(&self, account: &AccountId) -> Result<u64, StoreError>;
    /// Deletes expired envelopes and remembered message ids; returns how many envelopes.
    async fn purge_expired(&self, now_ms: i64) -> Result<u64, StoreError>;
}

/// Everything a relay needs from storage.
pub trait Store:
    AccountStore + PreKeyStore + Mailbox + AttachmentIndex + LinkingStore + SealedSenderStore
{
}

impl<T> Store for T where
    T: AccountStore + PreKeyStore + Mailbox + AttachmentIndex + LinkingStore + SealedSenderStore
{
}

#[cfg(test)]
mod tests {
    use super::Day;

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(Day::from_unix(0).0, "1970-01-01");
        assert_eq!(Day::from_unix(951_782_400).0, "2000-02-29");
        assert_eq!(Day::from_unix(1_795_000_000).0, "2026-11-18");
        assert_eq!(Day::from_unix(-1).0, "1969-12-31");
    }
}
