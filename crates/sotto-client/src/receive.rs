//! Receiving: the delivery WebSocket, and for each envelope decrypt, then ONE transaction
//! (session record, prekey use, contact, history row), and only then the ack.
//!
//! A redelivered envelope (its id is already in the history) is acked without decrypting; a
//! crash before the commit leaves the session as it was, so the redelivery decrypts again.

use std::collections::BTreeMap;

use futures_util::{SinkExt as _, StreamExt as _};
use sotto_core::message::MessageKind;
use sotto_core::{Decrypted, IdentityKey, InMemoryPreKeyStore, SessionRecord};
use sotto_proto::api::{ClientFrame, DeliveredEnvelope, ServerFrame};
use tokio_tungstenite::tungstenite::Message;

use crate::apply::{Applied, Author, Conversation, Incoming};
use crate::client::{Client, address};
use crate::content::{Content, ReceiptKind, canonical_username};
use crate::error::{ClientError, RelayError, StoreError};
use crate::events::Event;
use crate::relay::DeliverySocket;
use crate::sealed::Opened;
use crate::store::{Direction, now_ms};
use crate::trust::observe;

/// How long [`Client::receive`] keeps going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiveMode {
    /// Until the relay says the queue (as it was when we connected) is empty.
    UntilEmpty,
    /// Until the connection closes.
    Follow,
}

/// Who sent an envelope, as far as we trust it.
pub(crate) struct Sender {
    pub(crate) account_id: String,
    pub(crate) device_id: u32,
}

impl Client {
    /// Connects to the relay and processes envelopes as [`ReceiveMode`] says, acking each one
    /// after it is stored. Also keeps the prekeys topped up.
    ///
    /// # Errors
    /// The relay or the store failed. Envelopes processed so far are stored and acked.
    pub async fn receive(&self, mode: ReceiveMode) -> Result<ReceiveSummary, ClientError> {
        if let Err(error) = self.maintain_pre_keys().await {
            tracing::warn!(%error, "prekey maintenance failed");
        }
        if let Err(error) = self.refresh_revoked_keys().await {
            tracing::warn!(%error, "could not refresh the revoked sealed-sender keys");
        }
        self.expire_messages().await?;
        let mut socket = self.relay.connect().await?;
        let mut run = ReceiveRun::default();
        loop {
            let sweep = self.sweep_delay().await?;
            let frame = tokio::select! {
                frame = socket.next() => frame,
                () = tokio::time::sleep(sweep) => {
                    self.expire_messages().await?;
                    continue;
                }
            };
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| RelayError::Network(e.to_string()))?;
            let text = match frame {
                Message::Text(text) => text,
                Message::Close(_) => break,
                _ => continue,
            };
            let frame: ServerFrame =
                serde_json::from_str(&text).map_err(|e| RelayError::Malformed(e.to_string()))?;
            match frame {
                ServerFrame::Envelope(envelope) => {
                    let outcome = self.process_envelope(&envelope).await?;
                    ack(&mut socket, envelope.id).await?;
                    if let Some((group, account)) = &outcome.leave_request
                        && let Err(error) = self
                            .remove_accounts(group, std::slice::from_ref(account))
                            .await
                    {
                        tracing::warn!(%error, "could not remove a member who left a group");
                    }
                    run.count(outcome);
                    if run.live {
                        self.send_delivery_receipts(&mut run.receipts).await;
                    }
                }
                ServerFrame::QueueEmpty => {
                    run.live = true;
                    self.send_delivery_receipts(&mut run.receipts).await;
                    if mode == ReceiveMode::UntilEmpty {
                        break;
                    }
                }
            }
        }
        close(&mut socket).await;
        self.send_delivery_receipts(&mut run.receipts).await;
        if run.used_pre_keys
            && let Err(error) = self.maintain_pre_keys().await
        {
            tracing::warn!(%error, "prekey maintenance failed");
        }
        Ok(run.summary)
    }

    /// How long until the next disappearing message is due (a minute at most, so a timer
    /// set by another task is noticed).
    async fn sweep_delay(&self) -> Result<std::time::Duration, ClientError> {
        let most = std::time::Duration::from_secs(60);
        Ok(match self.next_expiry().await? {
            Some(at) => {
                let wait = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                most.min(std::time::Duration::from_millis(wait))
            }
            None => most,
        })
    }

    /// Sends the collected delivery receipts, one per contact. A failure is logged: the
    /// receipt stays in the outbox and goes out with the next flush.
    async fn send_delivery_receipts(&self, receipts: &mut BTreeMap<String, Vec<String>>) {
        for (peer, ids) in std::mem::take(receipts) {
            if let Err(error) = self
                .send_receipts(&peer, ReceiptKind::Delivered, &ids)
                .await
            {
                tracing::warn!(%error, "could not send a delivery receipt");
            }
        }
    }

    /// Processes one delivered envelope: decrypts it and stores the result (session, prekey
    /// use, contact, message) in one transaction. The caller acks it afterwards. Calling it
    /// twice with the same envelope stores the message once.
    ///
    /// # Errors
    /// A store failure or a relay failure while checking the sender's username (do not ack:
    /// nothing was saved). An undecryptable envelope is not an error: it is reported as an
    /// [`Event::Undecryptable`] and may be acked.
    pub async fn process_envelope(
        &self,
        envelope: &DeliveredEnvelope,
    ) -> Result<Processed, ClientError> {
        let opened;
        let (envelope, sealed_by) = match self.open_sealed(envelope).await? {
            Opened::Plain => (envelope, None),
            Opened::Sealed(unsealed, identity) => {
                opened = unsealed;
                (&*opened, Some(identity))
            }
            Opened::Refused(reason) => {
                self.undecryptable(envelope, reason);
                return Ok(Processed::default());
            }
        };
        let (Some(account_id), Some(device_id)) =
            (envelope.sender_account.clone(), envelope.sender_device)
        else {
            self.undecryptable(envelope, "no sender".to_owned());
            return Ok(Processed::default());
        };
        let sender = Sender {
            account_id,
            device_id,
        };
        let _guard = self.sessions.lock().await;
        if crate::groups::unframe(&envelope.content.0).is_some() {
            if let Some(identity) = &sealed_by
                && !self
                    .sealed_identity_known(&sender.account_id, identity)
                    .await?
            {
                self.undecryptable(envelope, SEALED_MISMATCH.to_owned());
                return Ok(Processed::default());
            }
            return self.process_group_envelope(envelope, &sender).await;
        }
        if self.already_stored(&sender, &envelope.message_id).await? {
            return Ok(Processed::default());
        }
        let mut record = {
            let mut tx = self.store.begin().await?;
            let found = self
                .store
                .session(&mut tx, &sender.account_id, sender.device_id)
                .await?;
            found.unwrap_or_default()
        };
        let decrypted = match self
            .decrypt(&sender, &mut record, &envelope.content.0)
            .await
        {
            Ok(decrypted) => decrypted,
            Err(ClientError::Decrypt(error)) => {
                self.undecryptable(envelope, error.to_string());
                return Ok(Processed::default());
            }
            Err(error) => return Err(error),
        };
        if sealed_by.is_some_and(|identity| *identity != decrypted.remote_identity) {
            // Nothing was saved: the session stays as it was.
            self.undecryptable(envelope, SEALED_MISMATCH.to_owned());
            return Ok(Processed::default());
        }
        self.store_decrypted(&sender, envelope, &record, decrypted)
            .await
    }

    async fn already_stored(&self, sender: &Sender, message_id: &str) -> Result<bool, ClientError> {
        let mut tx = self.store.begin().await?;
        let direction = if sender.account_id == self.account.account_id {
            Direction::Outgoing
        } else {
            Direction::Incoming
        };
        if self
            .store
            .was_processed(&mut tx, &sender.account_id, message_id)
            .await?
        {
            return Ok(true);
        }
        let found = if direction == Direction::Outgoing {
            self.store
                .has_message_id(&mut tx, direction, message_id)
                .await?
        } else {
            self.store
                .has_message(&mut tx, &sender.account_id, direction, message_id)
                .await?
        };
        Ok(found)
    }

    async fn decrypt(
        &self,
        sender: &Sender,
        record: &mut SessionRecord,
        ciphertext: &[u8],
    ) -> Result<Decrypted, ClientError> {
        let pre_keys = if MessageKind::of(ciphertext)? == MessageKind::PreKey {
            let mut tx = self.store.begin().await?;
            self.store.pre_key_store(&mut tx).await?
        } else {
            InMemoryPreKeyStore::default()
        };
        let local = self.address()?;
        let remote = address(&sender.account_id, sender.device_id)?;
        Ok(record.decrypt(self.parties(&local, &remote), ciphertext, &pre_keys)?)
    }

    /// The one transaction of a receive, then the events.
    async fn store_decrypted(
        &self,
        sender: &Sender,
        envelope: &DeliveredEnvelope,
        record: &SessionRecord,
        decrypted: Decrypted,
    ) -> Result<Processed, ClientError> {
        // The relay de-duplicates by the envelope's message id: so do we.
        let mut content = Content::decode(&decrypted.plaintext).ok().map(|mut c| {
            c.id.clone_from(&envelope.message_id);
            c
        });
        self.fetch_group_state(&mut content).await;
        let username = match &content {
            Some(content) => self.verified_username(sender, content).await?,
            None => None,
        };
        let mut tx = self.store.begin().await?;
        self.store
            .save_session(&mut tx, &sender.account_id, sender.device_id, record)
            .await?;
        if let Some(used) = &decrypted.pre_key_use {
            self.store.apply_pre_key_use(&mut tx, used).await?;
        }
        let (mut applied, receipt_to) = match (&content, &username) {
            (Some(content), Some(username)) => {
                self.note_access_key(&mut tx, &sender.account_id, content.access_key.as_ref())
                    .await?;
                let readable = Readable {
                    sender,
                    username,
                    content,
                    identity: &decrypted.remote_identity,
                };
                self.record_message(&mut tx, envelope, &readable).await?
            }
            _ => {
                let mut applied = Applied::default();
                applied.events.push(undecryptable_event(
                    envelope,
                    "unreadable content or unknown sender",
                ));
                (applied, None)
            }
        };
        tx.commit().await.map_err(StoreError::from)?;
        let stored = applied.stored;
        let leave_request = applied.leave_request.take();
        self.after_commit(applied);
        Ok(Processed {
            stored,
            used_pre_key: decrypted.pre_key_use.is_some(),
            receipt_to: receipt_to.filter(|_| stored),
            leave_request,
        })
    }

    /// Applies a decrypted message (in the receive's transaction). Returns what it did and,
    /// for a contact's chat message, whom to send a delivery receipt.
    async fn record_message(
        &self,
        tx: &mut sqlx::SqliteConnection,
        envelope: &DeliveredEnvelope,
        readable: &Readable<'_>,
    ) -> Result<(Applied, Option<(String, String)>), ClientError> {
        let sender = readable.sender;
        let content = readable.content;
        if let crate::content::Body::Group(control) = &content.body {
            return self.record_group_control(tx, readable, control).await;
        }
        let own = sender.account_id == self.account.account_id;
        if own && readable.identity != self.account.identity.public() {
            // Our own account's key cannot change under us: drop it, keep the ratchet state.
            let mut applied = Applied::default();
            applied
                .events
                .push(undecryptable_event(envelope, "own identity mismatch"));
            return Ok((applied, None));
        }
        let mut events = Vec::new();
        let (peer_account, peer_name, author) = if own {
            let peer = content
                .sent_to
                .clone()
                .ok_or(ClientError::Content("sync copy without recipient"))?;
            let name = self
                .store
                .contact(&mut *tx, &peer)
                .await?
                .map_or_else(|| peer.clone(), |c| c.username);
            (peer, name, Author::OwnDevice)
        } else {
            let username = readable.username;
            let seen = observe(
                &self.store,
                &mut *tx,
                username,
                &sender.account_id,
                readable.identity,
            )
            .await?;
            if seen.changed {
                events.push(Event::IdentityChanged {
                    username: username.to_owned(),
                    was_verified: seen.was_verified,
                });
            }
            (sender.account_id.clone(), username.to_owned(), Author::Peer)
        };
        let message = Incoming {
            conversation: Conversation {
                peer_account: &peer_account,
                peer_name: &peer_name,
            },
            author,
            device_id: sender.device_id,
            content,
        };
        let mut applied = self.apply(&mut *tx, &message).await?;
        if content.text().is_none() {
            self.store
                .mark_processed(&mut *tx, &sender.account_id, &content.id, now_ms())
                .await?;
        }
        events.append(&mut applied.events);
        applied.events = events;
        let receipt_to = (author == Author::Peer && content.text().is_some())
            .then(|| (peer_name.clone(), content.id.clone()));
        Ok((applied, receipt_to))
    }

    /// Applies a group control message (in the receive's transaction); it leaves no history.
    async fn record_group_control(
        &self,
        tx: &mut sqlx::SqliteConnection,
        readable: &Readable<'_>,
        control: &crate::content::GroupControl,
    ) -> Result<(Applied, Option<(String, String)>), ClientError> {
        let from = crate::groups::ControlSender {
            account_id: &readable.sender.account_id,
            device_id: readable.sender.device_id,
            identity: readable.identity,
        };
        let outcome = self.apply_group_control(&mut *tx, &from, control).await?;
        self.store
            .mark_processed(&mut *tx, from.account_id, &readable.content.id, now_ms())
            .await?;
        let mut applied = outcome.applied;
        applied.leave_request = outcome.leave_request;
        Ok((applied, None))
    }

    /// The sender's username, if the relay confirms that it belongs to the sending account.
    pub(crate) async fn verified_username(
        &self,
        sender: &Sender,
        content: &Content,
    ) -> Result<Option<String>, ClientError> {
        if sender.account_id == self.account.account_id {
            return Ok(Some(self.account.username.clone()));
        }
        // The name comes from the peer: checked before it goes into a URL.
        let Ok(claimed) = canonical_username(&content.sender) else {
            return Ok(None);
        };
        {
            let mut tx = self.store.begin().await?;
            let known = self.store.contact(&mut tx, &sender.account_id).await?;
            if known.is_some_and(|c| c.username == claimed) {
                return Ok(Some(claimed));
            }
        }
        let info = self.relay.account(&claimed).await?;
        Ok(info
            .filter(|i| i.account_id == sender.account_id)
            .map(|_| claimed))
    }

    fn undecryptable(&self, envelope: &DeliveredEnvelope, reason: String) {
        tracing::warn!(envelope = envelope.id, %reason, "dropping an undecryptable envelope");
        self.emit(Event::Undecryptable {
            sender_account: envelope.sender_account.clone(),
            reason,
        });
    }
}

/// Why a sealed envelope whose certificate names another identity than its session is dropped.
const SEALED_MISMATCH: &str = "sealed envelope: the certified identity is not the sender's";

/// A decrypted, parsed message and who sent it.
struct Readable<'a> {
    sender: &'a Sender,
    username: &'a str,
    content: &'a Content,
    identity: &'a IdentityKey,
}

fn undecryptable_event(envelope: &DeliveredEnvelope, reason: &str) -> Event {
    Event::Undecryptable {
        sender_account: envelope.sender_account.clone(),
        reason: reason.to_owned(),
    }
}

/// What a receive run has done so far.
#[derive(Default)]
struct ReceiveRun {
    summary: ReceiveSummary,
    used_pre_keys: bool,
    /// Past the backlog: receipts go out as messages arrive.
    live: bool,
    /// Delivery receipts to send, by contact username.
    receipts: BTreeMap<String, Vec<String>>,
}

impl ReceiveRun {
    fn count(&mut self, outcome: Processed) {
        self.summary.envelopes += 1;
        self.summary.stored += usize::from(outcome.stored);
        self.used_pre_keys |= outcome.used_pre_key;
        if let Some((peer, id)) = outcome.receipt_to {
            self.receipts.entry(peer).or_default().push(id);
        }
    }
}

/// What one [`Client::receive`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiveSummary {
    /// Envelopes the relay delivered (and that were acked).
    pub envelopes: usize,
    /// New messages stored (redeliveries and undecryptable envelopes are not counted).
    pub stored: usize,
}

/// What processing one envelope did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Processed {
    /// A new message was added to the history (false for a redelivery).
    pub stored: bool,
    /// The envelope started a session and used prekeys.
    pub used_pre_key: bool,
    /// A contact's new chat message: `(username, message id)` to acknowledge with a delivery
    /// receipt.
    pub receipt_to: Option<(String, String)>,
    /// A member asked us, an admin, to remove it from a group: `(group id, account id)`.
    pub leave_request: Option<(String, String)>,
}

/// Closes the socket and waits (briefly) for the relay's close, so our acks reach it first.
async fn close(socket: &mut DeliverySocket) {
    if socket.close(None).await.is_err() {
        return;
    }
    let drain = async { while let Some(Ok(_)) = socket.next().await {} };
    let _ = tokio::time::timeout(CLOSE_WAIT, drain).await;
}

/// How long a closing receive waits for the relay to answer its close.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

async fn ack(socket: &mut DeliverySocket, id: i64) -> Result<(), ClientError> {
    let frame = serde_json::to_string(&ClientFrame::Ack { id })
        .map_err(|e| RelayError::Malformed(e.to_string()))?;
    socket
        .send(Message::Text(frame.into()))
        .await
        .map_err(|e| RelayError::Network(e.to_string()))?;
    Ok(())
}
