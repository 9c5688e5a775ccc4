//! A profile: a directory with the encrypted store of one device's account.

use std::path::{Path, PathBuf};

use rand::RngExt as _;
use sotto_core::IdentityKeyPair;
use sotto_proto::api::{Base64Bytes, NewDevice, RegisterRequest};
use zeroize::Zeroizing;

use crate::client::Client;
use crate::content::canonical_username;
use crate::error::{ClientError, RelayError, StoreError};
use crate::pre_keys::PreKeyBatch;
use crate::relay::Relay;
use crate::store::unlock::Unlock;
use crate::store::{AccountRecord, Store};

/// The key file's name inside a profile directory, for unattended use.
pub const KEY_FILE: &str = "profile.key";

/// A relay to register with: its URL and, for a relay with its own certificate authority, the
/// CA certificate(s) to pin (PEM). Without one, `https://` relays are checked against the
/// system's root certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// `http://host:port` or `https://host:port`.
    pub url: String,
    /// CA certificates in PEM that alone are trusted for this relay.
    pub ca_pem: Option<Vec<u8>>,
}

impl Server {
    /// A relay trusted through the system roots.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_pem: None,
        }
    }

    /// Pins the relay's CA certificate(s).
    #[must_use]
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }
}

impl From<&str> for Server {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<&String> for Server {
    fn from(url: &String) -> Self {
        Self::new(url.as_str())
    }
}

impl From<String> for Server {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

/// An unlocked profile directory, registered or not.
#[derive(Debug)]
pub struct Profile {
    dir: PathBuf,
    store: Store,
}

/// The default profile directory: `sotto/profile` under the user's data directory.
pub fn default_profile_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "sotto").map(|d| d.data_dir().join("profile"))
}

impl Profile {
    /// Opens (or creates) the profile in `dir`.
    ///
    /// # Errors
    /// See [`Store::open`]: a wrong passphrase or key file, a key file readable by others, or
    /// a database failure.
    pub async fn open(dir: &Path, unlock: &Unlock) -> Result<Self, StoreError> {
        let store = Store::open(dir, unlock).await?;
        Ok(Self {
            dir: dir.to_owned(),
            store,
        })
    }

    /// The profile directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn into_store(self) -> Store {
        self.store
    }

    /// Registers a new account on the relay at `server` with this profile as its first device:
    /// makes the identity and prekeys, registers, and stores everything in one transaction.
    ///
    /// # Errors
    /// [`ClientError::InvalidUsername`], [`ClientError::UsernameTaken`], a relay or store failure. A profile that already has an
    /// account is refused with [`StoreError::Corrupt`].
    pub async fn register(
        self,
        server: impl Into<Server>,
        username: &str,
        token: Option<&str>,
    ) -> Result<Client, ClientError> {
        let server = server.into();
        let username = canonical_username(username)?;
        let username = username.as_str();
        if self.store.account().await?.is_some() {
            return Err(StoreError::Corrupt("this profile already has an account").into());
        }
        let identity = IdentityKeyPair::generate(&mut rand::rng());
        let mut secret = Zeroizing::new([0u8; 32]);
        rand::rng().fill(&mut secret[..]);
        let registration_id = rand::rng().random_range(1..16_380);
        let keys = PreKeyBatch::initial(&identity, 1);
        let request = RegisterRequest {
            username: username.to_owned(),
            registration_token: token.map(str::to_owned),
            identity_key: Base64Bytes(identity.public().encode().to_vec()),
            device: NewDevice {
                auth_secret: Base64Bytes(secret.to_vec()),
                registration_id,
                prekeys: keys.upload(),
            },
        };
        let relay = Relay::new(&server.url, server.ca_pem.as_deref())?;
        let answer = match relay.register(&request).await {
            Err(RelayError::Status { code, .. }) if code == "username_taken" => {
                return Err(ClientError::UsernameTaken(username.to_owned()));
            }
            other => other?,
        };
        let account = AccountRecord {
            server_url: server.url,
            server_ca: server.ca_pem,
            username: username.to_owned(),
            account_id: answer.account_id,
            device_id: answer.device_id,
            registration_id,
            auth_secret: secret,
            identity,
        };
        let mut tx = self.store.begin().await?;
        self.store
            .save_account(&mut tx, &account, 2 + PreKeyBatch::ONE_TIME_IDS)
            .await?;
        keys.save(&self.store, &mut tx).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let client = Client::new(self.store, account)?;
        client.pin_sealed_sender().await;
        Ok(client)
    }

    /// The client of a registered profile.
    ///
    /// # Errors
    /// [`StoreError::NotRegistered`], or a store failure.
    pub async fn client(self) -> Result<Client, ClientError> {
        let account = self
            .store
            .account()
            .await?
            .ok_or(StoreError::NotRegistered)?;
        Client::new(self.store, account)
    }
}
