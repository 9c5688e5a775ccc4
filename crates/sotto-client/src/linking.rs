//! Linking a new device to an account (`docs/protocol.md`, "Linking a device").
//!
//! ```text
//!  new device: Profile::start_link ─► POST /v1/provisioning ─► PendingLink::code()
//!              "sotto-link:<channel id>:<base64url public key>" (text and QR)
//!  old device: Client::approve_link(code) ─► POST /v1/devices/link-token
//!              ─► seal {identity, account id, username, token} to the key ─► PUT channel
//!  new device: PendingLink::finish ─► poll GET channel ─► open ─► own prekeys and secret
//!              ─► POST /v1/devices/link ─► check the account's identity ─► save ─► Client
//! ```
//!
//! The relay sees only the channel id and ciphertext: the public key travels from screen to
//! camera (or by copy and paste), never through the relay.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt as _;
use sotto_core::curve::PublicKey;
use sotto_core::provisioning::{ProvisioningKeys, ProvisioningMessage, seal};
use sotto_core::{IdentityKey, IdentityKeyPair};
use sotto_proto::api::{Base64Bytes, LinkDeviceRequest, NewDevice, ProvisioningEnvelope};
use zeroize::Zeroizing;

use crate::client::Client;
use crate::error::{ClientError, StoreError};
use crate::pre_keys::PreKeyBatch;
use crate::profile::{Profile, Server};
use crate::relay::Relay;
use crate::store::AccountRecord;

/// The prefix of a linking code.
pub const LINK_CODE_PREFIX: &str = "sotto-link:";
/// How often a waiting new device asks the relay whether its message arrived.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// A parsed linking code: which channel, and the new device's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkCode {
    /// The provisioning channel on the relay.
    pub channel_id: String,
    /// The new device's ephemeral X25519 key.
    pub public_key: PublicKey,
}

impl LinkCode {
    /// Parses `sotto-link:<channel id>:<base64url key>` (surrounding spaces ignored).
    ///
    /// # Errors
    /// [`ClientError::InvalidLinkCode`] for anything else.
    pub fn parse(text: &str) -> Result<Self, ClientError> {
        let rest = text
            .trim()
            .strip_prefix(LINK_CODE_PREFIX)
            .ok_or(ClientError::InvalidLinkCode)?;
        let (channel_id, key) = rest.split_once(':').ok_or(ClientError::InvalidLinkCode)?;
        let channel_ok = !channel_id.is_empty()
            && channel_id.len() <= 64
            && channel_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !channel_ok {
            return Err(ClientError::InvalidLinkCode);
        }
        let key = URL_SAFE_NO_PAD
            .decode(key)
            .map_err(|_| ClientError::InvalidLinkCode)?;
        let public_key = PublicKey::from_wire(&key).map_err(|_| ClientError::InvalidLinkCode)?;
        Ok(Self {
            channel_id: channel_id.to_owned(),
            public_key,
        })
    }
}

impl std::fmt::Display for LinkCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{LINK_CODE_PREFIX}{}:{}",
            self.channel_id,
            URL_SAFE_NO_PAD.encode(self.public_key.encode())
        )
    }
}

/// A new device waiting for an existing device of the account to approve it.
pub struct PendingLink {
    profile: Profile,
    server: Server,
    relay: Relay,
    code: LinkCode,
    secret: Zeroizing<Vec<u8>>,
    keys: ProvisioningKeys,
    expires: Instant,
}

impl std::fmt::Debug for PendingLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLink")
            .field("code", &self.code.to_string())
            .finish_non_exhaustive()
    }
}

impl Profile {
    /// Starts linking this (empty) profile as a new device of an existing account: opens a
    /// provisioning channel on the relay. Show [`PendingLink::code`] to the other device, then
    /// call [`PendingLink::finish`].
    ///
    /// # Errors
    /// A profile that already has an account ([`StoreError::Corrupt`]), a relay failure.
    pub async fn start_link(self, server: impl Into<Server>) -> Result<PendingLink, ClientError> {
        if self.store().account().await?.is_some() {
            return Err(StoreError::Corrupt("this profile already has an account").into());
        }
        let server = server.into();
        let relay = Relay::new(&server.url, server.ca_pem.as_deref())?;
        let channel = relay.open_provisioning().await?;
        let keys = ProvisioningKeys::generate(&mut rand::rng());
        let code = LinkCode {
            channel_id: channel.channel_id,
            public_key: *keys.public(),
        };
        Ok(PendingLink {
            profile: self,
            server,
            relay,
            code,
            secret: Zeroizing::new(channel.secret.0),
            keys,
            expires: Instant::now() + Duration::from_secs(channel.expires_in_secs),
        })
    }
}

impl PendingLink {
    /// The code to show the existing device (as text and as a QR code).
    pub fn code(&self) -> String {
        self.code.to_string()
    }

    /// Waits for the approval, then registers this device with its own prekeys and secret
    /// and saves the account in the profile.
    ///
    /// # Errors
    /// [`ClientError::LinkExpired`] when nobody approved in time; [`ClientError::Provisioning`]
    /// for a message that does not open; [`ClientError::Linking`] when the relay's answer does
    /// not match the message; relay and store failures.
    pub async fn finish(self) -> Result<Client, ClientError> {
        let envelope = self.wait().await?;
        let message = self.keys.open(self.code.channel_id.as_bytes(), &envelope)?;
        self.register(message).await
    }

    async fn wait(&self) -> Result<Vec<u8>, ClientError> {
        loop {
            let read = self
                .relay
                .read_provisioning(&self.code.channel_id, &self.secret)
                .await;
            match read {
                Ok(Some(envelope)) => return Ok(envelope),
                Ok(None) => {}
                // The channel expired (or was swept) on the relay.
                Err(crate::RelayError::Status { status: 404, .. }) => {
                    return Err(ClientError::LinkExpired);
                }
                Err(error) => return Err(error.into()),
            }
            if Instant::now() >= self.expires {
                return Err(ClientError::LinkExpired);
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    async fn register(self, message: ProvisioningMessage) -> Result<Client, ClientError> {
        let mut secret = Zeroizing::new([0u8; 32]);
        rand::rng().fill(&mut secret[..]);
        let registration_id = rand::rng().random_range(1..16_380);
        let keys = PreKeyBatch::initial(&message.identity, 1);
        let request = LinkDeviceRequest {
            link_token: message.link_token.to_string(),
            device: NewDevice {
                auth_secret: Base64Bytes(secret.to_vec()),
                registration_id,
                prekeys: keys.upload(),
            },
        };
        let answer = self.relay.link_device(&request).await?;
        if answer.account_id != message.account_id {
            return Err(ClientError::Linking(
                "the relay linked this device to another account",
            ));
        }
        let authenticated =
            self.relay
                .clone()
                .authenticated(&answer.account_id, answer.device_id, &secret);
        check_identity(&authenticated, &message).await?;
        let account = AccountRecord {
            server_url: self.server.url,
            server_ca: self.server.ca_pem,
            username: message.username.clone(),
            account_id: answer.account_id,
            device_id: answer.device_id,
            registration_id,
            auth_secret: secret,
            identity: message.identity,
        };
        let store = self.profile.into_store();
        let mut tx = store.begin().await?;
        store
            .save_account(&mut tx, &account, 2 + PreKeyBatch::ONE_TIME_IDS)
            .await?;
        keys.save(&store, &mut tx).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let client = Client::new(store, account)?;
        client.pin_sealed_sender().await;
        Ok(client)
    }
}

/// The account the relay lists under the message's username must carry the message's identity.
async fn check_identity(relay: &Relay, message: &ProvisioningMessage) -> Result<(), ClientError> {
    let info = relay
        .account(&message.username)
        .await?
        .ok_or(ClientError::Linking("the relay does not know the account"))?;
    let listed = IdentityKey::from_wire(&info.identity_key.0)?;
    if info.account_id != message.account_id || &listed != message.identity.public() {
        return Err(ClientError::Linking(
            "the account's identity on the relay differs from the one received",
        ));
    }
    Ok(())
}

impl Client {
    /// Approves a new device showing `code`: asks the relay for a one-time link token and
    /// sends the account's identity, id, username and the token, encrypted to the new device's
    /// key, through the code's provisioning channel.
    ///
    /// # Errors
    /// [`ClientError::InvalidLinkCode`], [`ClientError::Provisioning`], relay failures (an
    /// unknown or expired channel is a 404 `not_found`).
    pub async fn approve_link(&self, code: &str) -> Result<(), ClientError> {
        let code = LinkCode::parse(code)?;
        let token = self.relay.link_token().await?;
        let message = ProvisioningMessage {
            identity: IdentityKeyPair::from_secret_bytes(&self.account.identity.to_secret_bytes()),
            account_id: self.account.account_id.clone(),
            username: self.account.username.clone(),
            link_token: Zeroizing::new(token.token),
        };
        let sealed = seal(
            &message,
            code.channel_id.as_bytes(),
            &code.public_key,
            &mut rand::rng(),
        )?;
        let envelope = ProvisioningEnvelope {
            message: Base64Bytes(sealed),
        };
        self.relay
            .fill_provisioning(&code.channel_id, &envelope)
            .await?;
        Ok(())
    }
}
