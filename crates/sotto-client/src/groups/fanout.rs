//! Reaching member devices: the pairwise control messages (state, Sender Key) and the one
//! function that hands a group message to the relay, [`Client::deliver_group`] (one
//! multi-recipient send, stored once).
//!
//! Devices come from the relay, identities from the verified state: a device whose bundle is
//! not signed by the identity the state lists for its account is a ghost. It gets nothing, and
//! [`Event::GroupRejected`] reports it.

use std::collections::{HashMap, HashSet};

use sotto_core::IdentityKey;
use sotto_core::bundle::VerifiedPreKeyBundle;
use sotto_core::sealed::{SenderCertificate, seal_for_many};
use sotto_proto::api::{
    Base64Bytes, MultiRecipient, MultiSendRequest, OutgoingEnvelope, RecipientDevice,
    SealedMultiRecipient, SealedMultiSendRequest, SendRequest,
};

use crate::bundles::verify_device_bundle;
use crate::client::Client;
use crate::content::{Body, CONTENT_VERSION, Content, GroupControl};
use crate::error::{ClientError, StoreError};
use crate::events::Event;
use crate::relay::{MultiSendOutcome, SendOutcome};
use crate::relay_sealed::SealedOutcome;
use crate::sealed::{Access, Unsealable};
use crate::send::{Recipient, new_message_id};
use crate::store::now_ms;

/// Attempts at one PUT before the device list is declared unstable.
const MAX_DEVICE_FIXES: usize = 3;

/// Stands for "every device the relay lists" in a device list.
const EVERY_DEVICE: u32 = u32::MAX;

/// A member account to reach, with the identity the verified state lists for it.
#[derive(Clone)]
pub(crate) struct MemberTarget {
    pub(crate) account_id: String,
    pub(crate) identity: IdentityKey,
    /// The group, for events about ghosts.
    pub(crate) group_hex: String,
}

/// Devices the relay says we got wrong for one account.
#[derive(Debug)]
pub(crate) struct Mismatch {
    pub(crate) account_id: String,
    pub(crate) missing: Vec<u32>,
    pub(crate) extra: Vec<u32>,
    /// Devices re-installed since we last saw them (another registration id).
    pub(crate) stale: Vec<u32>,
}

/// What the relay did with a group message: all or nothing.
#[derive(Debug)]
pub(crate) enum GroupDelivery {
    /// Stored once for every listed device; `identified` says why it was not sealed.
    Stored { identified: Option<Unsealable> },
    /// Some accounts' device lists were wrong; nothing was stored.
    Mismatched(Vec<Mismatch>),
    /// Some accounts no longer exist (deleted or disabled); nothing was stored.
    UnknownAccounts(Vec<String>),
}

impl Client {
    /// THE group fan-out: hands the same group ciphertext to every listed device of every
    /// listed account in one multi-recipient send, which the relay stores once. Quotes the
    /// registration id we know for each device, so a re-installed one (which lacks our Sender
    /// Key) comes back as stale. Returns the accounts whose device list the relay corrected
    /// (nothing was stored then), for the caller to share its Sender Key and retry.
    ///
    /// # Errors
    /// A relay failure.
    pub(crate) async fn deliver_group(
        &self,
        message_id: &str,
        ciphertext: &[u8],
        recipients: &[(String, Vec<u32>)],
    ) -> Result<GroupDelivery, ClientError> {
        let mut routing = Vec::with_capacity(recipients.len());
        for (account_id, devices) in recipients {
            let known = self.known_registration_ids(account_id).await?;
            routing.push(MultiRecipient {
                account_id: account_id.clone(),
                devices: devices
                    .iter()
                    .map(|&device_id| RecipientDevice {
                        device_id,
                        registration_id: known.get(&device_id).copied(),
                    })
                    .collect(),
            });
        }
        let (outcome, identified) = match self.group_sealing(recipients).await? {
            Ok(sealing) => match self
                .send_group_sealed(message_id, ciphertext, &routing, &sealing)
                .await?
            {
                Some(outcome) => (outcome, None),
                None => {
                    let outcome = self.send_group_identified(message_id, ciphertext, routing);
                    (outcome.await?, Some(Unsealable::AccessKeyRefused))
                }
            },
            Err(reason) => {
                let outcome = self.send_group_identified(message_id, ciphertext, routing);
                (outcome.await?, Some(reason))
            }
        };
        Ok(match outcome {
            MultiSendOutcome::Stored { .. } => GroupDelivery::Stored { identified },
            MultiSendOutcome::DeviceMismatch(accounts) => GroupDelivery::Mismatched(
                accounts
                    .into_iter()
                    .map(|m| Mismatch {
                        account_id: m.account_id,
                        missing: m.missing_devices,
                        extra: m.extra_devices,
                        stale: m.stale_devices,
                    })
                    .collect(),
            ),
            MultiSendOutcome::UnknownAccounts(accounts) => GroupDelivery::UnknownAccounts(accounts),
        })
    }

    async fn send_group_identified(
        &self,
        message_id: &str,
        ciphertext: &[u8],
        recipients: Vec<MultiRecipient>,
    ) -> Result<MultiSendOutcome, ClientError> {
        let request = MultiSendRequest {
            content: Base64Bytes(ciphertext.to_vec()),
            recipients,
        };
        Ok(self.relay.send_multi(message_id, &request).await?)
    }

    /// How to seal to every recipient account, or why at least one cannot be sealed to (then
    /// the whole message goes identified: one send, stored once).
    async fn group_sealing(
        &self,
        recipients: &[(String, Vec<u32>)],
    ) -> Result<Result<(SenderCertificate, Vec<Access>), Unsealable>, ClientError> {
        let mut accesses = Vec::with_capacity(recipients.len());
        for (account_id, _) in recipients {
            match self.access_to(account_id).await? {
                Some(access) => accesses.push(access),
                None => return Ok(Err(Unsealable::NoAccessKey)),
            }
        }
        Ok(match self.certificate().await? {
            Some(certificate) => Ok((certificate, accesses)),
            None => Err(Unsealable::RelayOffersNone),
        })
    }

    /// Seals the group message once for all accounts (one header each) and sends it without
    /// credentials; `None` when the relay refused an access key (nothing was stored).
    async fn send_group_sealed(
        &self,
        message_id: &str,
        ciphertext: &[u8],
        routing: &[MultiRecipient],
        (certificate, accesses): &(SenderCertificate, Vec<Access>),
    ) -> Result<Option<MultiSendOutcome>, ClientError> {
        let identities: Vec<IdentityKey> = accesses.iter().map(|a| a.recipient.clone()).collect();
        let sealed = seal_for_many(
            &mut rand::rng(),
            &self.account.identity,
            certificate,
            &identities,
            ciphertext,
            None,
        )?;
        let recipients = routing
            .iter()
            .zip(accesses)
            .zip(sealed.headers())
            .map(|((route, access), header)| SealedMultiRecipient {
                account_id: route.account_id.clone(),
                access_key: Some(Base64Bytes(access.access_key.as_bytes().to_vec())),
                header: Base64Bytes(header.to_vec()),
                devices: route.devices.clone(),
            })
            .collect();
        let request = SealedMultiSendRequest {
            shared: Base64Bytes(sealed.shared().to_vec()),
            recipients,
        };
        Ok(
            match self.relay.send_sealed_multi(message_id, &request).await? {
                SealedOutcome::Answered(outcome) => Some(outcome),
                SealedOutcome::AccessDenied => None,
            },
        )
    }

    /// Sends a group control body to every device of `member` over the pairwise sessions
    /// (starting sessions where needed) and returns the devices it reached. Not kept in the
    /// outbox: a lost control message is sent again before the next group message.
    ///
    /// # Errors
    /// Relay or store failures, [`ClientError::DeviceListUnstable`].
    pub(crate) async fn send_control(
        &self,
        member: &MemberTarget,
        control: GroupControl,
    ) -> Result<Vec<u32>, ClientError> {
        let content = Content {
            version: CONTENT_VERSION,
            id: new_message_id(),
            sent_at: now_ms(),
            body: Body::Group(control),
            sender: self.account.username.clone(),
            sent_to: None,
            access_key: Some(self.shared_access_key()),
        };
        let plaintext = content.encode()?;
        let (mut devices, mut bundles) = self.resolve_devices(member).await?;
        for _ in 0..MAX_DEVICE_FIXES {
            if devices.is_empty() {
                return Ok(devices);
            }
            let envelopes = self
                .encrypt_control(member, &devices, &bundles, &plaintext)
                .await?;
            let request = SendRequest {
                ephemeral: false,
                envelopes: envelopes
                    .into_iter()
                    .map(|(device_id, content)| OutgoingEnvelope {
                        device_id,
                        content: Base64Bytes(content),
                        registration_id: None,
                    })
                    .collect(),
            };
            match self
                .relay
                .send(&member.account_id, &content.id, &request)
                .await?
            {
                SendOutcome::Stored => return Ok(devices),
                SendOutcome::DeviceMismatch { missing, extra } => {
                    devices.retain(|d| !extra.contains(d));
                    bundles = self.member_bundles(member, &missing).await?;
                    devices.extend(bundles.keys().copied());
                    devices.sort_unstable();
                    devices.dedup();
                }
                SendOutcome::StaleDevices(_) => break,
            }
        }
        Err(ClientError::DeviceListUnstable(member.account_id.clone()))
    }

    /// Whether `(account, device)` is this very device.
    pub(crate) fn is_this_device(&self, account_id: &str, device: u32) -> bool {
        account_id == self.account.account_id && device == self.account.device_id
    }

    /// The devices of a member to send to, with the bundles of those we have no session with.
    pub(crate) async fn resolve_devices(
        &self,
        member: &MemberTarget,
    ) -> Result<(Vec<u32>, HashMap<u32, VerifiedPreKeyBundle>), ClientError> {
        let mut devices = self.member_devices(member).await?;
        let bundles = self.member_bundles(member, &devices).await?;
        if devices == [EVERY_DEVICE] {
            devices = bundles.keys().copied().collect();
            devices.sort_unstable();
        }
        devices.retain(|&d| !self.is_this_device(&member.account_id, d));
        Ok((devices, bundles))
    }

    /// The devices of a member we have a session with under the state's identity; if none,
    /// every device the relay lists (our own account: all but this device).
    pub(crate) async fn member_devices(
        &self,
        member: &MemberTarget,
    ) -> Result<Vec<u32>, ClientError> {
        let known: Vec<u32> = {
            let mut tx = self.store.begin().await?;
            let sessions = self.store.sessions_of(&mut tx, &member.account_id).await?;
            sessions
                .into_iter()
                .filter(|(_, r)| r.remote_identity() == Some(&member.identity))
                .map(|(d, _)| d)
                .collect()
        };
        if !known.is_empty() {
            return Ok(known);
        }
        if member.account_id == self.account.account_id {
            let info = self.relay.account(&self.account.username).await?;
            return Ok(info
                .map(|i| i.devices.iter().map(|d| d.device_id).collect())
                .unwrap_or_default());
        }
        Ok(vec![EVERY_DEVICE])
    }

    /// Fetches and verifies the bundles of `devices` we have no session with ([`EVERY_DEVICE`]:
    /// every device). A bundle not signed by the member's identity in the state is a ghost:
    /// left out and reported.
    async fn member_bundles(
        &self,
        member: &MemberTarget,
        devices: &[u32],
    ) -> Result<HashMap<u32, VerifiedPreKeyBundle>, ClientError> {
        let with_session: HashSet<u32> = {
            let mut tx = self.store.begin().await?;
            let sessions = self.store.sessions_of(&mut tx, &member.account_id).await?;
            sessions
                .into_iter()
                .filter(|(_, r)| r.remote_identity() == Some(&member.identity))
                .map(|(d, _)| d)
                .collect()
        };
        let mut bundles = HashMap::new();
        for &device in devices {
            if with_session.contains(&device) || self.is_this_device(&member.account_id, device) {
                continue;
            }
            let which = (device != EVERY_DEVICE).then_some(device);
            let answer = self.relay.bundles(&member.account_id, which).await?;
            for bundle in &answer.devices {
                if self.is_this_device(&member.account_id, bundle.device_id) {
                    continue;
                }
                let verified =
                    verify_device_bundle(&member.account_id, &answer.identity_key.0, bundle);
                match verified {
                    Ok(v) if v.identity == member.identity => {
                        bundles.insert(bundle.device_id, v);
                    }
                    _ => self.emit(Event::GroupRejected {
                        group_id: Some(member.group_hex.clone()),
                        sender_account: Some(member.account_id.clone()),
                        reason: format!(
                            "ghost device {}: its keys are not signed by the identity the \
                             group state lists",
                            bundle.device_id
                        ),
                    }),
                }
            }
        }
        Ok(bundles)
    }

    /// Encrypts a control message for `devices` (starting sessions from `bundles`) and saves
    /// the sessions in one transaction.
    async fn encrypt_control(
        &self,
        member: &MemberTarget,
        devices: &[u32],
        bundles: &HashMap<u32, VerifiedPreKeyBundle>,
        plaintext: &[u8],
    ) -> Result<Vec<(u32, Vec<u8>)>, ClientError> {
        let _guard = self.sessions.lock().await;
        let mut records: HashMap<_, _> = {
            let mut tx = self.store.begin().await?;
            let all = self.store.sessions_of(&mut tx, &member.account_id).await?;
            all.into_iter().collect()
        };
        let to = Recipient {
            username: &member.account_id,
            account_id: &member.account_id,
            identity: &member.identity,
        };
        let envelopes = self.encrypt_for(&to, devices, &mut records, bundles, plaintext)?;
        let mut tx = self.store.begin().await?;
        for device in devices {
            if let Some(record) = records.get(device) {
                self.store
                    .save_session(&mut tx, &member.account_id, *device, record)
                    .await?;
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(envelopes)
    }
}
