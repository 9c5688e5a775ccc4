//! The embedded SQLite backend: one database file under the data directory.
//!
//! WAL mode with `synchronous = FULL`: every commit fsyncs the WAL, so a send acknowledged to
//! its sender survives a power loss, not only a crash of the process. Mailbox writes go through
//! one writer task that commits many requests in one transaction (group commit), which keeps
//! that durability at a fraction of an fsync per message. Readers use a small pool.
//!
//! The writer never checkpoints the WAL itself (`wal_autocheckpoint = 0` on its connection):
//! a checkpoint fsyncs the main file, and doing it inside a commit would stall every send
//! waiting on that commit. A background task runs passive checkpoints instead, and the
//! writer finishes one between commits when the log has grown too large (`wal`).

mod accounts;
mod attachments;
mod batch;
mod linking;
mod mailbox;
mod multi;
mod prekeys;
mod sealed;
mod wal;
mod writer;

use crate::store::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqlitePool};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "sotto.db";

/// Migrations embedded at build time from `migrations/sqlite/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: writer::WriterHandle,
    path: PathBuf,
    checkpoints: std::sync::Arc<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and applies pending migrations.
    ///
    /// Fails if the directory cannot be created or the database cannot be opened or migrated.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Database(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
        let mut writer_conn = options
            .clone()
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", wal::journal_size_limit())
            .connect()
            .await?;
        sqlx::query("PRAGMA wal_autocheckpoint = 0")
            .execute(&mut writer_conn)
            .await?;
        let writer = writer::WriterHandle::start(writer_conn, wal::WalBound::new(&path))?;
        let checkpoints = std::sync::Arc::new(tokio::spawn(checkpoint_loop(pool.clone())));
        Ok(Self {
            pool,
            writer,
            path,
            checkpoints,
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the pool and the writer, waiting for pending writes.
    pub async fn close(&self) {
        self.checkpoints.abort();
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// How often the WAL is checkpointed into the main database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

async fn checkpoint_loop(pool: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    loop {
        tick.tick().await;
        // PASSIVE never blocks the writer; whatever it cannot copy now it copies next time.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// Reads a `u32` column stored as INTEGER, reporting out-of-range values as corruption.
fn to_u32(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} out of range: {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_passes_the_conformance_suite() {
        conformance::run(|| async {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path()).await.unwrap();
            conformance::Fixture::new(std::sync::Arc::new(store), Box::new(dir))
        })
        .await;
    }

    #[tokio::test]
    async fn sqlite_passes_the_attachment_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        conformance::attachments(&store).await;
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_migrations_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        conformance::register(&store, "keeper").await;
        store.close().await;
        let again = SqliteStore::open(dir.path()).await.unwrap();
        let name = crate::domain::Username::parse("keeper").unwrap();
        use crate::store::AccountStore;
        assert!(again.account_by_username(&name).await.unwrap().is_some());
    }
}
