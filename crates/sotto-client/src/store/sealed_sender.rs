//! Sealed sender state: the pinned trust root, revoked server keys, whether our access key is
//! on the relay, the cached sender certificate (one row), and contacts' access keys.

use sotto_core::sealed::AccessKey;
use sqlx::SqliteConnection;

use super::Store;
use super::fields::{FieldReader, FieldWriter};
use crate::error::StoreError;

const TABLE: &str = "sealed_sender";
const ROW: &str = "1";
const KEYS_TABLE: &str = "access_keys";

/// More revoked server keys than any relay will have: a longer stored list is corrupt.
const MAX_REVOKED: u32 = 4096;

/// What this device knows about sealed sending on its relay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SealedSenderState {
    /// The relay's trust root (Ed25519 public key), pinned once.
    pub(crate) trust_root: [u8; 32],
    /// Server keys whose certificates are refused.
    pub(crate) revoked: Vec<u32>,
    /// Our account's access key has been handed to the relay.
    pub(crate) settings_uploaded: bool,
    /// The last sender certificate the relay issued to this device, and when it expires.
    pub(crate) certificate: Option<(Vec<u8>, u64)>,
}

impl SealedSenderState {
    fn encode(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
        let count =
            u32::try_from(self.revoked.len()).map_err(|_| StoreError::Corrupt("revoked keys"))?;
        let mut w = FieldWriter::default()
            .bytes(&self.trust_root)
            .u32(u32::from(self.settings_uploaded))
            .u32(count);
        for id in &self.revoked {
            w = w.u32(*id);
        }
        w = match &self.certificate {
            Some((bytes, expires)) => w.bytes(bytes).bytes(&expires.to_be_bytes()),
            None => w.bytes(&[]).bytes(&[]),
        };
        Ok(w.finish())
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut r = FieldReader::new(bytes);
        let trust_root = r.array::<32>()?;
        let settings_uploaded = r.u32()? == 1;
        let count = r.u32()?;
        if count > MAX_REVOKED {
            return Err(StoreError::Corrupt("revoked keys"));
        }
        let revoked = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
        let certificate = r.bytes()?.to_vec();
        let expires = r.bytes()?;
        let certificate = if certificate.is_empty() {
            None
        } else {
            let expires: [u8; 8] = expires
                .try_into()
                .map_err(|_| StoreError::Corrupt("certificate expiry"))?;
            Some((certificate, u64::from_be_bytes(expires)))
        };
        Ok(Self {
            trust_root,
            revoked,
            settings_uploaded,
            certificate,
        })
    }
}

impl Store {
    /// The sealed sender state, if the trust root was pinned.
    pub(crate) async fn sealed_sender(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<Option<SealedSenderState>, StoreError> {
        let sealed: Option<(Vec<u8>,)> = sqlx::query_as("SELECT sealed FROM sealed_sender")
            .fetch_optional(conn)
            .await?;
        let Some((sealed,)) = sealed else {
            return Ok(None);
        };
        let plain = self.key.open(TABLE, ROW, &sealed)?;
        SealedSenderState::decode(&plain).map(Some)
    }

    /// Saves the sealed sender state (in the caller's transaction).
    pub(crate) async fn save_sealed_sender(
        &self,
        conn: &mut SqliteConnection,
        state: &SealedSenderState,
    ) -> Result<(), StoreError> {
        let sealed = self.key.seal(TABLE, ROW, &state.encode()?)?;
        sqlx::query(
            "INSERT INTO sealed_sender (id, sealed) VALUES (1, ?) \
             ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The access key an account shared with us, if it did.
    pub(crate) async fn access_key(
        &self,
        conn: &mut SqliteConnection,
        account_id: &str,
    ) -> Result<Option<AccessKey>, StoreError> {
        let sealed: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT sealed FROM access_keys WHERE account_id = ?")
                .bind(account_id)
                .fetch_optional(conn)
                .await?;
        let Some((sealed,)) = sealed else {
            return Ok(None);
        };
        let plain = self.key.open(KEYS_TABLE, account_id, &sealed)?;
        AccessKey::from_bytes(&plain)
            .map(Some)
            .map_err(|_| StoreError::Corrupt("access key"))
    }

    /// Remembers the access key an account shared (in the caller's transaction).
    pub(crate) async fn save_access_key(
        &self,
        conn: &mut SqliteConnection,
        account_id: &str,
        key: &AccessKey,
    ) -> Result<(), StoreError> {
        let sealed = self.key.seal(KEYS_TABLE, account_id, key.as_bytes())?;
        sqlx::query(
            "INSERT INTO access_keys (account_id, sealed) VALUES (?, ?) \
             ON CONFLICT (account_id) DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(account_id)
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Forgets an account's access key (the relay refused it: the account changed it).
    pub(crate) async fn forget_access_key(
        &self,
        conn: &mut SqliteConnection,
        account_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM access_keys WHERE account_id = ?")
            .bind(account_id)
            .execute(conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_state_round_trips_with_and_without_a_certificate() {
        let mut state = SealedSenderState {
            trust_root: [7; 32],
            revoked: vec![1, 5],
            settings_uploaded: true,
            certificate: Some((vec![1, 2, 3], 99)),
        };
        let bytes = state.encode().unwrap();
        assert_eq!(SealedSenderState::decode(&bytes).unwrap(), state);
        state.certificate = None;
        state.settings_uploaded = false;
        let bytes = state.encode().unwrap();
        assert_eq!(SealedSenderState::decode(&bytes).unwrap(), state);
        assert!(SealedSenderState::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
