//! Groups: the verified state in force, our own Sender Key, the Sender Key records of the other
//! member devices, and which devices already hold our current key. Every secret is sealed.

use sotto_core::group::{OwnSenderKey, SenderKeyRecord, VerifiedGroupState};
use sqlx::SqliteConnection;

use super::{Store, now_ms};
use crate::error::StoreError;

const GROUPS: &str = "groups";
const OWN_KEYS: &str = "own_sender_keys";
const RECORDS: &str = "sender_key_records";

/// A group as stored: its verified state and whether we are still in it.
#[derive(Clone, Debug)]
pub(crate) struct StoredGroup {
    /// The group id in hex.
    pub(crate) id: String,
    /// The admin-signed state in force.
    pub(crate) state: VerifiedGroupState,
    /// We left or were removed.
    pub(crate) left: bool,
}

fn record_row(group: &str, account: &str, device: u32) -> String {
    format!("{group}/{account}.{device}")
}

impl Store {
    /// Every group, newest change first.
    pub(crate) async fn groups(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<Vec<StoredGroup>, StoreError> {
        let rows: Vec<(String, bool, Vec<u8>)> = sqlx::query_as(
            "SELECT group_id, left_group, sealed FROM groups ORDER BY updated_at DESC",
        )
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|(id, left, sealed)| self.open_group(id, left, &sealed))
            .collect()
    }

    /// One group by its hex id.
    pub(crate) async fn group(
        &self,
        conn: &mut SqliteConnection,
        id: &str,
    ) -> Result<Option<StoredGroup>, StoreError> {
        let row: Option<(bool, Vec<u8>)> =
            sqlx::query_as("SELECT left_group, sealed FROM groups WHERE group_id = ?")
                .bind(id)
                .fetch_optional(conn)
                .await?;
        row.map(|(left, sealed)| self.open_group(id.to_owned(), left, &sealed))
            .transpose()
    }

    fn open_group(&self, id: String, left: bool, sealed: &[u8]) -> Result<StoredGroup, StoreError> {
        let plain = self.key.open(GROUPS, &id, sealed)?;
        let state = VerifiedGroupState::from_bytes(&plain)
            .map_err(|_| StoreError::Corrupt("stored group state"))?;
        Ok(StoredGroup { id, state, left })
    }

    /// Saves a group's state (in the caller's transaction).
    pub(crate) async fn save_group(
        &self,
        conn: &mut SqliteConnection,
        group: &StoredGroup,
    ) -> Result<(), StoreError> {
        let sealed = self.key.seal(GROUPS, &group.id, &group.state.to_bytes())?;
        sqlx::query(
            "INSERT INTO groups (group_id, left_group, updated_at, sealed) VALUES (?, ?, ?, ?) \
             ON CONFLICT (group_id) DO UPDATE SET left_group = excluded.left_group, \
             updated_at = excluded.updated_at, sealed = excluded.sealed",
        )
        .bind(&group.id)
        .bind(group.left)
        .bind(now_ms())
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Our own Sender Key in a group, if we have one.
    pub(crate) async fn own_sender_key(
        &self,
        conn: &mut SqliteConnection,
        group: &str,
    ) -> Result<Option<OwnSenderKey>, StoreError> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT sealed FROM own_sender_keys WHERE group_id = ?")
                .bind(group)
                .fetch_optional(conn)
                .await?;
        row.map(|(sealed,)| {
            let plain = self.key.open(OWN_KEYS, group, &sealed)?;
            Ok(OwnSenderKey::from_bytes(&plain)?)
        })
        .transpose()
    }

    /// Saves our own Sender Key (after every message: its chain stepped).
    pub(crate) async fn save_own_sender_key(
        &self,
        conn: &mut SqliteConnection,
        group: &str,
        key: &OwnSenderKey,
    ) -> Result<(), StoreError> {
        let sealed = self.key.seal(OWN_KEYS, group, &key.to_bytes())?;
        sqlx::query(
            "INSERT INTO own_sender_keys (group_id, sealed) VALUES (?, ?) \
             ON CONFLICT (group_id) DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(group)
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Forgets our own Sender Key and who holds it: the next message starts a new chain, sent
    /// only to the members of the state then in force.
    pub(crate) async fn rotate_own_sender_key(
        &self,
        conn: &mut SqliteConnection,
        group: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM own_sender_keys WHERE group_id = ?")
            .bind(group)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM sender_key_shared WHERE group_id = ?")
            .bind(group)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The Sender Key record of one member device, if we have one.
    pub(crate) async fn sender_key_record(
        &self,
        conn: &mut SqliteConnection,
        group: &str,
        account: &str,
        device: u32,
    ) -> Result<Option<SenderKeyRecord>, StoreError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as(
            "SELECT sealed FROM sender_key_records \
             WHERE group_id = ? AND account_id = ? AND device_id = ?",
        )
        .bind(group)
        .bind(account)
        .bind(i64::from(device))
        .fetch_optional(conn)
        .await?;
        row.map(|(sealed,)| {
            let plain = self
                .key
                .open(RECORDS, &record_row(group, account, device), &sealed)?;
            Ok(SenderKeyRecord::from_bytes(&plain)?)
        })
        .transpose()
    }

    /// Saves the Sender Key record of one member device.
    pub(crate) async fn save_sender_key_record(
        &self,
        conn: &mut SqliteConnection,
        group: &str,
        account: &str,
        device: u32,
        record: &SenderKeyRecord,
    ) -> Result<(), StoreError> {
        let row = record_row(group, account, device);
        let sealed = self.key.seal(RECORDS, &row, &record.to_bytes())?;
        sqlx::query(
            "INSERT INTO sender_key_records (group_id, account_id, device_id, sealed) \
             VALUES (?, ?, ?, ?) ON CONFLICT (group_id, account_id, device_id) \
             DO UPDATE SET sealed = excluded.sealed",
        )
        .bind(group)
        .bind(account)
        .bind(i64::from(device))
        .bind(sealed)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Drops everything held of an account in a group (it left): its Sender Key records, and
    /// the marks that it holds ours.
    pub(crate) async fn forget_group_member(
        &self,
        conn: &mut SqliteConnection,
        group: &str,
        account: &str,
    ) -> Result<(), StoreError> {
        for query in [
            "DELETE FROM sender_key_records WHERE group_id = ? AND account_id = ?",
            "DELETE FROM sender_key_shared WHERE group_id = ? AND account_id = ?",
        ] {
            sqlx::query(query)
                .bind(group)
                .bind(account)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The devices of `account` that hold our Sender Key chain `chain_id` in `group`.
    pub(crate) async fn sender_key_holders(
        &self,
        conn: &mut SqliteConnection,
        group: &str,
        account: &str,
        chain_id: u32,
    ) -> Result<Vec<u32>, StoreError> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT device_id FROM sender_key_shared \
             WHERE group_id = ? AND account_id = ? AND chain_id = ?",
        )
        .bind(group)
        .bind(account)
        .bind(i64::from(chain_id))
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|(d,)| u32::try_from(d).map_err(|_| StoreError::Corrupt("device id")))
            .collect()
    }

    /// Notes that a member device now holds our chain `chain_id`.
    pub(crate) async fn mark_sender_key_shared(
        &self,
        conn: &mut SqliteConnection,
        group: &str,
        account: &str,
        device: u32,
        chain_id: u32,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sender_key_shared (group_id, account_id, device_id, chain_id) \
             VALUES (?, ?, ?, ?) ON CONFLICT (group_id, account_id, device_id) \
             DO UPDATE SET chain_id = excluded.chain_id",
        )
        .bind(group)
        .bind(account)
        .bind(i64::from(device))
        .bind(i64::from(chain_id))
        .execute(conn)
        .await?;
        Ok(())
    }
}
