//! Sending a group message: our Sender Key to the member devices that lack it (pairwise), the
//! message encrypted once, saved with the stepped key in one transaction, then handed to
//! [`Client::deliver_group`].

use std::collections::BTreeMap;

use sotto_core::group::OwnSenderKey;
use sqlx::SqliteConnection;

use super::admin::{control, target_of};
use super::error::GroupError;
use super::fanout::{GroupDelivery, MemberTarget, Mismatch};
use super::{conversation_key, frame};
use crate::client::Client;
use crate::content::{Body, CONTENT_VERSION, Content, TextMessage};
use crate::error::{ClientError, StoreError};
use crate::events::{DeliveryState, Event};
use crate::messaging::OutgoingMessage;
use crate::send::new_message_id;
use crate::store::{Direction, MessageDetails, NewMessage, StoredAttachment, StoredGroup, now_ms};
use crate::{MAX_TEXT_BYTES, StoredMessage};

/// Rounds of "the relay knows devices we missed" before giving up.
const MAX_DEVICE_FIXES: usize = 3;

impl Client {
    /// Sends a chat message (text and files; no quote) to every member device of a group:
    /// encrypted once with our Sender Key. Returns its id once the relay stored it for every
    /// member that could be reached.
    ///
    /// # Errors
    /// [`ClientError::TextTooLong`], [`GroupError::Unknown`], [`GroupError::NotAMember`];
    /// relay or store failures (the message then stays "pending" in the history; it is not
    /// retried).
    pub async fn send_group_message(
        &self,
        group: &str,
        message: OutgoingMessage,
    ) -> Result<String, ClientError> {
        if message.text.len() > MAX_TEXT_BYTES {
            return Err(ClientError::TextTooLong(message.text.len()));
        }
        let stored = self.find_group(group).await?;
        let own = self.account.account_id.as_bytes();
        if stored.left || stored.state.state().member(own).is_none() {
            return Err(GroupError::NotAMember.into());
        }
        let content = Content {
            version: CONTENT_VERSION,
            id: new_message_id(),
            sent_at: now_ms(),
            body: Body::Text(TextMessage {
                text: message.text,
                quote: None,
                attachments: message.attachments,
                expire_timer: None,
            }),
            sender: self.account.username.clone(),
            sent_to: None,
            access_key: None,
        };
        let key = self.own_sender_key(&stored).await?;
        let recipients = self.share_sender_key(&stored, &key).await?;
        let ciphertext = self.encrypt_group(&stored, &key, &content).await?;
        let framed = frame(stored.state.state().group_id(), &ciphertext);
        self.fan_out(&stored, &key, &content.id, &framed, recipients)
            .await?;
        self.group_message_sent(&stored, &content.id).await?;
        Ok(content.id)
    }

    /// The history of a group, oldest first. A row's `details.author` names its author.
    ///
    /// # Errors
    /// [`GroupError::Unknown`]; a store failure.
    pub async fn group_history(&self, group: &str) -> Result<Vec<StoredMessage>, ClientError> {
        let stored = self.find_group(group).await?;
        let mut tx = self.store.begin().await?;
        Ok(self
            .store
            .history_of(&mut tx, &conversation_key(&stored.id))
            .await?)
    }

    /// Our Sender Key in the group: the stored one, or a new one (after a rotation).
    async fn own_sender_key(&self, group: &StoredGroup) -> Result<OwnSenderKey, ClientError> {
        let mut tx = self.store.begin().await?;
        if let Some(key) = self.store.own_sender_key(&mut tx, &group.id).await? {
            return Ok(key);
        }
        let group_id = *group.state.state().group_id();
        let key = OwnSenderKey::generate(group_id, self.address()?, &mut rand::rng());
        self.store
            .save_own_sender_key(&mut tx, &group.id, &key)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(key)
    }

    /// Sends our current Sender Key to every member account with a device that lacks it, and
    /// returns each member account with the devices to send the group message to. Only the
    /// verified state's members get it; a member that cannot be reached is skipped (logged,
    /// and reported if it has a ghost device).
    async fn share_sender_key(
        &self,
        group: &StoredGroup,
        key: &OwnSenderKey,
    ) -> Result<Vec<(String, Vec<u32>)>, ClientError> {
        let mut recipients = Vec::new();
        for member in group.state.state().members() {
            let target = target_of(&group.id, member);
            let mut known = self.member_devices(&target).await?;
            known.retain(|&d| !self.is_this_device(&target.account_id, d));
            if known.is_empty() {
                continue; // Our own account, with no other device.
            }
            let holders = {
                let mut tx = self.store.begin().await?;
                self.store
                    .sender_key_holders(&mut tx, &group.id, &target.account_id, key.chain_id())
                    .await?
            };
            if known.iter().all(|d| holders.contains(d)) {
                recipients.push((target.account_id, known));
                continue;
            }
            match self.give_sender_key(&target, key).await {
                Ok(devices) if !devices.is_empty() => {
                    recipients.push((target.account_id, devices));
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "a group member could not be reached"),
            }
        }
        Ok(recipients)
    }

    /// Sends our Sender Key (as it was before the message being sent) to every device of one
    /// member and notes which devices hold it.
    async fn give_sender_key(
        &self,
        target: &MemberTarget,
        key: &OwnSenderKey,
    ) -> Result<Vec<u32>, ClientError> {
        let distribution = key.distribution().to_bytes().to_vec();
        let body = control(key.group_id(), None, Some(distribution), false);
        let devices = self.send_control(target, body).await?;
        let mut tx = self.store.begin().await?;
        for &device in &devices {
            self.store
                .mark_sender_key_shared(
                    &mut tx,
                    &target.group_hex,
                    &target.account_id,
                    device,
                    key.chain_id(),
                )
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(devices)
    }

    /// Encrypts the content once and saves the stepped key with the history row, in one
    /// transaction, under the session lock (two sends never use one iteration).
    async fn encrypt_group(
        &self,
        group: &StoredGroup,
        shared: &OwnSenderKey,
        content: &Content,
    ) -> Result<Vec<u8>, ClientError> {
        let _guard = self.sessions.lock().await;
        let mut tx = self.store.begin().await?;
        let mut key = self
            .store
            .own_sender_key(&mut tx, &group.id)
            .await?
            .filter(|k| k.chain_id() == shared.chain_id())
            .ok_or(ClientError::Content(
                "the group's sender key was rotated during the send; send again",
            ))?;
        let plaintext = content.encode()?;
        let ciphertext = key.encrypt(&plaintext)?;
        self.store
            .save_own_sender_key(&mut tx, &group.id, &key)
            .await?;
        let own = self.account.account_id.clone();
        self.insert_group_row(&mut tx, group, content, &own, self.account.device_id)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(ciphertext)
    }

    /// Hands the message to the relay in one multi-recipient send. The relay stores it for
    /// everyone or for no one: when it corrects some accounts' device lists, those accounts
    /// get our key on their current devices and the whole send is retried (same message id).
    async fn fan_out(
        &self,
        group: &StoredGroup,
        key: &OwnSenderKey,
        message_id: &str,
        framed: &[u8],
        recipients: Vec<(String, Vec<u32>)>,
    ) -> Result<(), ClientError> {
        let mut recipients: BTreeMap<String, Vec<u32>> = recipients.into_iter().collect();
        for _ in 0..MAX_DEVICE_FIXES {
            if recipients.is_empty() {
                return Ok(()); // Nobody else to reach (a group of one device).
            }
            let listed: Vec<_> = recipients
                .iter()
                .map(|(a, d)| (a.clone(), d.clone()))
                .collect();
            match self.deliver_group(message_id, framed, &listed).await? {
                GroupDelivery::Stored { identified } => {
                    if let Some(reason) = identified {
                        self.emit(Event::SentIdentified {
                            peer: group.state.state().name().to_owned(),
                            message_id: message_id.to_owned(),
                            reason,
                        });
                    }
                    return Ok(());
                }
                GroupDelivery::UnknownAccounts(gone) => {
                    tracing::warn!(
                        count = gone.len(),
                        "group members without an account left out"
                    );
                    gone.iter()
                        .for_each(|account| drop(recipients.remove(account)));
                }
                GroupDelivery::Mismatched(mismatches) => {
                    for mismatch in mismatches {
                        let devices = self.correct_devices(group, key, &mismatch).await?;
                        match devices {
                            Some(devices) => recipients.insert(mismatch.account_id, devices),
                            None => recipients.remove(&mismatch.account_id),
                        };
                    }
                }
            }
        }
        Err(ClientError::DeviceListUnstable(group.id.clone()))
    }

    /// The devices to reach on an account whose list the relay corrected, once they hold our
    /// key; `None` leaves the account out of this message. Re-installed (stale) devices first
    /// have their sessions replaced, which also means they no longer count as key holders.
    async fn correct_devices(
        &self,
        group: &StoredGroup,
        key: &OwnSenderKey,
        mismatch: &Mismatch,
    ) -> Result<Option<Vec<u32>>, ClientError> {
        let Some(member) = group.state.state().member(mismatch.account_id.as_bytes()) else {
            return Ok(None);
        };
        tracing::debug!(
            missing = ?mismatch.missing,
            extra = ?mismatch.extra,
            stale = ?mismatch.stale,
            "device list corrected"
        );
        if !mismatch.stale.is_empty() {
            self.refresh_devices(&mismatch.account_id).await?;
        }
        // A member we cannot reach (a ghost device on its account, reported as an event) must
        // not keep the message from the others.
        match self
            .give_sender_key(&target_of(&group.id, member), key)
            .await
        {
            Ok(devices) if !devices.is_empty() => Ok(Some(devices)),
            Ok(_) => Ok(None),
            Err(error) => {
                tracing::warn!(%error, "a group member could not be reached");
                Ok(None)
            }
        }
    }

    async fn group_message_sent(
        &self,
        group: &StoredGroup,
        message_id: &str,
    ) -> Result<(), ClientError> {
        let mut tx = self.store.begin().await?;
        let changed = self
            .store
            .raise_state(
                &mut tx,
                &conversation_key(&group.id),
                Direction::Outgoing,
                &[message_id.to_owned()],
                DeliveryState::Sent,
            )
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        if !changed.is_empty() {
            self.emit(Event::Delivery {
                peer: group.state.state().name().to_owned(),
                message_id: message_id.to_owned(),
                state: DeliveryState::Sent,
            });
        }
        Ok(())
    }

    /// Adds a group chat message to the history (in the caller's transaction); `false` if it
    /// was already there.
    pub(crate) async fn insert_group_row(
        &self,
        tx: &mut SqliteConnection,
        group: &StoredGroup,
        content: &Content,
        author: &str,
        device_id: u32,
    ) -> Result<Option<NewMessage>, ClientError> {
        let Body::Text(text) = &content.body else {
            return Ok(None);
        };
        let direction = if author == self.account.account_id {
            Direction::Outgoing
        } else {
            Direction::Incoming
        };
        let this_device = direction == Direction::Outgoing && device_id == self.account.device_id;
        let row = NewMessage {
            peer_account: conversation_key(&group.id),
            direction,
            message_id: content.id.clone(),
            state: match (direction, this_device) {
                (Direction::Outgoing, true) => DeliveryState::Pending,
                (Direction::Outgoing, false) => DeliveryState::Sent,
                (Direction::Incoming, _) => DeliveryState::Delivered,
            },
            text: text.text.clone(),
            sent_at: content.sent_at,
            device_id,
            details: MessageDetails {
                attachments: text
                    .attachments
                    .iter()
                    .map(|pointer| StoredAttachment {
                        pointer: pointer.clone(),
                        saved_as: None,
                    })
                    .collect(),
                author: Some(author.to_owned()),
                ..MessageDetails::default()
            },
            expires_at: None,
        };
        let stored = self.store.insert_message(tx, &row).await?;
        Ok(stored.then_some(row))
    }
}
