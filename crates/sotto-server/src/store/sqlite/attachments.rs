//! Attachment records in SQLite. Rare, small writes: they go straight to the pool, not
//! through the mailbox's group-commit writer.

use super::SqliteStore;
use crate::domain::{AccountId, AttachmentId};
use crate::store::attachments::{to_i64, to_u64};
use crate::store::{
    AttachmentIndex, AttachmentRecord, AttachmentUsage, Day, NewAttachment, StoreError,
};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn record_from_row(row: &SqliteRow) -> Result<AttachmentRecord, StoreError> {
    let corrupt = |e: crate::domain::InvalidValue| StoreError::Corrupt(e.to_string());
    Ok(AttachmentRecord {
        id: AttachmentId::parse(row.try_get("id")?).map_err(corrupt)?,
        account: AccountId::parse(row.try_get("account_id")?).map_err(corrupt)?,
        size: to_u64(row.try_get("size")?, "size")?,
        received: to_u64(row.try_get("received")?, "received")?,
        complete: row.try_get::<i64, _>("complete")? != 0,
        expires: Day(row.try_get("expires_day")?),
    })
}

#[async_trait]
impl AttachmentIndex for SqliteStore {
    async fn create_attachment(&self, new: &NewAttachment, quota: u64) -> Result<(), StoreError> {
        let size = to_i64(new.size)?;
        // One statement, so the quota check and the insert are atomic.
        let inserted = sqlx::query(
            "INSERT INTO attachments (id, account_id, size, expires_day)
             SELECT ?1, ?2, ?3, ?4
             WHERE (SELECT coalesce(sum(size), 0) FROM attachments WHERE account_id = ?2) + ?3 <= ?5",
        )
        .bind(new.id.as_str())
        .bind(new.account.as_str())
        .bind(size)
        .bind(&new.expires.0)
        .bind(to_i64(quota)?)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::QuotaExceeded);
        }
        Ok(())
    }

    async fn attachment(&self, id: &AttachmentId) -> Result<Option<AttachmentRecord>, StoreError> {
        sqlx::query("SELECT * FROM attachments WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(record_from_row)
            .transpose()
    }

    async fn set_received(
        &self,
        id: &AttachmentId,
        received: u64,
        complete: bool,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE attachments SET received = ?, complete = ? WHERE id = ?")
            .bind(to_i64(received)?)
            .bind(complete)
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn attachment_usage(&self, account: &AccountId) -> Result<AttachmentUsage, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM attachments
             WHERE account_id = ?",
        )
        .bind(account.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(AttachmentUsage {
            count: to_u64(row.try_get("n")?, "count")?,
            bytes: to_u64(row.try_get("bytes")?, "bytes")?,
        })
    }

    async fn purge_expired_attachments(
        &self,
        today: &Day,
    ) -> Result<Vec<AttachmentId>, StoreError> {
        let rows = sqlx::query("DELETE FROM attachments WHERE expires_day < ? RETURNING id")
            .bind(&today.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                AttachmentId::parse(row.try_get("id")?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }
}
