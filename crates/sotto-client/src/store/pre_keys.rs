//! This device's private prekeys, and the base keys already seen with the last-resort key.

use sotto_core::curve::{KeyPair, PrivateKey};
use sotto_core::kem::{KemKeyPair, KemPublicKey, KemSecretKey};
use sotto_core::{
    InMemoryPreKeyStore, KemPreKeyKind, KemPreKeyPair, OneTimePreKeyPair, PreKeyUse,
    SignedPreKeyPair,
};
use sqlx::SqliteConnection;
use zeroize::Zeroizing;

use super::Store;
use super::fields::{FieldReader, FieldWriter};
use crate::error::StoreError;

const SIGNED: &str = "signed_pre_keys";
const ONE_TIME: &str = "one_time_pre_keys";
const KEM: &str = "kem_pre_keys";

fn bad_key(_: sotto_core::KeyError) -> StoreError {
    StoreError::Corrupt("stored prekey")
}

fn key_pair(private: [u8; 32]) -> KeyPair {
    KeyPair::from_private(PrivateKey::from_bytes(private))
}

impl Store {
    /// Saves a new signed prekey.
    pub(crate) async fn save_signed_pre_key(
        &self,
        conn: &mut SqliteConnection,
        key: &SignedPreKeyPair,
        created_at: i64,
    ) -> Result<(), StoreError> {
        let plain = FieldWriter::default()
            .bytes(&key.key_pair.private.to_bytes()[..])
            .bytes(&key.signature)
            .finish();
        let sealed = self.key.seal(SIGNED, &key.id.to_string(), &plain)?;
        sqlx::query("INSERT INTO signed_pre_keys (key_id, created_at, sealed) VALUES (?, ?, ?)")
            .bind(i64::from(key.id))
            .bind(created_at)
            .bind(sealed)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Deletes signed prekeys older than the newest `keep`.
    pub(crate) async fn prune_signed_pre_keys(
        &self,
        conn: &mut SqliteConnection,
        keep: u32,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM signed_pre_keys WHERE key_id NOT IN \
             (SELECT key_id FROM signed_pre_keys ORDER BY created_at DESC, key_id DESC LIMIT ?)",
        )
        .bind(i64::from(keep))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Saves new one-time prekeys.
    pub(crate) async fn save_one_time_pre_keys(
        &self,
        conn: &mut SqliteConnection,
        keys: &[OneTimePreKeyPair],
    ) -> Result<(), StoreError> {
        for key in keys {
            let plain = FieldWriter::default()
                .bytes(&key.key_pair.private.to_bytes()[..])
                .finish();
            let sealed = self.key.seal(ONE_TIME, &key.id.to_string(), &plain)?;
            sqlx::query("INSERT INTO one_time_pre_keys (key_id, sealed) VALUES (?, ?)")
                .bind(i64::from(key.id))
                .bind(sealed)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Saves new ML-KEM prekeys (one-time or last-resort).
    pub(crate) async fn save_kem_pre_keys(
        &self,
        conn: &mut SqliteConnection,
        keys: &[KemPreKeyPair],
        created_at: i64,
    ) -> Result<(), StoreError> {
        for key in keys {
            let plain = FieldWriter::default()
                .bytes(&key.signature)
                .bytes(&key.key_pair.secret.to_bytes())
                .bytes(&key.key_pair.public.encode())
                .finish();
            let sealed = self.key.seal(KEM, &key.id.to_string(), &plain)?;
            sqlx::query(
                "INSERT INTO kem_pre_keys (key_id, last_resort, created_at, sealed) VALUES (?, ?, ?, ?)",
            )
            .bind(i64::from(key.id))
            .bind(key.kind == KemPreKeyKind::LastResort)
            .bind(created_at)
            .bind(sealed)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Loads every private prekey (to decrypt a prekey message).
    ///
    /// # Errors
    /// A database failure or a row that does not decrypt.
    pub(crate) async fn pre_key_store(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<InMemoryPreKeyStore, StoreError> {
        let mut store = InMemoryPreKeyStore::default();
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT key_id, sealed FROM signed_pre_keys")
                .fetch_all(&mut *conn)
                .await?;
        for (id, sealed) in rows {
            let key = self.signed_from_row(id, &sealed)?;
            store.signed.insert(key.id, key);
        }
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT key_id, sealed FROM one_time_pre_keys")
                .fetch_all(&mut *conn)
                .await?;
        for (id, sealed) in rows {
            let key = self.one_time_from_row(id, &sealed)?;
            store.one_time.insert(key.id, key);
        }
        let rows: Vec<(i64, bool, Vec<u8>)> =
            sqlx::query_as("SELECT key_id, last_resort, sealed FROM kem_pre_keys")
                .fetch_all(&mut *conn)
                .await?;
        for (id, last_resort, sealed) in rows {
            let key = self.kem_from_row(id, last_resort, &sealed)?;
            store.kem.insert(key.id, key);
        }
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT key_id, base_key FROM last_resort_base_keys")
                .fetch_all(&mut *conn)
                .await?;
        for (id, base_key) in rows {
            let base_key: [u8; 32] = base_key
                .try_into()
                .map_err(|_| StoreError::Corrupt("base key"))?;
            store.used_base_keys.insert((row_id(id)?, base_key));
        }
        Ok(store)
    }

    fn signed_from_row(&self, id: i64, sealed: &[u8]) -> Result<SignedPreKeyPair, StoreError> {
        let plain = self.key.open(SIGNED, &id.to_string(), sealed)?;
        let mut r = FieldReader::new(&plain);
        let private = Zeroizing::new(r.array::<32>()?);
        let signature = r.array::<64>()?;
        Ok(SignedPreKeyPair {
            id: row_id(id)?,
            key_pair: key_pair(*private),
            signature,
        })
    }

    fn one_time_from_row(&self, id: i64, sealed: &[u8]) -> Result<OneTimePreKeyPair, StoreError> {
        let plain = self.key.open(ONE_TIME, &id.to_string(), sealed)?;
        let private = Zeroizing::new(FieldReader::new(&plain).array::<32>()?);
        Ok(OneTimePreKeyPair {
            id: row_id(id)?,
            key_pair: key_pair(*private),
        })
    }

    fn kem_from_row(
        &self,
        id: i64,
        last_resort: bool,
        sealed: &[u8],
    ) -> Result<KemPreKeyPair, StoreError> {
        let plain = self.key.open(KEM, &id.to_string(), sealed)?;
        let mut r = FieldReader::new(&plain);
        let signature = r.array::<64>()?;
        let secret = KemSecretKey::from_bytes(r.bytes()?).map_err(bad_key)?;
        let public = KemPublicKey::from_wire(r.bytes()?).map_err(bad_key)?;
        let kind = if last_resort {
            KemPreKeyKind::LastResort
        } else {
            KemPreKeyKind::OneTime
        };
        Ok(KemPreKeyPair {
            id: row_id(id)?,
            kind,
            key_pair: KemKeyPair { secret, public },
            signature,
        })
    }

    /// Retires the prekeys a new incoming session used (in the caller's transaction).
    pub(crate) async fn apply_pre_key_use(
        &self,
        conn: &mut SqliteConnection,
        used: &PreKeyUse,
    ) -> Result<(), StoreError> {
        if let Some(id) = used.one_time_pre_key_id {
            sqlx::query("DELETE FROM one_time_pre_keys WHERE key_id = ?")
                .bind(i64::from(id))
                .execute(&mut *conn)
                .await?;
        }
        match used.kem_pre_key_kind {
            KemPreKeyKind::OneTime => {
                sqlx::query("DELETE FROM kem_pre_keys WHERE key_id = ? AND last_resort = 0")
                    .bind(i64::from(used.kem_pre_key_id))
                    .execute(conn)
                    .await?;
            }
            KemPreKeyKind::LastResort => {
                sqlx::query(
                    "INSERT OR IGNORE INTO last_resort_base_keys (key_id, base_key) VALUES (?, ?)",
                )
                .bind(i64::from(used.kem_pre_key_id))
                .bind(&used.base_key.as_bytes()[..])
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }
}

fn row_id(id: i64) -> Result<u32, StoreError> {
    u32::try_from(id).map_err(|_| StoreError::Corrupt("key id"))
}
