//! Attachment records in PostgreSQL. Rare, small writes: they go straight to the pool, not
//! through the mailbox's group-commit writer.

use super::PostgresStore;
use crate::domain::{AccountId, AttachmentId};
use crate::store::attachments::{to_i64, to_u64};
use crate::store::{
    AttachmentIndex, AttachmentRecord, AttachmentUsage, Day, NewAttachment, StoreError,
};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

fn record_from_row(row: &PgRow) -> Result<AttachmentRecord, StoreError> {
    let corrupt = |e: crate::domain::InvalidValue| StoreError::Corrupt(e.to_string());
    Ok(AttachmentRecord {
        id: AttachmentId::parse(row.try_get("id")?).map_err(corrupt)?,
        account: AccountId::parse(row.try_get("account_id")?).map_err(corrupt)?,
        size: to_u64(row.try_get("size")?, "size")?,
        received: to_u64(row.try_get("received")?, "received")?,
        complete: row.try_get("complete")?,
        expires: Day(row.try_get("expires_day")?),
    })
}

#[async_trait]
impl AttachmentIndex for PostgresStore {
    async fn create_attachment(&self, new: &NewAttachment, quota: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Uploads of one account (on any node) queue here, so the quota check holds.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sotto-attachments:' || $1))")
            .bind(new.account.as_str())
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO attachments (id, account_id, size, expires_day)
             SELECT $1, $2, $3, $4
             WHERE (SELECT coalesce(sum(size), 0) FROM attachments WHERE account_id = $2) + $3 <= $5",
        )
        .bind(new.id.as_str())
        .bind(new.account.as_str())
        .bind(to_i64(new.size)?)
        .bind(&new.expires.0)
        .bind(to_i64(quota)?)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::QuotaExceeded);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn attachment(&self, id: &AttachmentId) -> Result<Option<AttachmentRecord>, StoreError> {
        sqlx::query("SELECT * FROM attachments WHERE id = $1")
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
        let updated =
            sqlx::query("UPDATE attachments SET received = $1, complete = $2 WHERE id = $3")
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
            "SELECT count(*) AS n, coalesce(sum(size), 0)::BIGINT AS bytes FROM attachments
             WHERE account_id = $1",
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
        let rows = sqlx::query("DELETE FROM attachments WHERE expires_day < $1 RETURNING id")
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
