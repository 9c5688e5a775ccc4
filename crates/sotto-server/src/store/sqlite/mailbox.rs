//! The mailbox in SQLite: writes through the group-commit writer, reads from the pool.

use super::SqliteStore;
use crate::domain::{AccountId, DeviceAddress, DeviceId};
use crate::store::{Mailbox, MultiSubmission, QueuedEnvelope, SendOutcome, StoreError, Submission};
use async_trait::async_trait;
use sqlx::{Row, sqlite::SqliteRow};

fn envelope_from_row(row: &SqliteRow) -> Result<QueuedEnvelope, StoreError> {
    let sender_account: Option<String> = row.try_get("sender_account")?;
    let sender_device: Option<i64> = row.try_get("sender_device")?;
    let sender = match (sender_account, sender_device) {
        (Some(account), Some(device)) => Some(DeviceAddress {
            account: AccountId::parse(&account).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            device: u32::try_from(device)
                .ok()
                .and_then(|d| DeviceId::new(d).ok())
                .ok_or_else(|| StoreError::Corrupt("sender device".into()))?,
        }),
        _ => None,
    };
    Ok(QueuedEnvelope {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        sender,
        server_timestamp: row.try_get("server_timestamp")?,
        content: super::super::delivered_content(
            row.try_get("content")?,
            row.try_get("payload_id")?,
            row.try_get("payload")?,
        )?,
    })
}

#[async_trait]
impl Mailbox for SqliteStore {
    fn set_commit_hook(&self, hook: std::sync::Arc<dyn crate::store::CommitHook>) {
        self.writer.set_commit_hook(hook);
    }

    fn commit_stats(&self) -> crate::store::CommitStats {
        self.writer.stats()
    }

    async fn store(&self, send: Submission) -> Result<SendOutcome, StoreError> {
        self.writer.store(send).await
    }

    async fn pending(
        &self,
        device: &DeviceAddress,
        after: i64,
        limit: u32,
        now_ms: i64,
    ) -> Result<Vec<QueuedEnvelope>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, message_id, sender_account, sender_device, server_timestamp, content,
                    payload_id,
                    (SELECT p.content FROM shared_payloads p WHERE p.id = payload_id) AS payload
             FROM mailbox
             WHERE account_id = ? AND device_id = ? AND id > ? AND expires_at > ? ORDER BY id LIMIT ?",
        )
        .bind(device.account.as_str())
        .bind(device.device.get())
        .bind(after)
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(envelope_from_row).collect()
    }

    async fn store_multi(&self, send: MultiSubmission) -> Result<SendOutcome, StoreError> {
        self.writer.store_multi(send).await
    }

    async fn shared_payloads(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM shared_payloads")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.unsigned_abs())
    }

    async fn ack(&self, device: &DeviceAddress, ids: &[i64]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.writer.ack(device.clone(), ids.to_vec()).await
    }

    async fn queue_len(&self, device: &DeviceAddress) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM mailbox WHERE account_id = ? AND device_id = ?",
        )
        .bind(device.account.as_str())
        .bind(device.device.get())
        .fetch_one(&self.pool)
        .await?;
        Ok(n.unsigned_abs())
    }

    async fn remembered_ids(&self, account: &AccountId) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM message_ids WHERE account_id = ?")
            .bind(account.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n.unsigned_abs())
    }

    async fn purge_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.writer.purge(now_ms).await
    }
}
