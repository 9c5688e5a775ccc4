//! The profile store: one SQLite database (WAL, `synchronous = FULL`) whose sensitive columns
//! are sealed under a data key (see [`seal`]); the data key is unlocked as [`Unlock`] says.
//!
//! Functions that change protocol state take a `&mut SqliteConnection` so the caller can run
//! them inside the one transaction that also stores their effect.

mod account;
mod contacts;
mod conversations;
mod details;
pub(crate) mod device_lists;
pub(crate) mod fields;
mod groups;
mod history;
mod outbox;
mod pre_keys;
pub mod seal;
pub(crate) mod sealed_sender;
mod sessions;
pub mod unlock;
mod uploads;

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

pub use account::AccountRecord;
pub use contacts::Contact;
pub use details::{MessageDetails, StoredAttachment, StoredReaction};
pub(crate) use groups::StoredGroup;
pub(crate) use history::NewMessage;
pub use history::{Direction, StoredMessage};
pub(crate) use outbox::OutboxEntry;
use seal::DataKey;
use unlock::Unlock;
pub(crate) use uploads::PendingUpload;

use crate::error::StoreError;

/// The database file inside a profile directory.
pub const DATABASE_FILE: &str = "profile.db";

/// The lock file that keeps a profile to one process at a time.
pub const LOCK_FILE: &str = "profile.lock";

/// An open, unlocked profile store.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    key: DataKey,
    /// The profile directory (attachment downloads in progress live under it).
    dir: Arc<PathBuf>,
    /// Held while any clone of the store lives: two processes working on the same sessions
    /// could each advance a ratchet from the same state.
    _lock: Arc<std::fs::File>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store(..)")
    }
}

impl Store {
    /// Opens (or creates) the store in `dir` and unlocks it.
    ///
    /// # Errors
    /// [`StoreError::InUse`] while another process (or another open store in this one) has
    /// the profile, [`StoreError::WrongPassphrase`], [`StoreError::WrongKeyFile`],
    /// [`StoreError::KeyFileTooOpen`], or a database or migration failure.
    pub async fn open(dir: &Path, unlock: &Unlock) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        let lock = lock_profile(dir)?;
        let url = format!("sqlite://{}", dir.join(DATABASE_FILE).display());
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Deleted rows (disappearing messages) are overwritten, not left in free pages.
            .pragma("secure_delete", "ON");
        // One connection: every write is serialised, and a transaction never meets SQLITE_BUSY.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let mut conn = pool.acquire().await?;
        let key = unlock::data_key(&mut conn, unlock).await?;
        drop(conn);
        Ok(Self {
            pool,
            key,
            dir: Arc::new(dir.to_owned()),
            _lock: Arc::new(lock),
        })
    }

    /// The profile directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts a transaction.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Closes the database cleanly (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Takes the profile's exclusive lock, without waiting.
fn lock_profile(dir: &Path) -> Result<std::fs::File, StoreError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt as _;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
