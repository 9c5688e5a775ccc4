//! Devices: this account's own list and removal, and the device lists of the accounts we send
//! to, remembered so that a change is shown and a re-linked device gets a new session (Sesame).

use sotto_proto::api::{DeviceInfo, OwnDevice};

use crate::client::Client;
use crate::error::{ClientError, StoreError};
use crate::events::Event;
use crate::store::device_lists::DeviceList;

/// How a device list differs from the one seen before.
#[derive(Debug, Default, PartialEq, Eq)]
struct DeviceChange {
    added: Vec<u32>,
    removed: Vec<u32>,
    /// Same device id, another registration id: removed and re-linked.
    replaced: Vec<u32>,
}

impl DeviceChange {
    fn between(before: &DeviceList, now: &DeviceList) -> Self {
        Self {
            added: now
                .keys()
                .filter(|d| !before.contains_key(d))
                .copied()
                .collect(),
            removed: before
                .keys()
                .filter(|d| !now.contains_key(d))
                .copied()
                .collect(),
            replaced: now
                .iter()
                .filter(|(d, r)| before.get(d).is_some_and(|b| b != *r))
                .map(|(d, _)| *d)
                .collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.replaced.is_empty()
    }
}

impl Client {
    /// This account's devices as the relay lists them (id, created and last-seen day).
    ///
    /// # Errors
    /// A relay failure.
    pub async fn devices(&self) -> Result<Vec<OwnDevice>, ClientError> {
        Ok(self.relay.own_devices().await?.devices)
    }

    /// Removes another device of this account: it can no longer authenticate and its queue is
    /// dropped; senders learn of it at their next send (409) and stop encrypting to it.
    ///
    /// # Errors
    /// [`ClientError::CannotRemoveSelf`] for this device; a relay failure (404 for no such
    /// device).
    pub async fn remove_device(&self, device_id: u32) -> Result<(), ClientError> {
        if device_id == self.account.device_id {
            return Err(ClientError::CannotRemoveSelf);
        }
        self.relay.remove_device(device_id).await?;
        Ok(())
    }

    /// Records the device list the relay just showed for an account. When it differs from the
    /// one seen before, emits [`Event::DevicesChanged`] and archives the sessions with
    /// re-linked devices, so the next message starts a new session with each.
    pub(crate) async fn note_devices(
        &self,
        username: &str,
        account_id: &str,
        devices: &[DeviceInfo],
    ) -> Result<(), ClientError> {
        let now: DeviceList = devices
            .iter()
            .map(|d| (d.device_id, d.registration_id))
            .collect();
        let mut tx = self.store.begin().await?;
        let before = self.store.device_list(&mut tx, account_id).await?;
        if before.as_ref() == Some(&now) {
            return Ok(());
        }
        self.store
            .save_device_list(&mut tx, account_id, &now)
            .await?;
        let change = before.map(|b| DeviceChange::between(&b, &now));
        if let Some(change) = &change {
            for (device, mut record) in self.store.sessions_of(&mut tx, account_id).await? {
                if change.replaced.contains(&device) && record.has_current_session() {
                    record.archive_current_session();
                    self.store
                        .save_session(&mut tx, account_id, device, &record)
                        .await?;
                }
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        if let Some(change) = change.filter(|c| !c.is_empty()) {
            self.emit(Event::DevicesChanged {
                username: username.to_owned(),
                added: change.added,
                removed: change.removed,
                replaced: change.replaced,
            });
        }
        Ok(())
    }

    /// The registration id last seen for a device, to quote in a send.
    pub(crate) async fn known_registration_ids(
        &self,
        account_id: &str,
    ) -> Result<DeviceList, ClientError> {
        let mut tx = self.store.begin().await?;
        Ok(self
            .store
            .device_list(&mut tx, account_id)
            .await?
            .unwrap_or_default())
    }

    /// Looks an account's devices up again after the relay said our list was stale.
    pub(crate) async fn refresh_devices(&self, account_id: &str) -> Result<(), ClientError> {
        let username = if account_id == self.account.account_id {
            self.account.username.clone()
        } else {
            let mut tx = self.store.begin().await?;
            match self.store.contact(&mut tx, account_id).await? {
                Some(contact) => contact.username,
                None => return Ok(()),
            }
        };
        if let Some(info) = self.relay.account(&username).await?
            && info.account_id == account_id
        {
            let _guard = self.sessions.lock().await;
            self.note_devices(&username, account_id, &info.devices)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_added_removed_and_relinked_devices() {
        let before: DeviceList = [(1, 10), (2, 20), (3, 30)].into();
        let now: DeviceList = [(1, 10), (3, 31), (4, 40)].into();
        let change = DeviceChange::between(&before, &now);
        assert_eq!(change.added, [4]);
        assert_eq!(change.removed, [2]);
        assert_eq!(change.replaced, [3]);
        assert!(DeviceChange::between(&now, &now).is_empty());
    }
}
