//! Linking and removing devices: short-lived provisioning channels and one-time link tokens.
//!
//! A provisioning channel carries one ciphertext from an existing device to a new one; the
//! relay never holds a key that opens it. A link token, issued to an authenticated device,
//! lets exactly one new device join that device's account. Both expire after minutes and are
//! kept in the store so that every node of a cluster sees them.

use crate::domain::{AccountId, DeviceAddress, SecretHash};
use crate::store::{Day, NewDeviceRecord, StoreError};
use async_trait::async_trait;

/// What a provisioning channel holds when its reader asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelContents {
    /// Nothing yet: ask again.
    Empty,
    /// The ciphertext; the channel is deleted as it is handed out.
    Message(Vec<u8>),
}

/// A new linked device, as the store adds it.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    /// SHA-256 of the link token presented.
    pub token_hash: [u8; 32],
    /// The new device.
    pub device: NewDeviceRecord,
    /// Device limit of the account.
    pub max_devices: u32,
    /// Today, for "created" and "last seen".
    pub today: Day,
    /// Now (ms since the epoch): expired tokens are refused.
    pub now_ms: i64,
}

/// Provisioning channels, link tokens and device removal.
#[async_trait]
pub trait LinkingStore: Send + Sync {
    /// Opens an empty channel readable with the secret whose hash is given, until
    /// `expires_ms`. Expired channels and link tokens are deleted on the way.
    async fn open_channel(
        &self,
        id: &str,
        secret_hash: &SecretHash,
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Puts the one message into a channel. `NotFound` if the channel is unknown or expired,
    /// `ChannelFilled` if it already holds a message.
    async fn fill_channel(&self, id: &str, message: &[u8], now_ms: i64) -> Result<(), StoreError>;
    /// Reads a channel with its secret: `NotFound` if unknown, expired or the secret is wrong.
    /// A message is handed out once: the channel is deleted with it.
    async fn read_channel(
        &self,
        id: &str,
        secret_hash: &SecretHash,
        now_ms: i64,
    ) -> Result<ChannelContents, StoreError>;
    /// Stores a link token (hashed) that adds one device to `account` until `expires_ms`.
    async fn create_link_token(
        &self,
        token_hash: [u8; 32],
        account: &AccountId,
        expires_ms: i64,
    ) -> Result<(), StoreError>;
    /// Consumes a link token and adds the device to its account in one transaction.
    /// `InvalidToken` if the token is unknown, used or expired; `TooManyDevices` (token kept)
    /// when the account is full.
    async fn link_device(&self, request: LinkRequest) -> Result<DeviceAddress, StoreError>;
    /// Deletes a device, its prekeys and its queued envelopes. `NotFound` if it does not exist.
    async fn remove_device(&self, device: &DeviceAddress) -> Result<(), StoreError>;
}
