//! The mailbox in PostgreSQL: sends through the node's group-commit writer; reads and acks
//! straight on the pool (a `DELETE` counts each envelope once, whichever node acks it).

use super::{PostgresStore, batch::sender_from_columns, device_column};
use crate::domain::{AccountId, DeviceAddress};
use crate::store::{Mailbox, MultiSubmission, QueuedEnvelope, SendOutcome, StoreError, Submission};
use async_trait::async_trait;
use sqlx::{Row, postgres::PgRow};

fn envelope_from_row(row: &PgRow) -> Result<QueuedEnvelope, StoreError> {
    Ok(QueuedEnvelope {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        sender: sender_from_columns(
            row.try_get("sender_account")?,
            row.try_get("sender_device")?,
        )?,
        server_timestamp: row.try_get("server_timestamp")?,
        content: super::super::delivered_content(
            row.try_get("content")?,
            row.try_get("payload_id")?,
            row.try_get("payload")?,
        )?,
    })
}

#[async_trait]
impl Mailbox for PostgresStore {
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
             WHERE account_id = $1 AND device_id = $2 AND id > $3 AND expires_at > $4 ORDER BY id LIMIT $5",
        )
        .bind(device.account.as_str())
        .bind(device_column(device.device))
        .bind(after)
        .bind(now_ms)
        .bind(i64::from(limit))
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
        let done = sqlx::query(
            "DELETE FROM mailbox WHERE account_id = $1 AND device_id = $2 AND id = ANY($3)",
        )
        .bind(device.account.as_str())
        .bind(device_column(device.device))
        .bind(ids)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn queue_len(&self, device: &DeviceAddress) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM mailbox WHERE account_id = $1 AND device_id = $2",
        )
        .bind(device.account.as_str())
        .bind(device_column(device.device))
        .fetch_one(&self.pool)
        .await?;
        Ok(n.unsigned_abs())
    }

    async fn remembered_ids(&self, account: &AccountId) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM message_ids WHERE account_id = $1")
            .bind(account.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n.unsigned_abs())
    }

    async fn purge_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let envelopes = sqlx::query("DELETE FROM mailbox WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM message_ids WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        // Linking rows live minutes; this catches any that a quiet relay left behind.
        super::linking::delete_expired(&mut tx, now_ms).await?;
        // The trigger released the payloads of the rows just deleted; this catches any
        // payload whose rows went without it (none should), as they expire together.
        sqlx::query("DELETE FROM shared_payloads WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(envelopes.rows_affected())
    }
}
