//! Accounts and devices in PostgreSQL.

use super::{PostgresStore, device_column, device_from_column, to_u32};
use crate::domain::{AccountId, DeviceAddress, DeviceId, SecretHash, Username};
use crate::store::{
    Account, AccountStore, Day, Device, DeviceCredentials, NewAccount, NewDeviceRecord, StoreError,
};
use async_trait::async_trait;
use sqlx::{PgConnection, Row, postgres::PgRow};

const ACCOUNT_COLUMNS: &str = "id, username, identity_key, created_day, disabled";

fn account_from_row(row: &PgRow) -> Result<Account, StoreError> {
    let id: String = row.try_get("id")?;
    let username: String = row.try_get("username")?;
    Ok(Account {
        id: AccountId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        username: Username::parse(&username).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        identity_key: row.try_get("identity_key")?,
        created: Day(row.try_get("created_day")?),
        disabled: row.try_get("disabled")?,
    })
}

/// Inserts a device row and its initial prekeys.
async fn insert_device(
    conn: &mut PgConnection,
    account: &AccountId,
    device: DeviceId,
    record: &NewDeviceRecord,
    today: &Day,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO devices (account_id, device_id, registration_id, secret_hash, created_day, last_seen_day)
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(account.as_str())
    .bind(device_column(device))
    .bind(i64::from(record.registration_id))
    .bind(record.secret_hash.as_bytes().as_slice())
    .bind(&today.0)
    .execute(&mut *conn)
    .await?;
    let address = DeviceAddress {
        account: account.clone(),
        device,
    };
    super::prekeys::store_in(conn, &address, &record.prekeys).await
}

/// Takes one use of a registration token; `InvalidToken` if unknown or used up.
async fn consume_token(conn: &mut PgConnection, hash: &[u8; 32]) -> Result<(), StoreError> {
    let used = sqlx::query(
        "UPDATE registration_tokens SET uses_left = uses_left - 1 WHERE token_hash = $1 AND uses_left > 0",
    )
    .bind(hash.as_slice())
    .execute(&mut *conn)
    .await?;
    if used.rows_affected() != 1 {
        return Err(StoreError::InvalidToken);
    }
    // A used-up token is forgotten rather than kept.
    sqlx::query("DELETE FROM registration_tokens WHERE token_hash = $1 AND uses_left = 0")
        .bind(hash.as_slice())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Adds a device with the next free id inside the caller's transaction.
pub(super) async fn add_device_in(
    conn: &mut PgConnection,
    account: &AccountId,
    device: &NewDeviceRecord,
    max_devices: u32,
    today: &Day,
) -> Result<DeviceId, StoreError> {
    // Locking the account row serialises device additions across nodes.
    let exists = sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE")
        .bind(account.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound);
    }
    let row = sqlx::query(
        "SELECT count(*) AS n, coalesce(max(device_id), 0)::BIGINT AS top FROM devices WHERE account_id = $1",
    )
    .bind(account.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let count = to_u32(row.try_get("n")?, "device count")?;
    if count == 0 {
        return Err(StoreError::NotFound);
    }
    if count >= max_devices {
        return Err(StoreError::TooManyDevices(count));
    }
    let top = to_u32(row.try_get("top")?, "device id")?;
    let id = DeviceId::new(top + 1).map_err(|_| StoreError::TooManyDevices(count))?;
    insert_device(conn, account, id, device, today).await?;
    Ok(id)
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn create_account(&self, account: NewAccount) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(hash) = &account.token_hash {
            consume_token(&mut tx, hash).await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO accounts (id, username, identity_key, created_day) VALUES ($1, $2, $3, $4)",
        )
        .bind(account.id.as_str())
        .bind(account.username.as_str())
        .bind(&account.identity_key)
        .bind(&account.today.0)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(StoreError::UsernameTaken),
            other => other?,
        };
        insert_device(
            &mut tx,
            &account.id,
            DeviceId::FIRST,
            &account.device,
            &account.today,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_device(
        &self,
        account: &AccountId,
        device: NewDeviceRecord,
        max_devices: u32,
        today: Day,
    ) -> Result<DeviceId, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = add_device_in(&mut tx, account, &device, max_devices, &today).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn account_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(username.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn devices(&self, id: &AccountId) -> Result<Vec<Device>, StoreError> {
        let rows = sqlx::query(
            "SELECT device_id, registration_id, created_day, last_seen_day FROM devices
             WHERE account_id = $1 ORDER BY device_id",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Device {
                    id: device_from_column(row.try_get("device_id")?)?,
                    registration_id: to_u32(row.try_get("registration_id")?, "registration id")?,
                    created: Day(row.try_get("created_day")?),
                    last_seen: Day(row.try_get("last_seen_day")?),
                })
            })
            .collect()
    }

    async fn credentials(
        &self,
        device: &DeviceAddress,
    ) -> Result<Option<DeviceCredentials>, StoreError> {
        let row = sqlx::query(
            "SELECT d.secret_hash, d.last_seen_day, a.disabled FROM devices d
             JOIN accounts a ON a.id = d.account_id WHERE d.account_id = $1 AND d.device_id = $2",
        )
        .bind(device.account.as_str())
        .bind(device_column(device.device))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let hash: Vec<u8> = row.try_get("secret_hash")?;
        Ok(Some(DeviceCredentials {
            secret_hash: SecretHash::from_stored(&hash)
                .ok_or_else(|| StoreError::Corrupt("secret hash length".into()))?,
            disabled: row.try_get("disabled")?,
            last_seen: Day(row.try_get("last_seen_day")?),
        }))
    }

    async fn touch_device(&self, device: &DeviceAddress, today: &Day) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE devices SET last_seen_day = $1 WHERE account_id = $2 AND device_id = $3",
        )
        .bind(&today.0)
        .bind(device.account.as_str())
        .bind(device_column(device.device))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_disabled(&self, username: &Username, disabled: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE accounts SET disabled = $1 WHERE username = $2")
            .bind(disabled)
            .bind(username.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn add_registration_token(
        &self,
        hash: [u8; 32],
        uses: u32,
        today: Day,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO registration_tokens (token_hash, uses_left, created_day) VALUES ($1, $2, $3)",
        )
        .bind(hash.as_slice())
        .bind(i64::from(uses))
        .bind(&today.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
