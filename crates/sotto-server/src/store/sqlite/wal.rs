//! Keeps the write-ahead log from growing without bound under sustained load.
//!
//! SQLite starts the WAL again from its first frame only when a write transaction begins
//! after a checkpoint has copied every frame into the database. The background checkpoints
//! (passive, on a pool connection) copy most frames, but while the writer commits without a
//! pause they never catch up with the end of the log, so the log only grows: 3.9 GB after
//! 600,000 envelopes in `sotto bench throughput`, with every new frame written past the end
//! of the file, where the kernel must allocate and zero its pages.
//!
//! So the writer, between two commits, checks the log's size; past [`WAL_LIMIT`] it runs a
//! passive checkpoint itself. No frame can be added meanwhile, so that checkpoint copies the
//! few frames the background ones left, and the next transaction restarts the log. With
//! `journal_size_limit` the file is then cut back to the limit and reused in place.

use sqlx::SqliteConnection;
use std::path::{Path, PathBuf};

/// Size of the log past which the writer checkpoints; also its size after a restart.
pub(super) const WAL_LIMIT: u64 = 64 * 1024 * 1024;

/// The log of one database, as the writer sees it.
#[derive(Debug)]
pub(super) struct WalBound {
    log: PathBuf,
}

impl WalBound {
    /// The bound for the database file at `database`.
    pub(super) fn new(database: &Path) -> Self {
        let mut log = database.as_os_str().to_owned();
        log.push("-wal");
        Self { log: log.into() }
    }

    /// Checkpoints on the writer's own connection if the log has outgrown the limit; true
    /// if it did. Call it between transactions. A checkpoint that fails is logged and
    /// retried after the next commit: the log is then only larger for a while.
    pub(super) async fn enforce(&self, conn: &mut SqliteConnection) -> bool {
        let size = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        if size <= WAL_LIMIT {
            return false;
        }
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *conn)
            .await
        {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint by the writer failed");
                false
            }
        }
    }
}

/// The pragma that cuts the log back to [`WAL_LIMIT`] whenever it restarts.
pub(super) fn journal_size_limit() -> String {
    WAL_LIMIT.to_string()
}
