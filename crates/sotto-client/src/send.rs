//! Sending: one ciphertext per device of the recipient and per other device of our own
//! account, saved in the outbox with the sessions that made them before anything goes out.
//!
//! ```text
//! resolve user ─► trust check ─► sessions (+ bundles) ─► encrypt ─► ONE transaction:
//!   sessions, outbox entry, history row ─► PUT (same message id on every retry) ─► 200: delete
//!   the outbox entry, mark sent │ 409: archive sessions of extra devices, start sessions with
//!   missing ones, re-save, retry │ 410: the same for re-linked (stale) devices
//! Every lookup's device list is compared with the one seen before (`devices.rs`): a change is
//! an `Event::DevicesChanged`, and a re-linked device's session is archived.
//! ```

use std::collections::HashMap;

use rand::RngExt as _;
use sotto_core::bundle::VerifiedPreKeyBundle;
use sotto_core::{IdentityKey, SessionRecord};
use sotto_proto::api::{Base64Bytes, OutgoingEnvelope, SendRequest};

use crate::apply::{Applied, Author, Conversation, Incoming};
use crate::bundles::verify_device_bundle;
use crate::client::{Client, address};
use crate::content::{Body, CONTENT_VERSION, Content, canonical_username};
use crate::error::{ClientError, StoreError};
use crate::events::{DeliveryState, Event};
use crate::relay::SendOutcome;
use crate::relay_sealed::SealedOutcome;
use crate::sealed::{Sealing, Unsealable};
use crate::store::{Direction, OutboxEntry, now_ms};
use crate::trust::{ensure_trusted, observe};

/// Attempts at one send before the device list is declared unstable.
const MAX_DEVICE_FIXES: usize = 3;

/// A new message id: the time in Unix ms as 12 hex digits, a dash, and 80 random bits as 20
/// hex digits (the relay wants 16–64 of `A-Za-z0-9-_`). The time first lets the relay keep
/// its table of remembered ids in order. The relay sees the send arrive anyway; what the time
/// adds is our clock's offset from the relay's (`docs/metadata.md`).
pub(crate) fn new_message_id() -> String {
    let mut random = [0u8; 10];
    rand::rng().fill(&mut random[..]);
    format!("{:012x}-{}", now_ms().max(0), hex::encode(random))
}

/// Where an encrypted copy goes.
pub(crate) struct Recipient<'a> {
    pub(crate) username: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) identity: &'a IdentityKey,
}

impl Client {
    /// Sends `text` to `username` (every device) and to our own other devices. Returns the
    /// message id once the relay has stored the message.
    ///
    /// # Errors
    /// [`ClientError::InvalidUsername`], [`ClientError::TextTooLong`] (nothing is stored),
    /// [`ClientError::UnknownUser`], [`ClientError::UntrustedIdentity`] for a verified contact
    /// whose identity changed, relay or store failures. After a failure past encryption, the
    /// message stays in the outbox and [`flush_outbox`](Self::flush_outbox) retries it with
    /// the same id (the relay stores it once).
    pub async fn send(&self, username: &str, text: &str) -> Result<String, ClientError> {
        self.send_message(username, crate::OutgoingMessage::text(text))
            .await
    }

    /// Sends any typed body — the low-level form of [`send_message`](Self::send_message),
    /// [`react`](Self::react) and the rest, which check their input first. Whatever is sent,
    /// receivers apply only what the rules allow (edits of the author's own messages, …).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_content(&self, username: &str, body: Body) -> Result<String, ClientError> {
        self.send_body(username, body).await
    }

    /// Encrypts `body` for every device of `username` (and, unless it is a receipt or a
    /// typing indicator, our own other devices), applies it to our own store in the same
    /// transaction, and hands it to the relay. Returns the message id.
    pub(crate) async fn send_body(
        &self,
        username: &str,
        body: Body,
    ) -> Result<String, ClientError> {
        let username = canonical_username(username)?;
        let info = self
            .relay
            .account(&username)
            .await?
            .ok_or_else(|| ClientError::UnknownUser(username.clone()))?;
        let identity = IdentityKey::from_wire(&info.identity_key.0)?;
        let content = Content {
            version: CONTENT_VERSION,
            id: new_message_id(),
            sent_at: now_ms(),
            body,
            sender: self.account.username.clone(),
            sent_to: None,
            access_key: Some(self.shared_access_key()),
        };
        let recipient = Recipient {
            username: &username,
            account_id: &info.account_id,
            identity: &identity,
        };
        let devices: Vec<u32> = info.devices.iter().map(|d| d.device_id).collect();
        let entries = {
            let _guard = self.sessions.lock().await;
            self.check_trust(&recipient).await?;
            self.note_devices(&username, &info.account_id, &info.devices)
                .await?;
            let mut entries = vec![self.encrypt_entry(&recipient, &devices, &content).await?];
            if content.body.syncs_to_own_devices()
                && let Some(entry) = self.encrypt_sync_copy(&info.account_id, &content).await?
            {
                entries.push(entry);
            }
            entries
        };
        for entry in entries {
            self.deliver(entry).await?;
        }
        Ok(content.id)
    }

    pub(crate) async fn check_trust(&self, recipient: &Recipient<'_>) -> Result<(), ClientError> {
        let mut tx = self.store.begin().await?;
        let seen = observe(
            &self.store,
            &mut tx,
            recipient.username,
            recipient.account_id,
            recipient.identity,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        if seen.changed {
            self.emit(Event::IdentityChanged {
                username: recipient.username.to_owned(),
                was_verified: seen.was_verified,
            });
        }
        ensure_trusted(&seen.contact)
    }

    /// The copy for our own other devices, if we have any.
    async fn encrypt_sync_copy(
        &self,
        peer_account: &str,
        content: &Content,
    ) -> Result<Option<OutboxEntry>, ClientError> {
        let own = &self.account;
        let Some(info) = self.relay.account(&own.username).await? else {
            return Ok(None);
        };
        self.note_devices(&own.username, &own.account_id, &info.devices)
            .await?;
        let devices: Vec<u32> = info
            .devices
            .iter()
            .map(|d| d.device_id)
            .filter(|&d| d != own.device_id)
            .collect();
        if devices.is_empty() {
            return Ok(None);
        }
        let copy = Content {
            sent_to: Some(peer_account.to_owned()),
            ..content.clone()
        };
        let recipient = Recipient {
            username: &own.username,
            account_id: &own.account_id,
            identity: own.identity.public(),
        };
        Ok(Some(self.encrypt_entry(&recipient, &devices, &copy).await?))
    }

    /// Encrypts `content` for `devices` and saves sessions, outbox entry and (for the peer's
    /// copy) the history row in one transaction.
    async fn encrypt_entry(
        &self,
        to: &Recipient<'_>,
        devices: &[u32],
        content: &Content,
    ) -> Result<OutboxEntry, ClientError> {
        let mut records = {
            let mut tx = self.store.begin().await?;
            let all = self.store.sessions_of(&mut tx, to.account_id).await?;
            all.into_iter().collect::<HashMap<_, _>>()
        };
        let stale: Vec<u32> = devices
            .iter()
            .copied()
            .filter(|d| {
                records
                    .get(d)
                    .is_none_or(|r| r.remote_identity() != Some(to.identity))
            })
            .collect();
        let bundles = self.fetch_bundles(to, &stale).await?;
        let plaintext = content.encode()?;
        let envelopes = self.encrypt_for(to, devices, &mut records, &bundles, &plaintext)?;
        let entry = OutboxEntry {
            message_id: content.id.clone(),
            recipient_account: to.account_id.to_owned(),
            content: plaintext,
            envelopes,
            ephemeral: content.body.is_ephemeral(),
        };
        let mut tx = self.store.begin().await?;
        for device in devices {
            if let Some(record) = records.get(device) {
                self.store
                    .save_session(&mut tx, to.account_id, *device, record)
                    .await?;
            }
        }
        if !entry.ephemeral {
            self.store.save_outbox(&mut tx, &entry).await?;
        }
        let applied = if content.sent_to.is_none() {
            let message = Incoming {
                conversation: Conversation {
                    peer_account: to.account_id,
                    peer_name: to.username,
                },
                author: Author::ThisDevice,
                device_id: self.account.device_id,
                content,
            };
            self.apply(&mut tx, &message).await?
        } else {
            Applied::default()
        };
        tx.commit().await.map_err(StoreError::from)?;
        self.after_commit(applied);
        Ok(entry)
    }

    /// Fetches and verifies bundles; each must carry the identity we checked.
    async fn fetch_bundles(
        &self,
        to: &Recipient<'_>,
        devices: &[u32],
    ) -> Result<HashMap<u32, VerifiedPreKeyBundle>, ClientError> {
        let mut bundles = HashMap::new();
        for &device in devices {
            let answer = self.relay.bundles(to.account_id, Some(device)).await?;
            for bundle in &answer.devices {
                let verified = verify_device_bundle(to.username, &answer.identity_key.0, bundle)?;
                if verified.identity != *to.identity {
                    return Err(ClientError::UntrustedIdentity {
                        username: to.username.to_owned(),
                    });
                }
                bundles.insert(bundle.device_id, verified);
            }
        }
        Ok(bundles)
    }

    /// Starts sessions from `bundles` where given, then encrypts for every device.
    pub(crate) fn encrypt_for(
        &self,
        to: &Recipient<'_>,
        devices: &[u32],
        records: &mut HashMap<u32, SessionRecord>,
        bundles: &HashMap<u32, VerifiedPreKeyBundle>,
        plaintext: &[u8],
    ) -> Result<Vec<(u32, Vec<u8>)>, ClientError> {
        let local = self.address()?;
        let mut rng = rand::rng();
        let mut envelopes = Vec::with_capacity(devices.len());
        for &device in devices {
            let remote = address(to.account_id, device)?;
            let record = records.entry(device).or_default();
            if let Some(bundle) = bundles.get(&device) {
                record.initiate(self.parties(&local, &remote), bundle, &mut rng)?;
            }
            envelopes.push((device, record.encrypt(plaintext, &mut rng)?));
        }
        Ok(envelopes)
    }

    /// Resends every message still in the outbox (after a crash or a network failure), each
    /// with its original id, so the relay stores each once.
    ///
    /// # Errors
    /// The first relay or store failure; the remaining entries stay in the outbox.
    pub async fn flush_outbox(&self) -> Result<usize, ClientError> {
        let entries = {
            let mut tx = self.store.begin().await?;
            self.store.outbox(&mut tx).await?
        };
        let count = entries.len();
        for entry in entries {
            self.deliver(entry).await?;
        }
        Ok(count)
    }

    /// PUTs an outbox entry until the relay stores it, fixing the device list on 409: sealed
    /// when it can be, identified (and said so) when not.
    async fn deliver(&self, mut entry: OutboxEntry) -> Result<(), ClientError> {
        let mut sealing = self.sealing_for(&entry.recipient_account).await?;
        let mut attempts = 0;
        while attempts < MAX_DEVICE_FIXES {
            let registration_ids = self
                .known_registration_ids(&entry.recipient_account)
                .await?;
            let request = SendRequest {
                ephemeral: entry.ephemeral,
                envelopes: entry
                    .envelopes
                    .iter()
                    .map(|(device_id, content)| OutgoingEnvelope {
                        device_id: *device_id,
                        content: Base64Bytes(content.clone()),
                        registration_id: registration_ids.get(device_id).copied(),
                    })
                    .collect(),
            };
            let outcome = match &sealing {
                Ok(how) => match self.send_sealed(&entry, how, request).await? {
                    Some(outcome) => outcome,
                    None => {
                        // The recipient changed its key: fall back, and say so.
                        self.forget_access_key(&entry.recipient_account).await?;
                        sealing = Err(Unsealable::AccessKeyRefused);
                        continue;
                    }
                },
                Err(_) => {
                    self.relay
                        .send(&entry.recipient_account, &entry.message_id, &request)
                        .await?
                }
            };
            attempts += 1;
            match outcome {
                SendOutcome::Stored => return self.delivered(&entry, sealing.err()).await,
                SendOutcome::DeviceMismatch { missing, extra } => {
                    self.refresh_devices(&entry.recipient_account).await?;
                    entry = self.fix_devices(entry, &missing, &extra).await?;
                }
                SendOutcome::StaleDevices(stale) => {
                    // Each stale device was re-linked: drop its envelope and its session, and
                    // encrypt to the new device from a fresh bundle.
                    self.refresh_devices(&entry.recipient_account).await?;
                    entry = self.fix_devices(entry, &stale, &stale).await?;
                }
            }
        }
        Err(ClientError::DeviceListUnstable(entry.recipient_account))
    }

    /// Seals every envelope of `request` and sends it without credentials; `None` when the
    /// relay refused the access key (nothing was stored).
    async fn send_sealed(
        &self,
        entry: &OutboxEntry,
        how: &Sealing,
        mut request: SendRequest,
    ) -> Result<Option<SendOutcome>, ClientError> {
        for envelope in &mut request.envelopes {
            envelope.content = Base64Bytes(self.seal(how, &envelope.content.0)?);
        }
        let answer = self
            .relay
            .send_sealed(
                &entry.recipient_account,
                &entry.message_id,
                &how.access.access_key,
                &request,
            )
            .await?;
        Ok(match answer {
            SealedOutcome::Answered(outcome) => Some(outcome),
            SealedOutcome::AccessDenied => None,
        })
    }

    async fn delivered(
        &self,
        entry: &OutboxEntry,
        identified: Option<Unsealable>,
    ) -> Result<(), ClientError> {
        let mut tx = self.store.begin().await?;
        self.store
            .delete_outbox(&mut tx, &entry.message_id, &entry.recipient_account)
            .await?;
        let changed = self
            .store
            .raise_state(
                &mut tx,
                &entry.recipient_account,
                Direction::Outgoing,
                std::slice::from_ref(&entry.message_id),
                DeliveryState::Sent,
            )
            .await?;
        let peer = if entry.recipient_account == self.account.account_id {
            self.account.username.clone()
        } else {
            let contact = self
                .store
                .contact(&mut tx, &entry.recipient_account)
                .await?;
            contact.map_or_else(|| entry.recipient_account.clone(), |c| c.username)
        };
        tx.commit().await.map_err(StoreError::from)?;
        if let Some(reason) = identified {
            self.emit(Event::SentIdentified {
                peer: peer.clone(),
                message_id: entry.message_id.clone(),
                reason,
            });
        }
        if !changed.is_empty() {
            self.emit(Event::Delivery {
                peer,
                message_id: entry.message_id.clone(),
                state: DeliveryState::Sent,
            });
        }
        Ok(())
    }

    /// Applies the relay's corrected device list to an outbox entry: sessions with removed
    /// devices are archived, new devices get new sessions and their own ciphertext.
    async fn fix_devices(
        &self,
        mut entry: OutboxEntry,
        missing: &[u32],
        extra: &[u32],
    ) -> Result<OutboxEntry, ClientError> {
        let _guard = self.sessions.lock().await;
        let account_id = entry.recipient_account.clone();
        let (username, identity) = self.recipient_identity(&account_id).await?;
        let to = Recipient {
            username: &username,
            account_id: &account_id,
            identity: &identity,
        };
        let mut records: HashMap<u32, SessionRecord> = {
            let mut tx = self.store.begin().await?;
            self.store
                .sessions_of(&mut tx, &account_id)
                .await?
                .into_iter()
                .collect()
        };
        entry
            .envelopes
            .retain(|(device, _)| !extra.contains(device));
        for device in extra {
            if let Some(record) = records.get_mut(device) {
                record.archive_current_session();
            }
        }
        let bundles = self.fetch_bundles(&to, missing).await?;
        let added = self.encrypt_for(&to, missing, &mut records, &bundles, &entry.content)?;
        entry.envelopes.extend(added);
        let mut tx = self.store.begin().await?;
        for device in missing.iter().chain(extra) {
            if let Some(record) = records.get(device) {
                self.store
                    .save_session(&mut tx, &account_id, *device, record)
                    .await?;
            }
        }
        if !entry.ephemeral {
            self.store.save_outbox(&mut tx, &entry).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(entry)
    }

    /// The username and trusted identity behind an account id we send to.
    async fn recipient_identity(
        &self,
        account_id: &str,
    ) -> Result<(String, IdentityKey), ClientError> {
        if account_id == self.account.account_id {
            return Ok((
                self.account.username.clone(),
                self.account.identity.public().clone(),
            ));
        }
        let mut tx = self.store.begin().await?;
        let contact = self
            .store
            .contact(&mut tx, account_id)
            .await?
            .ok_or_else(|| ClientError::UnknownUser(account_id.to_owned()))?;
        // Queued messages were encrypted for the identity the user saw when writing them:
        // never re-encrypt them to a changed one before the user accepts it.
        if contact.identity_changed {
            return Err(ClientError::UntrustedIdentity {
                username: contact.username,
            });
        }
        Ok((contact.username, contact.identity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_begin_with_the_time_and_end_random() {
        let before = now_ms();
        let (a, b) = (new_message_id(), new_message_id());
        assert_eq!(a.len(), 33);
        assert_eq!(a.as_bytes()[12], b'-');
        let time = i64::from_str_radix(&a[..12], 16).unwrap();
        assert!(time >= before && time <= now_ms());
        assert!(a[..12] <= b[..12], "{a} then {b}");
        assert_ne!(a[13..], b[13..]);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-'));
    }
}
