//! Sealed-sender settings in PostgreSQL: two columns of `accounts` (migration 0005).

use super::PostgresStore;
use crate::domain::{AccessKeyHash, AccountId};
use crate::store::{SealedSenderAccess, SealedSenderStore, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl SealedSenderStore for PostgresStore {
    async fn set_sealed_sender(
        &self,
        account: &AccountId,
        access_key_hash: &AccessKeyHash,
        unrestricted: bool,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET access_key_hash = $1, sealed_unrestricted = $2 WHERE id = $3",
        )
        .bind(access_key_hash.as_bytes().as_slice())
        .bind(unrestricted)
        .bind(account.as_str())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn sealed_sender(
        &self,
        account: &AccountId,
    ) -> Result<Option<SealedSenderAccess>, StoreError> {
        let row =
            sqlx::query("SELECT access_key_hash, sealed_unrestricted FROM accounts WHERE id = $1")
                .bind(account.as_str())
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored: Option<Vec<u8>> = row.try_get("access_key_hash")?;
        let access_key_hash = stored
            .map(|bytes| {
                AccessKeyHash::from_stored(&bytes)
                    .ok_or_else(|| StoreError::Corrupt("access key hash".into()))
            })
            .transpose()?;
        Ok(Some(SealedSenderAccess {
            access_key_hash,
            unrestricted: row.try_get::<bool, _>("sealed_unrestricted")?,
        }))
    }
}
