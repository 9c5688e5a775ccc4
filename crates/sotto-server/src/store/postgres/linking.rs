//! Provisioning channels, link tokens and device removal in PostgreSQL.

use super::PostgresStore;
use super::accounts::add_device_in;
use crate::domain::{AccountId, DeviceAddress, SecretHash};
use crate::store::{ChannelContents, LinkRequest, LinkingStore, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl LinkingStore for PostgresStore {
    async fn open_channel(
        &self,
        id: &str,
        secret_hash: &SecretHash,
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        delete_expired(&mut tx, now_ms).await?;
        sqlx::query(
            "INSERT INTO provisioning_channels (id, secret_hash, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(secret_hash.as_bytes().as_slice())
        .bind(expires_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fill_channel(&self, id: &str, message: &[u8], now_ms: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT message IS NOT NULL AS filled FROM provisioning_channels
             WHERE id = $1 AND expires_at > $2 FOR UPDATE",
        )
        .bind(id)
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        if row.try_get::<bool, _>("filled")? {
            return Err(StoreError::ChannelFilled);
        }
        sqlx::query("UPDATE provisioning_channels SET message = $1 WHERE id = $2")
            .bind(message)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn read_channel(
        &self,
        id: &str,
        secret_hash: &SecretHash,
        now_ms: i64,
    ) -> Result<ChannelContents, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT secret_hash, message FROM provisioning_channels WHERE id = $1 AND expires_at > $2
             FOR UPDATE",
        )
        .bind(id)
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let stored: Vec<u8> = row.try_get("secret_hash")?;
        let stored = SecretHash::from_stored(&stored)
            .ok_or_else(|| StoreError::Corrupt("channel secret hash length".into()))?;
        if !stored.matches(secret_hash) {
            return Err(StoreError::NotFound);
        }
        let Some(message) = row.try_get::<Option<Vec<u8>>, _>("message")? else {
            return Ok(ChannelContents::Empty);
        };
        sqlx::query("DELETE FROM provisioning_channels WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ChannelContents::Message(message))
    }

    async fn create_link_token(
        &self,
        token_hash: [u8; 32],
        account: &AccountId,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO link_tokens (token_hash, account_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash.as_slice())
        .bind(account.as_str())
        .bind(expires_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn link_device(&self, request: LinkRequest) -> Result<DeviceAddress, StoreError> {
        let mut tx = self.pool.begin().await?;
        let account: String = sqlx::query_scalar(
            "DELETE FROM link_tokens WHERE token_hash = $1 AND expires_at > $2 RETURNING account_id",
        )
        .bind(request.token_hash.as_slice())
        .bind(request.now_ms)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::InvalidToken)?;
        let account = AccountId::parse(&account).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let device = add_device_in(
            &mut tx,
            &account,
            &request.device,
            request.max_devices,
            &request.today,
        )
        .await?;
        tx.commit().await?;
        Ok(DeviceAddress { account, device })
    }

    async fn remove_device(&self, device: &DeviceAddress) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let removed = sqlx::query("DELETE FROM devices WHERE account_id = $1 AND device_id = $2")
            .bind(device.account.as_str())
            .bind(super::device_column(device.device))
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM mailbox WHERE account_id = $1 AND device_id = $2")
            .bind(device.account.as_str())
            .bind(super::device_column(device.device))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Deletes expired provisioning channels and link tokens: when a channel is opened, and in
/// the hourly purge.
pub(super) async fn delete_expired(
    conn: &mut sqlx::PgConnection,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM provisioning_channels WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM link_tokens WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
