//! Sealed sender on the client (`docs/client.md`, "Sealed sender"): the relay's trust root
//! pinned once, our access key handed to the relay once, sender certificates cached until
//! shortly before they expire, and the question every send asks — can this go sealed?
//!
//! ```text
//! send:    access key of the recipient known? certificate? ─yes─► seal each ciphertext,
//!          PUT without credentials │ no ─► identified send, and Event::SentIdentified says why
//! receive: envelope without a sender ─► unseal (certificate checked against the pinned root)
//!          ─► the certified sender's session, whose identity must be the certificate's
//! ```

use sotto_core::sealed::{AccessKey, CertificateValidator, SenderCertificate, TrustRoot};
use sotto_core::{IdentityKey, sealed};
use sotto_proto::api::{Base64Bytes, DeliveredEnvelope};

use crate::client::Client;
use crate::error::{ClientError, StoreError};
use crate::store::now_ms;
use crate::store::sealed_sender::SealedSenderState;

/// A certificate is renewed when it has less than this left (ms).
const CERTIFICATE_MARGIN_MS: u64 = 3600 * 1000;

/// Why a message goes out identified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsealable {
    /// The recipient has not shared its access key with us yet (it will with its first
    /// message to us).
    NoAccessKey,
    /// The relay refused the access key we had; it is forgotten until the recipient shares
    /// its current one.
    AccessKeyRefused,
    /// The relay issues no sender certificates (or none we can check against its pinned root).
    RelayOffersNone,
}

impl Unsealable {
    /// A stable name for `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoAccessKey => "no_access_key",
            Self::AccessKeyRefused => "access_key_refused",
            Self::RelayOffersNone => "relay_offers_none",
        }
    }
}

/// What the relay and the sealing need to reach one account sealed.
pub(crate) struct Access {
    /// The account's access key, for the relay.
    pub(crate) access_key: AccessKey,
    /// The account's identity, which the envelope is sealed to.
    pub(crate) recipient: IdentityKey,
}

/// What sealing for one account needs.
pub(crate) struct Sealing {
    pub(crate) certificate: SenderCertificate,
    pub(crate) access: Access,
}

impl Client {
    /// Our account's access key (the same on every device of the account).
    pub(crate) fn own_access_key(&self) -> AccessKey {
        AccessKey::derive(&self.account.identity)
    }

    /// Our access key as carried in content, for the recipient to seal to us.
    pub(crate) fn shared_access_key(&self) -> sotto_proto::api::Base64Bytes {
        sotto_proto::api::Base64Bytes(self.own_access_key().as_bytes().to_vec())
    }

    /// Pins the relay's trust root and hands it our access key, right after registration or
    /// linking. A failure only postpones this to the first sealed send or receive.
    pub(crate) async fn pin_sealed_sender(&self) {
        if let Err(error) = self.sealed_state().await {
            tracing::warn!(%error, "sealed sender is not set up yet");
        }
    }

    /// The sealed sender state: pins the relay's trust root on first use and hands our access
    /// key to the relay once. `None` when the relay offers no sealed sender.
    ///
    /// # Errors
    /// Store or relay failures.
    pub(crate) async fn sealed_state(&self) -> Result<Option<SealedSenderState>, ClientError> {
        let stored = {
            let mut tx = self.store.begin().await?;
            self.store.sealed_sender(&mut tx).await?
        };
        let (mut state, mut changed) = match stored {
            Some(state) => (state, false),
            None => {
                let Some(answer) = self.relay.trust_root().await? else {
                    return Ok(None);
                };
                let root = TrustRoot::from_bytes(&answer.trust_root.0)?;
                let pinned = SealedSenderState {
                    trust_root: root.to_bytes(),
                    revoked: answer.revoked_key_ids,
                    ..SealedSenderState::default()
                };
                (pinned, true)
            }
        };
        if !state.settings_uploaded {
            self.relay
                .set_sealed_sender(&self.own_access_key(), false)
                .await?;
            state.settings_uploaded = true;
            changed = true;
        }
        if changed {
            self.save_sealed_state(&state).await?;
        }
        Ok(Some(state))
    }

    async fn save_sealed_state(&self, state: &SealedSenderState) -> Result<(), ClientError> {
        let mut tx = self.store.begin().await?;
        self.store.save_sealed_sender(&mut tx, state).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Refreshes the revoked server key ids from the relay. A relay that now shows another
    /// trust root is not believed: the pinned one stays, and certificates from the new one
    /// are refused.
    pub(crate) async fn refresh_revoked_keys(&self) -> Result<(), ClientError> {
        let Some(mut state) = self.sealed_state().await? else {
            return Ok(());
        };
        let Some(answer) = self.relay.trust_root().await? else {
            return Ok(());
        };
        if answer.trust_root.0 != state.trust_root {
            tracing::warn!("the relay shows another sealed-sender trust root than the pinned one");
            return Ok(());
        }
        if answer.revoked_key_ids != state.revoked {
            state.revoked = answer.revoked_key_ids;
            self.save_sealed_state(&state).await?;
        }
        Ok(())
    }

    /// What incoming certificates are checked with; `None` before a trust root is pinned.
    pub(crate) async fn certificate_validator(
        &self,
    ) -> Result<Option<CertificateValidator>, ClientError> {
        let state = {
            let mut tx = self.store.begin().await?;
            self.store.sealed_sender(&mut tx).await?
        };
        state.map(|s| validator(&s)).transpose()
    }

    /// A sender certificate for this device valid for at least another hour, from the cache
    /// or the relay, and checked against the pinned root. `None` if the relay issues none.
    pub(crate) async fn certificate(&self) -> Result<Option<SenderCertificate>, ClientError> {
        let Some(mut state) = self.sealed_state().await? else {
            return Ok(None);
        };
        let fresh_until = unix_ms() + CERTIFICATE_MARGIN_MS;
        if let Some((bytes, expires)) = &state.certificate
            && *expires > fresh_until
            && let Ok(certificate) = SenderCertificate::from_wire(bytes)
        {
            return Ok(Some(certificate));
        }
        let Some(answer) = self.relay.sender_certificate().await? else {
            return Ok(None);
        };
        let Ok(certificate) = SenderCertificate::from_wire(&answer.certificate.0) else {
            tracing::warn!("the relay issued a sender certificate that does not parse");
            return Ok(None);
        };
        let ours = certificate.sender() == &self.address()?
            && certificate.identity() == self.account.identity.public();
        if !ours || validator(&state)?.validate(&certificate).is_err() {
            tracing::warn!("the relay issued a sender certificate that does not check out");
            return Ok(None);
        }
        state.certificate = Some((answer.certificate.0, certificate.expires_ms()));
        self.save_sealed_state(&state).await?;
        Ok(Some(certificate))
    }

    /// How to seal a message for `account_id`, or why it cannot be.
    pub(crate) async fn sealing_for(
        &self,
        account_id: &str,
    ) -> Result<Result<Sealing, Unsealable>, ClientError> {
        let Some(access) = self.access_to(account_id).await? else {
            return Ok(Err(Unsealable::NoAccessKey));
        };
        let Some(certificate) = self.certificate().await? else {
            return Ok(Err(Unsealable::RelayOffersNone));
        };
        Ok(Ok(Sealing {
            certificate,
            access,
        }))
    }

    /// The access key and identity of `account_id`, if it shared its key with us (our own
    /// account's we always have).
    pub(crate) async fn access_to(&self, account_id: &str) -> Result<Option<Access>, ClientError> {
        if account_id == self.account.account_id {
            return Ok(Some(Access {
                access_key: self.own_access_key(),
                recipient: self.account.identity.public().clone(),
            }));
        }
        let mut tx = self.store.begin().await?;
        let key = self.store.access_key(&mut tx, account_id).await?;
        let contact = self.store.contact(&mut tx, account_id).await?;
        // The identity the contact holds now: the sealed layer is for whoever has the
        // account's current key (what is inside was encrypted when the message was written).
        Ok(key.zip(contact).map(|(access_key, contact)| Access {
            access_key,
            recipient: contact.identity,
        }))
    }

    /// Forgets an access key the relay refused.
    pub(crate) async fn forget_access_key(&self, account_id: &str) -> Result<(), ClientError> {
        let mut tx = self.store.begin().await?;
        self.store.forget_access_key(&mut tx, account_id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Seals one ciphertext for one device of the sealing's account.
    pub(crate) fn seal(&self, sealing: &Sealing, message: &[u8]) -> Result<Vec<u8>, ClientError> {
        Ok(sealed::seal(
            &mut rand::rng(),
            &self.account.identity,
            &sealing.certificate,
            &sealing.access.recipient,
            message,
            None,
        )?)
    }
}

fn validator(state: &SealedSenderState) -> Result<CertificateValidator, ClientError> {
    let root = TrustRoot::from_bytes(&state.trust_root)?;
    Ok(CertificateValidator::new(root, unix_ms()).with_revoked(state.revoked.iter().copied()))
}

fn unix_ms() -> u64 {
    u64::try_from(now_ms()).unwrap_or_default()
}

/// A delivered envelope after sealed sender.
pub(crate) enum Opened {
    /// Not sealed: the relay named the sender (or nobody, and it is dropped later).
    Plain,
    /// Sealed and opened: the envelope as if the certified sender had sent it identified, and
    /// the identity its certificate names (the session's must be the same).
    Sealed(Box<DeliveredEnvelope>, Box<IdentityKey>),
    /// Sealed, and refused: why (nothing changes; the envelope is dropped).
    Refused(String),
}

impl Client {
    /// Opens a sealed envelope (one without a sender whose first byte says it is sealed).
    pub(crate) async fn open_sealed(
        &self,
        envelope: &DeliveredEnvelope,
    ) -> Result<Opened, ClientError> {
        if envelope.sender_account.is_some() {
            return Ok(Opened::Plain);
        }
        let bytes = &envelope.content.0;
        let single = sotto_core::message::version_byte(sealed::SEALED_MESSAGE_TYPE);
        let multi = sotto_core::message::version_byte(sealed::SEALED_MULTI_MESSAGE_TYPE);
        let first = bytes.first().copied();
        if first != Some(single) && first != Some(multi) {
            return Ok(Opened::Plain);
        }
        let Some(validator) = self.certificate_validator().await? else {
            return Ok(Opened::Refused(
                "a sealed envelope, but no sealed-sender trust root is pinned".to_owned(),
            ));
        };
        let us = self.address()?;
        let opened = if first == Some(single) {
            sealed::unseal(&self.account.identity, &us, &validator, bytes)
        } else {
            sealed::unseal_multi(&self.account.identity, &us, &validator, bytes)
        };
        let unsealed = match opened {
            Ok(unsealed) => unsealed,
            Err(error) => return Ok(Opened::Refused(format!("sealed envelope: {error}"))),
        };
        let sender = unsealed.certificate.sender();
        let Ok(account) = String::from_utf8(sender.account().to_vec()) else {
            return Ok(Opened::Refused(
                "sealed envelope: sender account".to_owned(),
            ));
        };
        let opened = DeliveredEnvelope {
            sender_account: Some(account),
            sender_device: Some(sender.device()),
            content: Base64Bytes(unsealed.message),
            ..envelope.clone()
        };
        Ok(Opened::Sealed(
            Box::new(opened),
            Box::new(unsealed.certificate.identity().clone()),
        ))
    }

    /// Remembers the access key a contact's content carried (in the receive's transaction).
    pub(crate) async fn note_access_key(
        &self,
        conn: &mut sqlx::SqliteConnection,
        account_id: &str,
        carried: Option<&Base64Bytes>,
    ) -> Result<(), ClientError> {
        if account_id == self.account.account_id {
            return Ok(());
        }
        if let Some(key) = carried.and_then(|k| AccessKey::from_bytes(&k.0).ok()) {
            self.store.save_access_key(conn, account_id, &key).await?;
        }
        Ok(())
    }

    /// For a sealed group message: the certified identity must be the one we know for the
    /// sender's account, if we know one.
    pub(crate) async fn sealed_identity_known(
        &self,
        account_id: &str,
        identity: &IdentityKey,
    ) -> Result<bool, ClientError> {
        if account_id == self.account.account_id {
            return Ok(identity == self.account.identity.public());
        }
        let mut tx = self.store.begin().await?;
        let contact = self.store.contact(&mut tx, account_id).await?;
        Ok(contact.is_none_or(|c| c.identity == *identity))
    }
}
