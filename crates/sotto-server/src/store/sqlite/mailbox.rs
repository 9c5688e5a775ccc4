//! The mailbox in SQLite: writes through the group-commit writer, reads from the pool.

use super::SqliteStore;
use crate::domain::{AccountId, DeviceAddress, DeviceId};
use crate::store::{Mailbox, QueuedEnvelope, SendOutcome, StoreError, Submission};
use async_trait::async_trait;
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};

/// Applies a send inside the writer's transaction (within a savepoint of its own).
pub(super) async fn store_in(
    conn: &mut SqliteConnection,
    send: &Submission,
) -> Result<SendOutcome, StoreError> {
    let expires_at = send.now_ms.saturating_add(send.ttl_ms);
    let first_time = sqlx::query(
        "INSERT INTO message_ids (account_id, message_id, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(send.recipient.as_str())
    .bind(send.message_id.as_str())
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    if first_time.rows_affected() == 0 {
        return Ok(SendOutcome::Duplicate);
    }
    for envelope in &send.envelopes {
        if queued(conn, &send.recipient, envelope.device, send.max_queue).await?
            >= u64::from(send.max_queue)
        {
            return Err(StoreError::MailboxFull);
        }
        sqlx::query(
            "INSERT INTO mailbox (account_id, device_id, message_id, sender_account, sender_device,
                                  server_timestamp, expires_at, content)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(send.recipient.as_str())
        .bind(envelope.device.get())
        .bind(send.message_id.as_str())
        .bind(send.sender.as_ref().map(|s| s.account.as_str()))
        .bind(send.sender.as_ref().map(|s| s.device.get()))
        .bind(send.now_ms)
        .bind(expires_at)
        .bind(&envelope.content)
        .execute(&mut *conn)
        .await?;
    }
    Ok(SendOutcome::Stored)
}

/// Counts a device's envelopes, stopping at `cap` so a full queue costs no more to check.
async fn queued(
    conn: &mut SqliteConnection,
    account: &AccountId,
    device: DeviceId,
    cap: u32,
) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM mailbox WHERE account_id = ? AND device_id = ? LIMIT ?)",
    )
    .bind(account.as_str())
    .bind(device.get())
    .bind(cap)
    .fetch_one(conn)
    .await?;
    Ok(n.unsigned_abs())
}

/// Deletes acked envelopes inside the writer's transaction.
pub(super) async fn ack_in(
    conn: &mut SqliteConnection,
    device: &DeviceAddress,
    ids: &[i64],
) -> Result<u64, StoreError> {
    let list = serde_json::to_string(ids).map_err(|e| StoreError::Database(e.to_string()))?;
    let done = sqlx::query(
        "DELETE FROM mailbox WHERE account_id = ? AND device_id = ? AND id IN (SELECT value FROM json_each(?))",
    )
    .bind(device.account.as_str())
    .bind(device.device.get())
    .bind(list)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

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
        content: row.try_get("content")?,
    })
}

#[async_trait]
impl Mailbox for SqliteStore {
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
            "SELECT id, message_id, sender_account, sender_device, server_timestamp, content FROM mailbox
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

/// Deletes expired envelopes and message ids inside the writer's transaction.
pub(super) async fn purge_in(conn: &mut SqliteConnection, now_ms: i64) -> Result<u64, StoreError> {
    let envelopes = sqlx::query("DELETE FROM mailbox WHERE expires_at <= ?")
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM message_ids WHERE expires_at <= ?")
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(envelopes.rows_affected())
}
