//! Session records per remote (account, device), sealed.

use sotto_core::SessionRecord;
use sqlx::SqliteConnection;

use super::Store;
use crate::error::StoreError;

const TABLE: &str = "sessions";

fn row(account_id: &str, device_id: u32) -> String {
    format!("{account_id}.{device_id}")
}

impl Store {
    /// The session record with one remote device, if any.
    pub(crate) async fn session(
        &self,
        conn: &mut SqliteConnection,
        account_id: &str,
        device_id: u32,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let sealed: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT sealed FROM sessions WHERE account_id = ? AND device_id = ?")
                .bind(account_id)
                .bind(i64::from(device_id))
                .fetch_optional(conn)
                .await?;
        sealed
            .map(|(sealed,)| {
                let plain = self.key.open(TABLE, &row(account_id, device_id), &sealed)?;
                Ok(SessionRecord::from_bytes(&plain)?)
            })
            .transpose()
    }

    /// Every session record with the devices of one account, by device id.
    pub(crate) async fn sessions_of(
        &self,
        conn: &mut SqliteConnection,
        account_id: &str,
    ) -> Result<Vec<(u32, SessionRecord)>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT device_id, sealed FROM sessions WHERE account_id = ? ORDER BY device_id",
        )
        .bind(account_id)
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|(device, sealed)| {
                let device = u32::try_from(device).map_err(|_| StoreError::Corrupt("device id"))?;
                let plain = self.key.open(TABLE, &row(account_id, device), &sealed)?;
                Ok((device, SessionRecord::from_bytes(&plain)?))
            })
            .collect()
    }

    /// Saves a session record (in the caller's transaction).
    pub(crate) async fn save_session(
        &self,
        conn: &mut SqliteConnection,
        account_id: &str,
        device_id: u32,
        record: &SessionRecord,
    ) -> Result<(), StoreError> {
        let sealed = self
            .key
            .seal(TABLE, &row(account_id, device_id), &record.to_bytes())?;
        sqlx::query(
            "INSERT INTO sessions (account_id, device_id, sealed) VALUES (?, ?, ?) \
             ON CONFLICT (account_id, device_id) DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(account_id)
        .bind(i64::from(device_id))
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(())
    }
}
