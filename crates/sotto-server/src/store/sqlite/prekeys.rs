//! Prekeys in SQLite. One-time keys are taken with `DELETE … RETURNING`: SQLite runs one
//! writer at a time, so a key returned by one delete can never be returned by another.

use super::{SqliteStore, to_u32};
use crate::domain::DeviceAddress;
use crate::store::{PreKeyCounts, PreKeyStore, StoreError, TakenPreKeys};
use async_trait::async_trait;
use sotto_proto::api::{Base64Bytes, PreKey, PreKeyUpload, SignedPreKey};
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};

/// Stores an upload inside the caller's transaction.
pub(super) async fn store_in(
    conn: &mut SqliteConnection,
    device: &DeviceAddress,
    upload: &PreKeyUpload,
) -> Result<(), StoreError> {
    if let Some(key) = &upload.signed_prekey {
        put_signed(conn, device, "ec", key).await?;
    }
    if let Some(key) = &upload.last_resort_kem_prekey {
        put_signed(conn, device, "kem_last_resort", key).await?;
    }
    if !upload.one_time_prekeys.is_empty() {
        clear_one_time(conn, device, "ec").await?;
        for key in &upload.one_time_prekeys {
            put_one_time(conn, device, "ec", key.key_id, &key.public_key.0, None).await?;
        }
    }
    if !upload.one_time_kem_prekeys.is_empty() {
        clear_one_time(conn, device, "kem").await?;
        for key in &upload.one_time_kem_prekeys {
            let signature = Some(key.signature.0.as_slice());
            put_one_time(
                conn,
                device,
                "kem",
                key.key_id,
                &key.public_key.0,
                signature,
            )
            .await?;
        }
    }
    Ok(())
}

async fn put_signed(
    conn: &mut SqliteConnection,
    device: &DeviceAddress,
    kind: &str,
    key: &SignedPreKey,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT OR REPLACE INTO signed_prekeys (account_id, device_id, kind, key_id, public_key, signature)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(device.account.as_str())
    .bind(device.device.get())
    .bind(kind)
    .bind(key.key_id)
    .bind(&key.public_key.0)
    .bind(&key.signature.0)
    .execute(conn)
    .await?;
    Ok(())
}

async fn clear_one_time(
    conn: &mut SqliteConnection,
    device: &DeviceAddress,
    kind: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM one_time_prekeys WHERE account_id = ? AND device_id = ? AND kind = ?")
        .bind(device.account.as_str())
        .bind(device.device.get())
        .bind(kind)
        .execute(conn)
        .await?;
    Ok(())
}

async fn put_one_time(
    conn: &mut SqliteConnection,
    device: &DeviceAddress,
    kind: &str,
    key_id: u32,
    public_key: &[u8],
    signature: Option<&[u8]>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT OR REPLACE INTO one_time_prekeys (account_id, device_id, kind, key_id, public_key, signature)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(device.account.as_str())
    .bind(device.device.get())
    .bind(kind)
    .bind(key_id)
    .bind(public_key)
    .bind(signature)
    .execute(conn)
    .await?;
    Ok(())
}

fn signed_from_row(row: &SqliteRow) -> Result<SignedPreKey, StoreError> {
    let signature: Option<Vec<u8>> = row.try_get("signature")?;
    Ok(SignedPreKey {
        key_id: to_u32(row.try_get("key_id")?, "key id")?,
        public_key: Base64Bytes(row.try_get("public_key")?),
        signature: Base64Bytes(
            signature.ok_or_else(|| StoreError::Corrupt("unsigned KEM key".into()))?,
        ),
    })
}

/// Deletes and returns the lowest-id one-time key of `kind`, if any.
async fn take_one(
    conn: &mut SqliteConnection,
    device: &DeviceAddress,
    kind: &str,
) -> Result<Option<SqliteRow>, StoreError> {
    let row = sqlx::query(
        "DELETE FROM one_time_prekeys WHERE (account_id, device_id, kind, key_id) =
           (SELECT account_id, device_id, kind, key_id FROM one_time_prekeys
            WHERE account_id = ?1 AND device_id = ?2 AND kind = ?3 ORDER BY key_id LIMIT 1)
         RETURNING key_id, public_key, signature",
    )
    .bind(device.account.as_str())
    .bind(device.device.get())
    .bind(kind)
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

async fn signed(
    conn: &mut SqliteConnection,
    device: &DeviceAddress,
    kind: &str,
) -> Result<Option<SignedPreKey>, StoreError> {
    let row = sqlx::query(
        "SELECT key_id, public_key, signature FROM signed_prekeys
         WHERE account_id = ? AND device_id = ? AND kind = ?",
    )
    .bind(device.account.as_str())
    .bind(device.device.get())
    .bind(kind)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(signed_from_row).transpose()
}

#[async_trait]
impl PreKeyStore for SqliteStore {
    async fn store_prekeys(
        &self,
        device: &DeviceAddress,
        upload: &PreKeyUpload,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        store_in(&mut tx, device, upload).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn prekey_counts(&self, device: &DeviceAddress) -> Result<PreKeyCounts, StoreError> {
        let row = sqlx::query(
            "SELECT coalesce(sum(kind = 'ec'), 0) AS ec, coalesce(sum(kind = 'kem'), 0) AS kem
             FROM one_time_prekeys WHERE account_id = ? AND device_id = ?",
        )
        .bind(device.account.as_str())
        .bind(device.device.get())
        .fetch_one(&self.pool)
        .await?;
        Ok(PreKeyCounts {
            one_time: to_u32(row.try_get("ec")?, "count")?,
            one_time_kem: to_u32(row.try_get("kem")?, "count")?,
        })
    }

    async fn take_prekeys(
        &self,
        device: &DeviceAddress,
    ) -> Result<Option<TakenPreKeys>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (Some(signed_prekey), Some(last_resort)) = (
            signed(&mut tx, device, "ec").await?,
            signed(&mut tx, device, "kem_last_resort").await?,
        ) else {
            return Ok(None);
        };
        let one_time = match take_one(&mut tx, device, "ec").await? {
            Some(row) => Some(PreKey {
                key_id: to_u32(row.try_get("key_id")?, "key id")?,
                public_key: Base64Bytes(row.try_get("public_key")?),
            }),
            None => None,
        };
        let kem = take_one(&mut tx, device, "kem").await?;
        let taken = match kem {
            Some(row) => TakenPreKeys {
                signed_prekey,
                one_time,
                kem: signed_from_row(&row)?,
                kem_is_last_resort: false,
            },
            None => TakenPreKeys {
                signed_prekey,
                one_time,
                kem: last_resort,
                kem_is_last_resort: true,
            },
        };
        tx.commit().await?;
        Ok(Some(taken))
    }
}
