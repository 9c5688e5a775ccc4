//! How a profile's data key is unlocked: a passphrase stretched with Argon2id, or a key file
//! readable by its owner only (for unattended use).

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngExt as _;
use sqlx::SqliteConnection;
use zeroize::Zeroizing;

use super::seal::{DataKey, OpenError, open_with, seal_with};
use crate::error::StoreError;

const WRAP_AD: &[u8] = b"sotto-client/v1/store_key";

/// What unlocks a profile.
pub enum Unlock {
    /// A passphrase (the CLI asks for it or reads `SOTTO_PASSPHRASE`).
    Passphrase(Zeroizing<String>),
    /// A file holding a random key; it must have mode 0600. Created when the profile is new.
    KeyFile(PathBuf),
}

impl std::fmt::Debug for Unlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Passphrase(_) => f.write_str("Unlock::Passphrase(..)"),
            Self::KeyFile(path) => write!(f, "Unlock::KeyFile({})", path.display()),
        }
    }
}

impl Unlock {
    /// A passphrase.
    pub fn passphrase(text: impl Into<String>) -> Self {
        Self::Passphrase(Zeroizing::new(text.into()))
    }
}

/// Argon2id cost, stored with the salt so it can be raised later.
struct Cost {
    m: u32,
    t: u32,
    p: u32,
}

const DEFAULT_COST: Cost = Cost {
    m: Params::DEFAULT_M_COST,
    t: Params::DEFAULT_T_COST,
    p: Params::DEFAULT_P_COST,
};

/// `method, salt, m_cost, t_cost, p_cost, wrapped_key`.
type StoreKeyRow = (
    String,
    Option<Vec<u8>>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Vec<u8>,
);

/// Unwraps the profile's data key, or makes and wraps a new one for a new profile.
pub(super) async fn data_key(
    conn: &mut SqliteConnection,
    unlock: &Unlock,
) -> Result<DataKey, StoreError> {
    let row: Option<StoreKeyRow> = sqlx::query_as(
        "SELECT method, salt, m_cost, t_cost, p_cost, wrapped_key FROM store_key WHERE id = 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => create(conn, unlock).await,
        Some((method, salt, m, t, p, wrapped)) => match (method.as_str(), unlock) {
            ("passphrase", Unlock::Passphrase(pass)) => {
                let salt = salt.ok_or(StoreError::Corrupt("passphrase salt"))?;
                let cost = Cost {
                    m: to_u32(m)?,
                    t: to_u32(t)?,
                    p: to_u32(p)?,
                };
                let kek = stretch(pass, &salt, &cost)?;
                unwrap_key(&kek, &wrapped, StoreError::WrongPassphrase)
            }
            ("key_file", Unlock::KeyFile(path)) => {
                let kek = read_key_file(path)?;
                unwrap_key(&kek, &wrapped, StoreError::WrongKeyFile)
            }
            ("passphrase", _) => Err(StoreError::WrongUnlockMethod {
                expected: "a passphrase",
            }),
            _ => Err(StoreError::WrongUnlockMethod {
                expected: "a key file",
            }),
        },
    }
}

fn to_u32(value: Option<i64>) -> Result<u32, StoreError> {
    value
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(StoreError::Corrupt("Argon2 cost"))
}

fn unwrap_key(kek: &[u8; 32], wrapped: &[u8], wrong: StoreError) -> Result<DataKey, StoreError> {
    let raw = open_with(kek, WRAP_AD, wrapped).map_err(|e| match e {
        OpenError::UnknownVersion(v) => StoreError::UnknownVersion(v),
        OpenError::NotAuthentic => wrong,
    })?;
    DataKey::from_bytes(&raw)
}

async fn create(conn: &mut SqliteConnection, unlock: &Unlock) -> Result<DataKey, StoreError> {
    let key = DataKey::generate();
    match unlock {
        Unlock::Passphrase(pass) => {
            let mut salt = [0u8; 16];
            rand::rng().fill(&mut salt[..]);
            let kek = stretch(pass, &salt, &DEFAULT_COST)?;
            let wrapped = seal_with(&kek, WRAP_AD, key.as_bytes())?;
            sqlx::query(
                "INSERT INTO store_key (id, method, salt, m_cost, t_cost, p_cost, wrapped_key) \
                 VALUES (1, 'passphrase', ?, ?, ?, ?, ?)",
            )
            .bind(&salt[..])
            .bind(i64::from(DEFAULT_COST.m))
            .bind(i64::from(DEFAULT_COST.t))
            .bind(i64::from(DEFAULT_COST.p))
            .bind(wrapped)
            .execute(&mut *conn)
            .await?;
        }
        Unlock::KeyFile(path) => {
            let kek = create_key_file(path)?;
            let wrapped = seal_with(&kek, WRAP_AD, key.as_bytes())?;
            sqlx::query(
                "INSERT INTO store_key (id, method, wrapped_key) VALUES (1, 'key_file', ?)",
            )
            .bind(wrapped)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(key)
}

fn stretch(pass: &str, salt: &[u8], cost: &Cost) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let params = Params::new(cost.m, cost.t, cost.p, Some(32))
        .map_err(|e| StoreError::Kdf(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pass.as_bytes(), salt, &mut out[..])
        .map_err(|e| StoreError::Kdf(e.to_string()))?;
    Ok(out)
}

fn key_file_error(path: &Path, reason: impl ToString) -> StoreError {
    StoreError::KeyFile {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Reads a key file after checking that only its owner may read or write it.
fn read_key_file(path: &Path) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let meta = std::fs::metadata(path).map_err(|e| key_file_error(path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::KeyFileTooOpen {
            path: path.display().to_string(),
            mode,
        });
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| key_file_error(path, e))?);
    let array: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| key_file_error(path, "not 32 bytes"))?;
    Ok(Zeroizing::new(array))
}

/// Makes a new key file with mode 0600; an existing one is used as it is (after the check).
fn create_key_file(path: &Path) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    if path.exists() {
        return read_key_file(path);
    }
    let mut key = Zeroizing::new([0u8; 32]);
    rand::rng().fill(&mut key[..]);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| key_file_error(path, e))?;
    file.write_all(&key[..])
        .and_then(|()| file.sync_all())
        .map_err(|e| key_file_error(path, e))?;
    Ok(key)
}
