//! Receiving a group message: the state in force decides whether the sending device may speak
//! (§15.6), its Sender Key record decrypts and verifies, and one transaction stores the stepped
//! record with the history row. Anything refused is reported as [`Event::GroupRejected`] and
//! changes nothing.

use sotto_core::IdentityKey;
use sotto_proto::api::DeliveredEnvelope;

use super::{conversation_key, hex_id, unframe};
use crate::client::{Client, address};
use crate::content::Content;
use crate::error::{ClientError, StoreError};
use crate::events::Event;
use crate::receive::{Processed, Sender};
use crate::store::{Direction, StoredGroup, now_ms};
use crate::trust::observe;

impl Client {
    /// Processes one group envelope (the caller holds the session lock).
    pub(crate) async fn process_group_envelope(
        &self,
        envelope: &DeliveredEnvelope,
        sender: &Sender,
    ) -> Result<Processed, ClientError> {
        let Some((group_id, message)) = unframe(&envelope.content.0) else {
            return Ok(Processed::default());
        };
        let hex = hex_id(&group_id);
        let reject = |reason: String| {
            self.emit(Event::GroupRejected {
                group_id: Some(hex.clone()),
                sender_account: Some(sender.account_id.clone()),
                reason,
            });
            Ok(Processed::default())
        };
        let mut tx = self.store.begin().await?;
        let Some(group) = self.store.group(&mut tx, &hex).await? else {
            return reject("a message for a group we do not know".to_owned());
        };
        let direction = if sender.account_id == self.account.account_id {
            Direction::Outgoing
        } else {
            Direction::Incoming
        };
        let conversation = conversation_key(&hex);
        if self
            .store
            .has_message(&mut tx, &conversation, direction, &envelope.message_id)
            .await?
            || self
                .store
                .was_processed(&mut tx, &sender.account_id, &envelope.message_id)
                .await?
        {
            return Ok(Processed::default()); // A redelivery.
        }
        let identity = self.session_identity(&mut tx, sender).await?;
        let from = address(&sender.account_id, sender.device_id)?;
        if let Err(error) = identity
            .as_ref()
            .ok_or(sotto_core::group::MembershipError::NotAMember)
            .and_then(|identity| group.state.admit(&from, identity))
        {
            return reject(format!("sender refused by the group state: {error}"));
        }
        let Some(mut record) = self
            .store
            .sender_key_record(&mut tx, &hex, &sender.account_id, sender.device_id)
            .await?
        else {
            return reject("no sender key from this device".to_owned());
        };
        drop(tx);
        let plaintext = match record.decrypt(message) {
            Ok(plaintext) => plaintext,
            Err(error) => return reject(format!("group message refused: {error}")),
        };
        if group.left {
            return reject("a message for a group we left".to_owned());
        }
        let Ok(mut content) = Content::decode(&plaintext) else {
            return reject("unreadable group message content".to_owned());
        };
        content.id.clone_from(&envelope.message_id);
        let Some(username) = self.verified_username(sender, &content).await? else {
            return reject("the sender's username does not match its account".to_owned());
        };
        let readable = GroupReadable {
            group: &group,
            sender,
            username: &username,
            identity: identity.as_ref(),
            content: &content,
        };
        self.store_group_message(&readable, &record).await
    }

    /// The identity of our pairwise session with the sending device (ours for our own devices).
    async fn session_identity(
        &self,
        tx: &mut sqlx::SqliteConnection,
        sender: &Sender,
    ) -> Result<Option<IdentityKey>, ClientError> {
        if sender.account_id == self.account.account_id {
            return Ok(Some(self.account.identity.public().clone()));
        }
        let record = self
            .store
            .session(tx, &sender.account_id, sender.device_id)
            .await?;
        Ok(record.and_then(|r| r.remote_identity().cloned()))
    }

    /// The one transaction of a group receive, then the events.
    async fn store_group_message(
        &self,
        readable: &GroupReadable<'_>,
        record: &sotto_core::group::SenderKeyRecord,
    ) -> Result<Processed, ClientError> {
        let GroupReadable {
            group,
            sender,
            username,
            identity,
            content,
        } = *readable;
        let mut events = Vec::new();
        let mut tx = self.store.begin().await?;
        self.store
            .save_sender_key_record(
                &mut tx,
                &group.id,
                &sender.account_id,
                sender.device_id,
                record,
            )
            .await?;
        if sender.account_id != self.account.account_id
            && let Some(identity) = identity
        {
            let seen =
                observe(&self.store, &mut tx, username, &sender.account_id, identity).await?;
            if seen.changed {
                events.push(Event::IdentityChanged {
                    username: username.to_owned(),
                    was_verified: seen.was_verified,
                });
            }
        }
        let row = self
            .insert_group_row(
                &mut tx,
                group,
                content,
                &sender.account_id,
                sender.device_id,
            )
            .await?;
        if row.is_none() {
            self.store
                .mark_processed(&mut tx, &sender.account_id, &content.id, now_ms())
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        let stored = row.is_some();
        if let Some(row) = row {
            events.push(Event::GroupMessage {
                group_id: group.id.clone(),
                group: group.state.state().name().to_owned(),
                author: username.to_owned(),
                direction: row.direction,
                device_id: row.device_id,
                message_id: row.message_id,
                text: row.text,
                sent_at: row.sent_at,
                details: Box::new(row.details),
            });
        }
        events.into_iter().for_each(|e| self.emit(e));
        Ok(Processed {
            stored,
            ..Processed::default()
        })
    }
}

/// A decrypted group message and where it came from.
#[derive(Clone, Copy)]
struct GroupReadable<'a> {
    group: &'a StoredGroup,
    sender: &'a Sender,
    username: &'a str,
    identity: Option<&'a IdentityKey>,
    content: &'a Content,
}
