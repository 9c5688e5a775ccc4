//! This device's prekeys: the first set at registration, replenishment when the relay runs
//! low on one-time keys, and rotation of the signed prekey.

use sotto_core::{
    IdentityKeyPair, KemPreKeyKind, KemPreKeyPair, OneTimePreKeyPair, SignedPreKeyPair,
};
use sotto_proto::api::PreKeyUpload;
use sqlx::SqliteConnection;

use crate::bundles::{kem_to_api, one_time_to_api, signed_to_api};
use crate::client::Client;
use crate::error::ClientError;
use crate::store::{Store, now_ms};

/// One-time keys of each kind made at a time (the relay's per-upload maximum).
pub const ONE_TIME_BATCH: u32 = 100;
/// Below this many one-time keys of either kind on the relay, a new batch is uploaded.
pub const REPLENISH_BELOW: u32 = 20;
/// The signed prekey is replaced after this long.
pub const SIGNED_PRE_KEY_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;
/// Signed prekeys kept (current and previous), so messages built on the old one still open.
pub const SIGNED_PRE_KEYS_KEPT: u32 = 2;

/// Freshly made prekeys, not yet stored or uploaded.
pub(crate) struct PreKeyBatch {
    pub(crate) signed: Option<SignedPreKeyPair>,
    pub(crate) last_resort: Option<KemPreKeyPair>,
    pub(crate) one_time: Vec<OneTimePreKeyPair>,
    pub(crate) kem: Vec<KemPreKeyPair>,
}

impl PreKeyBatch {
    /// The first keys of a device: ids `first..first + 2 + 2 * ONE_TIME_BATCH`.
    pub(crate) fn initial(identity: &IdentityKeyPair, first: u32) -> Self {
        let mut rng = rand::rng();
        let signed = SignedPreKeyPair::generate(identity, first, &mut rng);
        let last_resort =
            KemPreKeyPair::generate(identity, first + 1, KemPreKeyKind::LastResort, &mut rng);
        let mut batch = Self::one_time(identity, first + 2);
        batch.signed = Some(signed);
        batch.last_resort = Some(last_resort);
        batch
    }

    /// `ONE_TIME_BATCH` one-time keys of each kind, ids from `first`.
    pub(crate) fn one_time(identity: &IdentityKeyPair, first: u32) -> Self {
        let mut rng = rand::rng();
        let one_time = (0..ONE_TIME_BATCH)
            .map(|i| OneTimePreKeyPair::generate(first + i, &mut rng))
            .collect();
        let kem = (0..ONE_TIME_BATCH)
            .map(|i| {
                let id = first + ONE_TIME_BATCH + i;
                KemPreKeyPair::generate(identity, id, KemPreKeyKind::OneTime, &mut rng)
            })
            .collect();
        Self {
            signed: None,
            last_resort: None,
            one_time,
            kem,
        }
    }

    /// How many ids a batch of one-time keys uses.
    pub(crate) const ONE_TIME_IDS: u32 = 2 * ONE_TIME_BATCH;

    pub(crate) fn upload(&self) -> PreKeyUpload {
        PreKeyUpload {
            signed_prekey: self.signed.as_ref().map(signed_to_api),
            last_resort_kem_prekey: self.last_resort.as_ref().map(kem_to_api),
            one_time_prekeys: self.one_time.iter().map(one_time_to_api).collect(),
            one_time_kem_prekeys: self.kem.iter().map(kem_to_api).collect(),
        }
    }

    /// Stores the private halves (in the caller's transaction).
    pub(crate) async fn save(
        &self,
        store: &Store,
        conn: &mut SqliteConnection,
    ) -> Result<(), ClientError> {
        let now = now_ms();
        if let Some(signed) = &self.signed {
            store.save_signed_pre_key(&mut *conn, signed, now).await?;
        }
        if let Some(last_resort) = &self.last_resort {
            store
                .save_kem_pre_keys(&mut *conn, std::slice::from_ref(last_resort), now)
                .await?;
        }
        store
            .save_one_time_pre_keys(&mut *conn, &self.one_time)
            .await?;
        store.save_kem_pre_keys(&mut *conn, &self.kem, now).await?;
        Ok(())
    }
}

impl Client {
    /// Uploads a new batch of one-time prekeys when the relay holds fewer than
    /// [`REPLENISH_BELOW`] of either kind, and rotates the signed prekey when it is older than
    /// [`SIGNED_PRE_KEY_LIFETIME_MS`]. Returns whether anything was uploaded.
    ///
    /// # Errors
    /// The relay or the store failed; nothing is half-done (keys are stored before upload, and
    /// keys stored but never uploaded are harmless).
    pub async fn maintain_pre_keys(&self) -> Result<bool, ClientError> {
        let count = self.relay.pre_key_count().await?;
        let mut changed = false;
        if count.one_time_prekeys < REPLENISH_BELOW || count.one_time_kem_prekeys < REPLENISH_BELOW
        {
            self.replenish_pre_keys().await?;
            changed = true;
        }
        if now_ms() - self.store.signed_rotated_at().await? > SIGNED_PRE_KEY_LIFETIME_MS {
            self.rotate_signed_pre_key().await?;
            changed = true;
        }
        Ok(changed)
    }

    /// Makes, stores and uploads a new batch of one-time prekeys (replacing the relay's).
    ///
    /// # Errors
    /// The relay or the store failed.
    pub async fn replenish_pre_keys(&self) -> Result<(), ClientError> {
        let mut tx = self.store.begin().await?;
        let first = self
            .store
            .reserve_pre_key_ids(&mut tx, PreKeyBatch::ONE_TIME_IDS)
            .await?;
        let batch = PreKeyBatch::one_time(&self.account.identity, first);
        batch.save(&self.store, &mut tx).await?;
        tx.commit().await.map_err(crate::error::StoreError::from)?;
        self.relay.upload_pre_keys(&batch.upload()).await?;
        tracing::debug!(first, "uploaded a new batch of one-time prekeys");
        Ok(())
    }

    /// Replaces the signed prekey; the previous one is kept for late prekey messages.
    ///
    /// # Errors
    /// The relay or the store failed.
    pub async fn rotate_signed_pre_key(&self) -> Result<(), ClientError> {
        let mut tx = self.store.begin().await?;
        let id = self.store.reserve_pre_key_ids(&mut tx, 1).await?;
        let signed = SignedPreKeyPair::generate(&self.account.identity, id, &mut rand::rng());
        let now = now_ms();
        self.store
            .save_signed_pre_key(&mut tx, &signed, now)
            .await?;
        self.store
            .prune_signed_pre_keys(&mut tx, SIGNED_PRE_KEYS_KEPT)
            .await?;
        self.store.set_signed_rotated_at(&mut tx, now).await?;
        tx.commit().await.map_err(crate::error::StoreError::from)?;
        let upload = PreKeyUpload {
            signed_prekey: Some(signed_to_api(&signed)),
            ..PreKeyUpload::default()
        };
        self.relay.upload_pre_keys(&upload).await?;
        Ok(())
    }
}
