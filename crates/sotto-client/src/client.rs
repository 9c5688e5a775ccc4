//! A registered device: the entry point of front ends.

use std::sync::Arc;

use sotto_core::{Address, Parties, SafetyNumber};
use tokio::sync::{Mutex, broadcast};

use crate::content::canonical_username;
use crate::error::{ClientError, StoreError};
use crate::events::Event;
use crate::relay::Relay;
use crate::store::{AccountRecord, Contact, Store, StoredMessage};

/// Events kept for a slow subscriber before it starts missing some.
const EVENT_BUFFER: usize = 1024;

/// A registered device of an account, with its store and its relay.
#[derive(Clone)]
pub struct Client {
    pub(crate) store: Store,
    pub(crate) relay: Relay,
    pub(crate) account: Arc<AccountRecord>,
    pub(crate) events: broadcast::Sender<Event>,
    /// Held while a session record is loaded, changed and saved, so the sender and the receiver
    /// never both change one record.
    pub(crate) sessions: Arc<Mutex<()>>,
    /// The largest attachment sent or fetched, in plaintext bytes.
    pub(crate) attachment_limit: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(store: Store, account: AccountRecord) -> Result<Self, ClientError> {
        let relay = Relay::new(&account.server_url, account.server_ca.as_deref())?.authenticated(
            &account.account_id,
            account.device_id,
            &account.auth_secret,
        );
        Ok(Self {
            store,
            relay,
            account: Arc::new(account),
            events: broadcast::channel(EVENT_BUFFER).0,
            sessions: Arc::new(Mutex::new(())),
            attachment_limit: crate::attachments::DEFAULT_ATTACHMENT_LIMIT,
        })
    }

    /// This device's account (its `Debug` hides the secrets).
    pub fn account(&self) -> &AccountRecord {
        &self.account
    }

    /// Sets the largest attachment this client sends or fetches (plaintext bytes; the default
    /// is [`DEFAULT_ATTACHMENT_LIMIT`](crate::DEFAULT_ATTACHMENT_LIMIT), 2 GiB).
    pub fn set_attachment_limit(&mut self, bytes: u64) {
        self.attachment_limit = bytes;
    }

    /// Subscribes to events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub(crate) fn emit(&self, event: Event) {
        // No subscriber is fine: the history holds everything.
        let _ = self.events.send(event);
    }

    /// This device's protocol address.
    pub(crate) fn address(&self) -> Result<Address, ClientError> {
        address(&self.account.account_id, self.account.device_id)
    }

    pub(crate) fn parties<'a>(&'a self, local: &'a Address, remote: &'a Address) -> Parties<'a> {
        Parties {
            local_identity: &self.account.identity,
            local_address: local,
            remote_address: remote,
        }
    }

    /// Every contact, by username.
    ///
    /// # Errors
    /// A store failure.
    pub async fn contacts(&self) -> Result<Vec<Contact>, ClientError> {
        let mut tx = self.store.begin().await?;
        Ok(self.store.contacts(&mut tx).await?)
    }

    /// The contact with this username, if known.
    ///
    /// # Errors
    /// A store failure.
    pub async fn contact(&self, username: &str) -> Result<Option<Contact>, ClientError> {
        let Ok(username) = canonical_username(username) else {
            return Ok(None);
        };
        let mut tx = self.store.begin().await?;
        Ok(self.store.contact_named(&mut tx, &username).await?)
    }

    async fn known_contact(&self, username: &str) -> Result<Contact, ClientError> {
        self.contact(username)
            .await?
            .ok_or_else(|| ClientError::UnknownUser(username.to_owned()))
    }

    /// The history with a contact, oldest first.
    ///
    /// # Errors
    /// [`ClientError::UnknownUser`] for someone not in the contacts; a store failure.
    pub async fn history(&self, username: &str) -> Result<Vec<StoredMessage>, ClientError> {
        let contact = self.known_contact(username).await?;
        // Never show a disappearing message past its time.
        self.expire_messages().await?;
        let mut tx = self.store.begin().await?;
        Ok(self.store.history_of(&mut tx, &contact.account_id).await?)
    }

    /// The safety number with a contact, over both account ids and identity keys.
    ///
    /// # Errors
    /// [`ClientError::UnknownUser`]; a store failure.
    pub async fn safety_number(&self, username: &str) -> Result<SafetyNumber, ClientError> {
        let contact = self.known_contact(username).await?;
        Ok(SafetyNumber::compute(
            self.account.account_id.as_bytes(),
            self.account.identity.public(),
            contact.account_id.as_bytes(),
            &contact.identity,
        ))
    }

    /// Marks a contact's current identity as verified (after comparing safety numbers).
    ///
    /// # Errors
    /// [`ClientError::UnknownUser`]; a store failure.
    pub async fn mark_verified(&self, username: &str) -> Result<(), ClientError> {
        self.set_trust(username, true).await
    }

    /// Accepts a contact's changed identity: sending is allowed again. The contact is no longer
    /// verified; compare the new safety number and call [`mark_verified`](Self::mark_verified).
    ///
    /// # Errors
    /// [`ClientError::UnknownUser`]; a store failure.
    pub async fn accept_identity(&self, username: &str) -> Result<(), ClientError> {
        self.set_trust(username, false).await
    }

    async fn set_trust(&self, username: &str, verified: bool) -> Result<(), ClientError> {
        let mut contact = self.known_contact(username).await?;
        contact.verified = verified;
        contact.identity_changed = false;
        let mut tx = self.store.begin().await?;
        self.store.save_contact(&mut tx, &contact).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Closes the store cleanly.
    pub async fn close(&self) {
        self.store.close().await;
    }
}

pub(crate) fn address(account_id: &str, device_id: u32) -> Result<Address, ClientError> {
    Address::new(account_id.as_bytes(), device_id)
        .map_err(|_| ClientError::Content("account id length"))
}
