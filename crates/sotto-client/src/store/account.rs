//! This device's account row: relay, credentials and identity, sealed.

use sotto_core::IdentityKeyPair;
use sotto_core::identity::IDENTITY_SECRET_LEN;
use sqlx::SqliteConnection;
use zeroize::Zeroizing;

use super::fields::{FieldReader, FieldWriter};
use super::{Store, now_ms};
use crate::error::StoreError;

const TABLE: &str = "account";
const ROW: &str = "1";

/// Who this device is: its relay, account, credentials and the account's identity.
#[derive(Clone)]
pub struct AccountRecord {
    /// The relay's base URL.
    pub server_url: String,
    /// The relay's CA certificate(s) in PEM, pinned at registration (none: the system roots).
    pub server_ca: Option<Vec<u8>>,
    /// The account's username.
    pub username: String,
    /// The relay's account id.
    pub account_id: String,
    /// This device's id.
    pub device_id: u32,
    /// This device's registration id.
    pub registration_id: u32,
    /// The secret that authenticates this device to the relay.
    pub auth_secret: Zeroizing<[u8; 32]>,
    /// The account's identity key pair.
    pub identity: IdentityKeyPair,
}

impl std::fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRecord")
            .field("server_url", &self.server_url)
            .field("username", &self.username)
            .field("account_id", &self.account_id)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl AccountRecord {
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        FieldWriter::default()
            .bytes(self.server_url.as_bytes())
            .bytes(self.username.as_bytes())
            .bytes(self.account_id.as_bytes())
            .u32(self.device_id)
            .u32(self.registration_id)
            .bytes(&self.auth_secret[..])
            .bytes(&self.identity.to_secret_bytes()[..])
            .bytes(self.server_ca.as_deref().unwrap_or_default())
            .finish()
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut r = FieldReader::new(bytes);
        let server_url = r.string()?;
        let username = r.string()?;
        let account_id = r.string()?;
        let device_id = r.u32()?;
        let registration_id = r.u32()?;
        let auth_secret = Zeroizing::new(r.array::<32>()?);
        let identity_secret = Zeroizing::new(r.array::<IDENTITY_SECRET_LEN>()?);
        let server_ca = Some(r.bytes()?.to_vec()).filter(|ca| !ca.is_empty());
        Ok(Self {
            server_url,
            server_ca,
            username,
            account_id,
            device_id,
            registration_id,
            auth_secret,
            identity: IdentityKeyPair::from_secret_bytes(&identity_secret),
        })
    }
}

impl Store {
    /// The account of this profile, if registered.
    ///
    /// # Errors
    /// A database failure or a row that does not decrypt.
    pub async fn account(&self) -> Result<Option<AccountRecord>, StoreError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT sealed FROM account WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(sealed,)| AccountRecord::decode(&self.key.open(TABLE, ROW, &sealed)?))
            .transpose()
    }

    /// Saves the account (once, at registration).
    pub(crate) async fn save_account(
        &self,
        conn: &mut SqliteConnection,
        account: &AccountRecord,
        next_pre_key_id: u32,
    ) -> Result<(), StoreError> {
        let sealed = self.key.seal(TABLE, ROW, &account.encode())?;
        sqlx::query(
            "INSERT INTO account (id, sealed, next_pre_key_id, signed_rotated_at) VALUES (1, ?, ?, ?)",
        )
        .bind(sealed)
        .bind(i64::from(next_pre_key_id))
        .bind(now_ms())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Reserves `count` fresh prekey ids.
    pub(crate) async fn reserve_pre_key_ids(
        &self,
        conn: &mut SqliteConnection,
        count: u32,
    ) -> Result<u32, StoreError> {
        let (next,): (i64,) = sqlx::query_as("SELECT next_pre_key_id FROM account WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
        let first = u32::try_from(next).map_err(|_| StoreError::Corrupt("prekey id"))?;
        // Ids wrap around long before they could collide with keys still held.
        let after = first.checked_add(count).unwrap_or(1);
        sqlx::query("UPDATE account SET next_pre_key_id = ? WHERE id = 1")
            .bind(i64::from(after))
            .execute(conn)
            .await?;
        Ok(first)
    }

    /// When the signed prekey was last rotated (ms since the epoch).
    pub(crate) async fn signed_rotated_at(&self) -> Result<i64, StoreError> {
        let (at,): (i64,) = sqlx::query_as("SELECT signed_rotated_at FROM account WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(at)
    }

    /// Records a signed prekey rotation.
    pub(crate) async fn set_signed_rotated_at(
        &self,
        conn: &mut SqliteConnection,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE account SET signed_rotated_at = ? WHERE id = 1")
            .bind(at)
            .execute(conn)
            .await?;
        Ok(())
    }
}
