//! A session record: every session with one remote device, the current one first.
//!
//! Following Sesame, a record holds one current session and up to [`MAX_ARCHIVED_SESSIONS`]
//! archived ones. Decryption tries the current session, then the archived ones; a session that
//! decrypts becomes current. A prekey message that names an existing session (by base key) is
//! decrypted on it; otherwise it starts a new current session. Every method that can fail
//! leaves the record exactly as it was.

use std::collections::VecDeque;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::bundle::VerifiedPreKeyBundle;
use crate::curve::PublicKey;
use crate::error::{DecryptError, EncryptError, KeyError};
use crate::identity::IdentityKey;
use crate::message::{MessageKind, PreKeyMessage, RatchetMessage};
use crate::pqxdh::{self, Parties, ResponderKeys};
use crate::prekey::{KemPreKeyKind, PreKeyStore};
use crate::ratchet::session::Session;
use crate::ratchet::{MAX_ARCHIVED_NEW_CHAIN_JUMP, MAX_FORWARD_JUMP};

/// The most archived sessions a record keeps (oldest dropped first).
pub const MAX_ARCHIVED_SESSIONS: usize = 40;

/// All sessions with one remote device.
#[derive(Clone, Default)]
pub struct SessionRecord {
    pub(crate) current: Option<Session>,
    /// Most recently archived first.
    pub(crate) archived: VecDeque<Session>,
}

/// The result of a successful decryption.
#[non_exhaustive]
pub struct Decrypted {
    /// The plaintext (zeroized when dropped).
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The identity of the session that decrypted it. Compare it with the one you trust
    /// before showing the message or saving the record.
    pub remote_identity: IdentityKey,
    /// Set when the message started a new session: prekeys the caller must now retire.
    pub pre_key_use: Option<PreKeyUse>,
}

/// The prekeys a new responder session used. Apply in the transaction that saves the record:
/// delete the one-time prekey, delete a one-time ML-KEM prekey, or remember
/// `(kem_pre_key_id, base_key)` for a last-resort one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeyUse {
    /// The signed prekey used.
    pub signed_pre_key_id: u32,
    /// The one-time X25519 prekey used, to delete.
    pub one_time_pre_key_id: Option<u32>,
    /// The ML-KEM prekey used.
    pub kem_pre_key_id: u32,
    /// Its kind: delete a one-time key; for the last-resort key, record the base key.
    pub kem_pre_key_kind: KemPreKeyKind,
    /// The initiator's base key.
    pub base_key: PublicKey,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field(
                "plaintext",
                &format_args!("<{} bytes>", self.plaintext.len()),
            )
            .field("remote_identity", &self.remote_identity)
            .field("pre_key_use", &self.pre_key_use)
            .finish()
    }
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("current", &self.current.is_some())
            .field("archived", &self.archived.len())
            .finish()
    }
}

impl SessionRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a current session exists.
    pub fn has_current_session(&self) -> bool {
        self.current.is_some()
    }

    /// The number of archived sessions.
    pub fn archived_count(&self) -> usize {
        self.archived.len()
    }

    /// The remote identity of the current session.
    pub fn remote_identity(&self) -> Option<&IdentityKey> {
        self.current.as_ref().map(|s| &s.remote_identity)
    }

    /// Whether the current session is still waiting for the peer's first answer (its messages
    /// are sent as prekey messages).
    pub fn is_unacknowledged(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|s| s.pending_pre_key.is_some())
    }

    /// The base key naming the current session (equal on both sides of one session).
    pub fn current_base_key(&self) -> Option<PublicKey> {
        self.current.as_ref().map(|s| s.base_key)
    }

    /// The current session's associated data: its PQXDH transcript hash.
    pub fn current_associated_data(&self) -> Option<[u8; 32]> {
        self.current.as_ref().map(|s| s.associated_data)
    }

    /// Skipped-message keys held by the current session, over all its receiving chains.
    pub fn skipped_key_count(&self) -> usize {
        self.current.as_ref().map_or(0, |s| {
            s.receiving_chains.iter().map(|c| c.skipped.len()).sum()
        })
    }

    /// Receiving chains held by the current session.
    pub fn receiving_chain_count(&self) -> usize {
        self.current
            .as_ref()
            .map_or(0, |s| s.receiving_chains.len())
    }

    /// Starts a new current session from a verified bundle (PQXDH initiator); any current
    /// session is archived.
    ///
    /// # Errors
    /// A non-contributory key agreement (the record is unchanged).
    pub fn initiate(
        &mut self,
        parties: Parties<'_>,
        bundle: &VerifiedPreKeyBundle,
        rng: &mut impl CryptoRng,
    ) -> Result<(), KeyError> {
        let session = pqxdh::initiate(parties, bundle, rng)?;
        self.promote(session);
        Ok(())
    }

    /// Archives the current session (for example when the peer's device was re-registered).
    pub fn archive_current_session(&mut self) {
        if let Some(session) = self.current.take() {
            self.archived.push_front(session);
            self.archived.truncate(MAX_ARCHIVED_SESSIONS);
        }
    }

    fn promote(&mut self, session: Session) {
        self.archive_current_session();
        self.current = Some(session);
    }

    /// Encrypts `plaintext` on the current session.
    ///
    /// # Errors
    /// [`EncryptError::NoSession`] without a current session; see [`EncryptError`]. The record is
    /// unchanged on error.
    pub fn encrypt(
        &mut self,
        plaintext: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>, EncryptError> {
        let session = self.current.as_mut().ok_or(EncryptError::NoSession)?;
        session.encrypt(plaintext, rng)
    }

    /// Decrypts a ratchet or prekey message from `parties.remote_address`.
    ///
    /// # Errors
    /// Every [`DecryptError`]; the record is unchanged and no prekey was used.
    pub fn decrypt(
        &mut self,
        parties: Parties<'_>,
        message: &[u8],
        pre_keys: &impl PreKeyStore,
    ) -> Result<Decrypted, DecryptError> {
        match MessageKind::of(message)? {
            MessageKind::Ratchet => self.decrypt_ratchet(message),
            MessageKind::PreKey => self.decrypt_pre_key(parties, message, pre_keys),
        }
    }

    fn decrypt_ratchet(&mut self, bytes: &[u8]) -> Result<Decrypted, DecryptError> {
        let message = RatchetMessage::try_from(bytes)?;
        let mut first_error = None;
        let candidates = self.current.iter().chain(self.archived.iter());
        for (position, session) in candidates.enumerate() {
            let limit = if self.is_current(position) {
                MAX_FORWARD_JUMP
            } else {
                MAX_ARCHIVED_NEW_CHAIN_JUMP
            };
            match session.plan_decrypt(&message, limit) {
                Ok((commit, plaintext)) => {
                    let remote_identity = session.remote_identity.clone();
                    self.commit_at(position, commit);
                    return Ok(Decrypted {
                        plaintext,
                        remote_identity,
                        pre_key_use: None,
                    });
                }
                Err(error) => first_error = Some(pick_error(first_error, error)),
            }
        }
        Err(first_error.unwrap_or(DecryptError::NoSession))
    }

    /// Whether candidate `position` (the current session first, then the archived ones) is the
    /// current session.
    fn is_current(&self, position: usize) -> bool {
        position == 0 && self.current.is_some()
    }

    /// Commits to the candidate at `position` and makes it current.
    fn commit_at(&mut self, position: usize, commit: crate::ratchet::session::Commit) {
        if self.is_current(position) {
            if let Some(session) = self.current.as_mut() {
                session.commit(commit);
            }
            return;
        }
        let archived_index = position - usize::from(self.current.is_some());
        if let Some(mut session) = self.archived.remove(archived_index) {
            session.commit(commit);
            self.promote(session);
        }
    }

    fn decrypt_pre_key(
        &mut self,
        parties: Parties<'_>,
        bytes: &[u8],
        pre_keys: &impl PreKeyStore,
    ) -> Result<Decrypted, DecryptError> {
        let message = PreKeyMessage::try_from(bytes)?;
        if self.knows_base_key(&message) {
            return self.decrypt_ratchet(&message.message);
        }
        let keys = look_up(&message, pre_keys)?;
        let mut session = pqxdh::respond(parties, &message, &keys)?;
        let inner = RatchetMessage::try_from(message.message.as_slice())?;
        let (commit, plaintext) = session.plan_decrypt(&inner, MAX_FORWARD_JUMP)?;
        session.commit(commit);
        let remote_identity = session.remote_identity.clone();
        self.promote(session);
        let pre_key_use = PreKeyUse {
            signed_pre_key_id: keys.signed_pre_key.id,
            one_time_pre_key_id: keys.one_time_pre_key.as_ref().map(|k| k.id),
            kem_pre_key_id: keys.kem_pre_key.id,
            kem_pre_key_kind: keys.kem_pre_key.kind,
            base_key: message.base_key,
        };
        Ok(Decrypted {
            plaintext,
            remote_identity,
            pre_key_use: Some(pre_key_use),
        })
    }

    fn knows_base_key(&self, message: &PreKeyMessage) -> bool {
        self.current
            .iter()
            .chain(self.archived.iter())
            .any(|s| s.base_key == message.base_key && s.remote_identity == message.identity)
    }
}

/// Prefers the most telling error: a duplicate anywhere, else the first session's.
fn pick_error(previous: Option<DecryptError>, new: DecryptError) -> DecryptError {
    match previous {
        Some(DecryptError::Duplicate { counter }) => DecryptError::Duplicate { counter },
        Some(_) if matches!(new, DecryptError::Duplicate { .. }) => new,
        Some(previous) => previous,
        None => new,
    }
}

fn look_up(
    message: &PreKeyMessage,
    store: &impl PreKeyStore,
) -> Result<ResponderKeys, DecryptError> {
    let signed_pre_key = store
        .signed_pre_key(message.signed_pre_key_id)
        .ok_or(DecryptError::UnknownSignedPreKey(message.signed_pre_key_id))?;
    let one_time_pre_key = match message.one_time_pre_key_id {
        Some(id) => Some(
            store
                .one_time_pre_key(id)
                .ok_or(DecryptError::UnknownOneTimePreKey(id))?,
        ),
        None => None,
    };
    let kem_pre_key = store
        .kem_pre_key(message.kem_pre_key_id)
        .ok_or(DecryptError::UnknownKemPreKey(message.kem_pre_key_id))?;
    let keys = ResponderKeys {
        signed_pre_key,
        one_time_pre_key,
        kem_pre_key,
    };
    if keys.kem_pre_key.kind == KemPreKeyKind::LastResort
        && store.last_resort_base_key_seen(message.kem_pre_key_id, &message.base_key)
    {
        return Err(DecryptError::ReplayedPreKeyMessage);
    }
    Ok(keys)
}
