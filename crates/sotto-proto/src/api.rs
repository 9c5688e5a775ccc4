//! JSON types of the relay's HTTP and WebSocket API (version 1, under `/v1`).
//!
//! Binary fields (public keys, signatures, ciphertexts) travel as standard base64 with padding
//! (RFC 4648 §4); they deserialize into [`Base64Bytes`], so a malformed value is rejected while
//! parsing with an error whose message starts with [`BASE64_ERROR_PREFIX`].
//! The server stores and forwards ciphertexts without looking inside them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Prefix of the serde error message produced for a malformed base64 field.
pub const BASE64_ERROR_PREFIX: &str = "invalid base64";

/// Bytes carried as a base64 string in JSON.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Base64Bytes(pub Vec<u8>);

impl std::fmt::Debug for Base64Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Base64Bytes({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Base64Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl Serialize for Base64Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map(Base64Bytes)
            .map_err(|e| serde::de::Error::custom(format!("{BASE64_ERROR_PREFIX}: {e}")))
    }
}

/// An unsigned prekey (one-time X25519 prekey).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreKey {
    /// Key id chosen by the device.
    pub key_id: u32,
    /// Type-prefixed public key.
    pub public_key: Base64Bytes,
}

/// A prekey signed by the account's identity key (signed EC prekey, KEM prekeys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPreKey {
    /// Key id chosen by the device.
    pub key_id: u32,
    /// Type-prefixed public key.
    pub public_key: Base64Bytes,
    /// Signature over the public key by the account identity (checked by clients, not the server).
    pub signature: Base64Bytes,
}

/// Prekeys uploaded by a device. Each non-empty list replaces the stored keys of its kind;
/// absent signed keys leave the stored ones in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreKeyUpload {
    /// Signed X25519 prekey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_prekey: Option<SignedPreKey>,
    /// Signed last-resort ML-KEM prekey, handed out when no one-time KEM prekey is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resort_kem_prekey: Option<SignedPreKey>,
    /// One-time X25519 prekeys (at most 100 per request).
    #[serde(default)]
    pub one_time_prekeys: Vec<PreKey>,
    /// Signed one-time ML-KEM prekeys (at most 100 per request).
    #[serde(default)]
    pub one_time_kem_prekeys: Vec<SignedPreKey>,
}

/// A new device's credentials and keys, used at registration and when adding a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// The device's random 32-byte authentication secret; the server keeps only a hash.
    pub auth_secret: Base64Bytes,
    /// Registration id (14 bits) that senders quote to detect a re-installed device.
    pub registration_id: u32,
    /// Initial prekeys; `signed_prekey` and `last_resort_kem_prekey` are required.
    pub prekeys: PreKeyUpload,
}

/// `POST /v1/accounts`: register an account and its first device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3–32 characters of `a-z0-9_.`, compared case-insensitively.
    pub username: String,
    /// Required when the server's registration mode is `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_token: Option<String>,
    /// The account's public identity (Ed25519 + X25519 keys, encoded by the client).
    pub identity_key: Base64Bytes,
    /// The first device.
    pub device: NewDevice,
}

/// Answer to a registration or device addition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// Server-assigned account id (32 lowercase hex digits).
    pub account_id: String,
    /// Device id of the new device (the first device is 1).
    pub device_id: u32,
}

/// One device of an account as seen by other users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Device id.
    pub device_id: u32,
    /// Registration id.
    pub registration_id: u32,
}

/// `GET /v1/accounts/{username}`: an account's public identity and device list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// Account id.
    pub account_id: String,
    /// Canonical (lowercase) username.
    pub username: String,
    /// Public identity.
    pub identity_key: Base64Bytes,
    /// Devices, by ascending id.
    pub devices: Vec<DeviceInfo>,
}

/// `GET /v1/keys/count`: one-time prekeys left for the calling device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreKeyCount {
    /// One-time X25519 prekeys left.
    pub one_time_prekeys: u32,
    /// One-time ML-KEM prekeys left.
    pub one_time_kem_prekeys: u32,
}

/// `POST /v1/attachments`: announces an upload of `size` bytes of ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAttachmentRequest {
    /// Size of the encrypted blob in bytes.
    pub size: u64,
}

/// An upload's state: the answer to `POST /v1/attachments` and
/// `GET /v1/attachments/{id}/upload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentUpload {
    /// Unguessable id; whoever knows it can download the blob once complete.
    pub id: String,
    /// Announced size in bytes.
    pub size: u64,
    /// Bytes the relay holds durably: the next `PATCH` starts here.
    pub upload_offset: u64,
    /// Whether every byte arrived.
    pub complete: bool,
    /// Last day (UTC, `YYYY-MM-DD`) the relay keeps the blob.
    pub expires_day: String,
}

/// Prekeys of one device, as handed to a sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePreKeyBundle {
    /// Device id.
    pub device_id: u32,
    /// Registration id.
    pub registration_id: u32,
    /// Signed X25519 prekey.
    pub signed_prekey: SignedPreKey,
    /// A one-time X25519 prekey, taken from the pool, or none when it is empty.
    pub one_time_prekey: Option<PreKey>,
    /// A one-time ML-KEM prekey, or the last-resort one when the pool is empty.
    pub kem_prekey: SignedPreKey,
    /// True when `kem_prekey` is the last-resort key.
    pub kem_prekey_is_last_resort: bool,
}

/// `GET /v1/keys/{account_id}/{device}`: prekey bundles for one or all devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreKeyBundle {
    /// Account id.
    pub account_id: String,
    /// Public identity.
    pub identity_key: Base64Bytes,
    /// One bundle per device.
    pub devices: Vec<DevicePreKeyBundle>,
}

/// One ciphertext for one recipient device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutgoingEnvelope {
    /// Recipient device id.
    pub device_id: u32,
    /// Opaque ciphertext (at most 96 KiB by default).
    pub content: Base64Bytes,
    /// The registration id of the device the sender's session was made with. When given and
    /// the device now has another one (it was removed and its id reused), the send fails with
    /// `410 stale_devices` so the sender starts a new session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_id: Option<u32>,
}

/// `PUT /v1/messages/{account_id}/{message_id}`: one ciphertext per device of the recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Exactly one entry per current device of the recipient.
    pub envelopes: Vec<OutgoingEnvelope>,
    /// Worthless unless delivered within seconds (a typing indicator): the relay keeps it
    /// only briefly and drops it if no device takes it by then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ephemeral: bool,
}

/// Answer to a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// True when this message id had already been stored: the retry stored nothing new.
    pub duplicate: bool,
}

/// One recipient device of a multi-recipient send, with the registration id the sender
/// knows for it (a different one means the device was re-installed: its sessions are stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientDevice {
    /// Device id.
    pub device_id: u32,
    /// The device's registration id as the sender knows it, if it does (a Sender Key message
    /// reads the same on any device; a given id that differs marks the device stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_id: Option<u32>,
}

/// One recipient account of a multi-recipient send and every one of its current devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiRecipient {
    /// Account id.
    pub account_id: String,
    /// Exactly the account's current devices (without the sending device on one's own account).
    pub devices: Vec<RecipientDevice>,
}

/// `PUT /v1/messages/multi/{message_id}`: one ciphertext (a Sender Key group message) for
/// every listed device, stored once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiSendRequest {
    /// The opaque ciphertext every listed device receives (at most 96 KiB by default).
    pub content: Base64Bytes,
    /// Recipient accounts and their devices.
    pub recipients: Vec<MultiRecipient>,
}

/// `PUT /v1/accounts/sealed-sender`: who may send sealed envelopes to this account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedSenderSettings {
    /// The 16-byte access key sealed senders must present (the relay keeps only its SHA-256).
    pub access_key: Base64Bytes,
    /// Accept sealed envelopes from anyone, with or without the key.
    #[serde(default)]
    pub unrestricted: bool,
}

/// `PUT /v1/messages/sealed-multi/{message_id}`: a message sealed to many accounts
/// (`sotto_core::sealed::seal_for_many`), its shared part stored once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedMultiSendRequest {
    /// The part every recipient gets (`MultiSealed::shared`).
    pub shared: Base64Bytes,
    /// Recipient accounts, each with its header and devices.
    pub recipients: Vec<SealedMultiRecipient>,
}

/// One recipient account of a sealed multi-recipient send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedMultiRecipient {
    /// Account id.
    pub account_id: String,
    /// The account's access key; may be omitted for an account that accepts sealed envelopes from anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<Base64Bytes>,
    /// The account's 48-byte recipient header (`MultiSealed::headers()[i]`).
    pub header: Base64Bytes,
    /// Exactly the account's current devices.
    pub devices: Vec<RecipientDevice>,
}

/// How one recipient account's device list in a multi-recipient send is stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDeviceMismatch {
    /// Account id.
    pub account_id: String,
    /// Devices the sender left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_devices: Vec<u32>,
    /// Devices the sender addressed that do not exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_devices: Vec<u32>,
    /// Devices whose registration id differs from the one the sender gave (re-installed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_devices: Vec<u32>,
}

/// Error body of every failed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine-readable code (see `docs/server.md`).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Devices the sender left out (only with code `device_mismatch`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_devices: Vec<u32>,
    /// Devices the sender addressed that do not exist (only with code `device_mismatch`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_devices: Vec<u32>,
    /// Devices whose registration id changed (only with code `stale_devices`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_devices: Vec<u32>,
    /// Per recipient account, how its device list is stale (only with code `device_mismatch`
    /// answering a multi-recipient send).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountDeviceMismatch>,
    /// Recipient accounts of a multi-recipient send that do not exist or are disabled (only
    /// with code `not_found`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_accounts: Vec<String>,
}

/// `POST /v1/provisioning`: a new, short-lived channel for linking a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningChannel {
    /// The channel's id (base64url), shown to the old device in the linking code.
    pub channel_id: String,
    /// 32 random bytes that alone read the channel (`Authorization: Bearer <base64>`).
    pub secret: Base64Bytes,
    /// Seconds until the channel expires.
    pub expires_in_secs: u64,
}

/// The one ciphertext a provisioning channel carries: `PUT` body and `GET` answer of
/// `/v1/provisioning/{channel_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningEnvelope {
    /// End-to-end encrypted provisioning message (at most 64 KiB).
    pub message: Base64Bytes,
}

/// `POST /v1/devices/link-token`: a one-time token that adds one device to the caller's account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkToken {
    /// The token; it travels to the new device inside the provisioning message.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in_secs: u64,
}

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkToken(<redacted>)")
    }
}

/// `POST /v1/devices/link`: a new device joins an account with a link token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkDeviceRequest {
    /// The token from the provisioning message.
    pub link_token: String,
    /// The new device's credentials and prekeys.
    pub device: NewDevice,
}

impl std::fmt::Debug for LinkDeviceRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkDeviceRequest")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// One of the caller's own devices, as `GET /v1/devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnDevice {
    /// Device id.
    pub device_id: u32,
    /// Day it was added (UTC, `YYYY-MM-DD`).
    pub created_day: String,
    /// Last day it authenticated (UTC, `YYYY-MM-DD`).
    pub last_seen_day: String,
}

/// `GET /v1/devices`: the caller's account's devices, by ascending id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    /// Devices.
    pub devices: Vec<OwnDevice>,
}

/// A frame the server sends on the delivery WebSocket (a JSON text frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// A queued envelope; ack it with its `id`.
    Envelope(DeliveredEnvelope),
    /// Every envelope queued when the connection opened has been sent.
    QueueEmpty,
}

/// An envelope pushed to a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredEnvelope {
    /// Server-assigned delivery id, increasing per device; used in the ack.
    pub id: i64,
    /// The sender's client-chosen message id.
    pub message_id: String,
    /// Sender account id, when the send was authenticated.
    pub sender_account: Option<String>,
    /// Sender device id, when the send was authenticated.
    pub sender_device: Option<u32>,
    /// Server receive time, milliseconds since the Unix epoch.
    pub server_timestamp: i64,
    /// Opaque ciphertext.
    pub content: Base64Bytes,
}

/// A frame a client sends on the delivery WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// The envelope with this delivery id is stored by the client and may be deleted.
    Ack {
        /// Delivery id from [`DeliveredEnvelope::id`].
        id: i64,
    },
}

/// WebSocket close code: another connection for the same device replaced this one.
pub const CLOSE_CONNECTED_ELSEWHERE: u16 = 4409;
/// WebSocket close code: the client sent a frame that is not a valid [`ClientFrame`].
pub const CLOSE_INVALID_FRAME: u16 = 4400;
/// WebSocket close code: the server is shutting down; reconnect later.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// WebSocket close code: the client did not answer keep-alive pings.
pub const CLOSE_PING_TIMEOUT: u16 = 4408;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_rejection() {
        let key = PreKey {
            key_id: 7,
            public_key: Base64Bytes(vec![1, 2, 3]),
        };
        let text = serde_json::to_string(&key).unwrap();
        assert_eq!(text, r#"{"key_id":7,"public_key":"AQID"}"#);
        assert_eq!(serde_json::from_str::<PreKey>(&text).unwrap(), key);
        let err = serde_json::from_str::<PreKey>(r#"{"key_id":7,"public_key":"A!"}"#).unwrap_err();
        assert!(err.to_string().starts_with(BASE64_ERROR_PREFIX), "{err}");
    }

    #[test]
    fn frames_are_tagged() {
        let ack: ClientFrame = serde_json::from_str(r#"{"type":"ack","id":5}"#).unwrap();
        assert_eq!(ack, ClientFrame::Ack { id: 5 });
        let empty = serde_json::to_string(&ServerFrame::QueueEmpty).unwrap();
        assert_eq!(empty, r#"{"type":"queue_empty"}"#);
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"nack","id":5}"#).is_err());
    }
}

/// Answer to `GET /v1/certificate`: a sender certificate for the calling device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderCertificateResponse {
    /// The encoded `SenderCertificate` (`docs/protocol.md` §17.1).
    pub certificate: Base64Bytes,
    /// When it expires (Unix ms): fetch a new one before.
    pub expires_ms: u64,
    /// Id of the server key that signed it.
    pub key_id: u32,
}

/// Answer to `GET /v1/certificate/trust-root`: what clients pin and check certificates with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRootResponse {
    /// The trust root's Ed25519 public key (32 bytes).
    pub trust_root: Base64Bytes,
    /// Id of the server key that signs new certificates.
    pub key_id: u32,
    /// Server keys whose certificates must be refused.
    pub revoked_key_ids: Vec<u32>,
}
