//! Prekeys in PostgreSQL. A one-time key is taken by a `DELETE` of the row that a
//! `SELECT … FOR UPDATE SKIP LOCKED` picked: concurrent takers on any node lock different
//! rows, so no key is ever handed out twice, and none waits for another.

use super::{PostgresStore, device_column, to_u32};
use crate::domain::DeviceAddress;
use crate::store::{PreKeyCounts, PreKeyStore, StoreError, TakenPreKeys};
use async_trait::async_trait;
use sotto_proto::api::{Base64Bytes, PreKey, PreKeyUpload, SignedPreKey};
use sqlx::{PgConnection, Row, postgres::PgRow};

/// Stores an upload inside the caller's transaction.
pub(super) async fn store_in(
    conn: &mut PgConnection,
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
        let keys: Vec<OneTimeRow> = upload
            .one_time_prekeys
            .iter()
            .map(|k| (i64::from(k.key_id), k.public_key.0.clone(), None))
            .collect();
        replace_one_time(conn, device, "ec", keys).await?;
    }
    if !upload.one_time_kem_prekeys.is_empty() {
        let keys: Vec<OneTimeRow> = upload
            .one_time_kem_prekeys
            .iter()
            .map(|k| {
                let signature = Some(k.signature.0.clone());
                (i64::from(k.key_id), k.public_key.0.clone(), signature)
            })
            .collect();
        replace_one_time(conn, device, "kem", keys).await?;
    }
    Ok(())
}

/// Key id, public key, signature (KEM keys only).
type OneTimeRow = (i64, Vec<u8>, Option<Vec<u8>>);

async fn put_signed(
    conn: &mut PgConnection,
    device: &DeviceAddress,
    kind: &str,
    key: &SignedPreKey,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signed_prekeys (account_id, device_id, kind, key_id, public_key, signature)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, device_id, kind) DO UPDATE
         SET key_id = excluded.key_id, public_key = excluded.public_key, signature = excluded.signature",
    )
    .bind(device.account.as_str())
    .bind(device_column(device.device))
    .bind(kind)
    .bind(i64::from(key.key_id))
    .bind(&key.public_key.0)
    .bind(&key.signature.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces every one-time key of `kind` with `keys`, in two statements.
async fn replace_one_time(
    conn: &mut PgConnection,
    device: &DeviceAddress,
    kind: &str,
    keys: Vec<OneTimeRow>,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM one_time_prekeys WHERE account_id = $1 AND device_id = $2 AND kind = $3",
    )
    .bind(device.account.as_str())
    .bind(device_column(device.device))
    .bind(kind)
    .execute(&mut *conn)
    .await?;
    // A key id repeated in one upload keeps its last copy, as the SQLite backend does
    // (one statement may not update a row twice).
    let unique: std::collections::BTreeMap<i64, (Vec<u8>, Option<Vec<u8>>)> = keys
        .into_iter()
        .map(|(id, public, signature)| (id, (public, signature)))
        .collect();
    let mut ids = Vec::with_capacity(unique.len());
    let mut publics = Vec::with_capacity(unique.len());
    let mut signatures = Vec::with_capacity(unique.len());
    for (id, (public, signature)) in unique {
        ids.push(id);
        publics.push(public);
        signatures.push(signature);
    }
    sqlx::query(
        "INSERT INTO one_time_prekeys (account_id, device_id, kind, key_id, public_key, signature)
         SELECT $1, $2, $3, k.id, k.public_key, k.signature
         FROM unnest($4::BIGINT[], $5::BYTEA[], $6::BYTEA[]) AS k(id, public_key, signature)
         ON CONFLICT (account_id, device_id, kind, key_id) DO UPDATE
         SET public_key = excluded.public_key, signature = excluded.signature",
    )
    .bind(device.account.as_str())
    .bind(device_column(device.device))
    .bind(kind)
    .bind(ids)
    .bind(publics)
    .bind(signatures)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn signed_from_row(row: &PgRow) -> Result<SignedPreKey, StoreError> {
    let signature: Option<Vec<u8>> = row.try_get("signature")?;
    Ok(SignedPreKey {
        key_id: to_u32(row.try_get("key_id")?, "key id")?,
        public_key: Base64Bytes(row.try_get("public_key")?),
        signature: Base64Bytes(
            signature.ok_or_else(|| StoreError::Corrupt("unsigned KEM key".into()))?,
        ),
    })
}

/// Deletes and returns the lowest-id one-time key of `kind` that no concurrent taker holds.
async fn take_one(
    conn: &mut PgConnection,
    device: &DeviceAddress,
    kind: &str,
) -> Result<Option<PgRow>, StoreError> {
    let row = sqlx::query(
        "DELETE FROM one_time_prekeys WHERE (account_id, device_id, kind, key_id) =
           (SELECT account_id, device_id, kind, key_id FROM one_time_prekeys
            WHERE account_id = $1 AND device_id = $2 AND kind = $3
            ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING key_id, public_key, signature",
    )
    .bind(device.account.as_str())
    .bind(device_column(device.device))
    .bind(kind)
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

async fn signed(
    conn: &mut PgConnection,
    device: &DeviceAddress,
    kind: &str,
) -> Result<Option<SignedPreKey>, StoreError> {
    let row = sqlx::query(
        "SELECT key_id, public_key, signature FROM signed_prekeys
         WHERE account_id = $1 AND device_id = $2 AND kind = $3",
    )
    .bind(device.account.as_str())
    .bind(device_column(device.device))
    .bind(kind)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(signed_from_row).transpose()
}

#[async_trait]
impl PreKeyStore for PostgresStore {
    async fn store_prekeys(
        &self,
        device: &DeviceAddress,
        upload: &PreKeyUpload,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        store_in(&mut tx, device, upload).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn prekey_counts(&self, device: &DeviceAddress) -> Result<PreKeyCounts, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) FILTER (WHERE kind = 'ec') AS ec, count(*) FILTER (WHERE kind = 'kem') AS kem
             FROM one_time_prekeys WHERE account_id = $1 AND device_id = $2",
        )
        .bind(device.account.as_str())
        .bind(device_column(device.device))
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
        let mut tx = self.pool.begin().await?;
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
        let (kem, kem_is_last_resort) = match take_one(&mut tx, device, "kem").await? {
            Some(row) => (signed_from_row(&row)?, false),
            None => (last_resort, true),
        };
        tx.commit().await?;
        Ok(Some(TakenPreKeys {
            signed_prekey,
            one_time,
            kem,
            kem_is_last_resort,
        }))
    }
}
