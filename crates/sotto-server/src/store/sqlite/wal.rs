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
    limit: u64,
}

impl WalBound {
    /// The bound of [`WAL_LIMIT`] for the database file at `database`.
    pub(super) fn new(database: &Path) -> Self {
        Self::with_limit(database, WAL_LIMIT)
    }

    fn with_limit(database: &Path, limit: u64) -> Self {
        let mut log = database.as_os_str().to_owned();
        log.push("-wal");
        Self {
            log: log.into(),
            limit,
        }
    }

    /// Checkpoints on the writer's own connection if the log has outgrown the limit. Call it
    /// between transactions. A checkpoint that fails is logged and retried after the next
    /// commit: the log is then only larger for a while.
    pub(super) async fn enforce(&self, conn: &mut SqliteConnection) {
        let size = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        if size <= self.limit {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *conn)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint by the writer failed");
        }
    }
}

/// The pragma that cuts the log back to [`WAL_LIMIT`] whenever it restarts.
pub(super) fn journal_size_limit() -> String {
    WAL_LIMIT.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::ConnectOptions;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

    const LIMIT: u64 = 256 * 1024;

    /// Commits 40 transactions of ~64 KiB, each deleting what the previous one inserted, as
    /// the relay's sends and acks do, with no other checkpoint; returns the largest log size
    /// seen between commits.
    async fn largest_log(bounded: bool) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let bound = WalBound::with_limit(&path, LIMIT);
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", LIMIT.to_string())
            .connect()
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut largest = 0;
        for _ in 0..40 {
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("DELETE FROM t")
                .execute(&mut conn)
                .await
                .unwrap();
            for _ in 0..16 {
                sqlx::query("INSERT INTO t (b) VALUES (zeroblob(4000))")
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
            if bounded {
                bound.enforce(&mut conn).await;
            }
            largest = largest.max(std::fs::metadata(&bound.log).unwrap().len());
        }
        largest
    }

    #[tokio::test]
    async fn the_writer_keeps_the_log_near_the_limit() {
        let unbounded = largest_log(false).await;
        assert!(unbounded > 8 * LIMIT, "without the bound: {unbounded}");
        let bounded = largest_log(true).await;
        // One transaction's frames (~70 KiB) may pass the limit before the checkpoint.
        assert!(bounded <= LIMIT + 128 * 1024, "with the bound: {bounded}");
    }
}
