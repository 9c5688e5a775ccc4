//! The device list last seen for each account: device ids with their registration ids, sealed.

use std::collections::BTreeMap;

use sqlx::SqliteConnection;

use super::Store;
use super::fields::{FieldReader, FieldWriter};
use crate::error::StoreError;

const TABLE: &str = "device_lists";

/// Device id to registration id.
pub(crate) type DeviceList = BTreeMap<u32, u32>;

/// More devices than any relay allows: a longer stored list is corrupt.
const MAX_STORED: u32 = 1024;

impl Store {
    /// The device list last seen for an account, if any.
    pub(crate) async fn device_list(
        &self,
        conn: &mut SqliteConnection,
        account_id: &str,
    ) -> Result<Option<DeviceList>, StoreError> {
        let sealed: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT sealed FROM device_lists WHERE account_id = ?")
                .bind(account_id)
                .fetch_optional(conn)
                .await?;
        let Some((sealed,)) = sealed else {
            return Ok(None);
        };
        let plain = self.key.open(TABLE, account_id, &sealed)?;
        let mut r = FieldReader::new(&plain);
        let count = r.u32()?;
        if count > MAX_STORED {
            return Err(StoreError::Corrupt("device list length"));
        }
        let mut list = DeviceList::new();
        for _ in 0..count {
            let device = r.u32()?;
            list.insert(device, r.u32()?);
        }
        Ok(Some(list))
    }

    /// Saves an account's device list (in the caller's transaction).
    pub(crate) async fn save_device_list(
        &self,
        conn: &mut SqliteConnection,
        account_id: &str,
        list: &DeviceList,
    ) -> Result<(), StoreError> {
        let count = u32::try_from(list.len()).map_err(|_| StoreError::Corrupt("device list"))?;
        let mut w = FieldWriter::default().u32(count);
        for (device, registration) in list {
            w = w.u32(*device).u32(*registration);
        }
        let sealed = self.key.seal(TABLE, account_id, &w.finish())?;
        sqlx::query(
            "INSERT INTO device_lists (account_id, sealed) VALUES (?, ?) \
             ON CONFLICT (account_id) DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(account_id)
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(())
    }
}
