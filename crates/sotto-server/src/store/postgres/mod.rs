//! The PostgreSQL backend, for clusters: every node shares one database, the source of truth.
//!
//! Exactly-once guarantees come from the database, not from any node: one-time prekeys are
//! taken with `FOR UPDATE SKIP LOCKED`, so concurrent takers on any node get different rows;
//! an ack is a `DELETE`, counted once however many nodes race; and the writers of one
//! recipient account are serialised by an advisory lock held until commit, so a device's
//! envelope ids become visible in increasing order. That last property is what lets a
//! connection read its mailbox with "everything after the last id I pushed" on any node.
//!
//! Mailbox writes of one node go through one writer task that commits many sends per
//! transaction (group commit), as the SQLite backend does.

mod accounts;
mod attachments;
mod batch;
mod linking;
mod mailbox;
mod multi;
mod prekeys;
mod sealed;
mod writer;

use crate::domain::DeviceId;
use crate::store::StoreError;
use sqlx::ConnectOptions;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Migrations embedded at build time from `migrations/postgres/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per node: the writer takes one per batch, reads and single-row writes share them.
const POOL_SIZE: u32 = 16;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    writer: writer::WriterHandle,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print it.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`) and applies pending migrations.
    ///
    /// Concurrent nodes may start at once: sqlx takes an advisory lock while migrating.
    /// Fails if the URL is malformed, the server unreachable or a migration fails (for
    /// instance because a newer release already migrated the database).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("invalid database URL: {e}")))?
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
        let writer = writer::WriterHandle::start(pool.clone());
        Ok(Self { pool, writer })
    }

    /// Waits for pending writes, then closes every connection.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// A device id as PostgreSQL stores it (`INTEGER`; device ids are small).
fn device_column(device: DeviceId) -> i32 {
    i32::try_from(device.get()).unwrap_or(i32::MAX)
}

/// Reads a device id column, reporting out-of-range values as corruption.
fn device_from_column(value: i32) -> Result<DeviceId, StoreError> {
    u32::try_from(value)
        .ok()
        .and_then(|d| DeviceId::new(d).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("device id out of range: {value}")))
}

/// Reads a `u32` stored as BIGINT, reporting out-of-range values as corruption.
fn to_u32(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} out of range: {value}")))
}

#[cfg(test)]
pub(crate) mod testdb;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_passes_the_conformance_suite() {
        if testdb::server_url().await.is_none() {
            return;
        }
        conformance::run(|| async {
            let db = testdb::TestDatabase::create().await;
            let store = PostgresStore::connect(&db.url).await.unwrap();
            conformance::Fixture::new(std::sync::Arc::new(store), Box::new(db))
        })
        .await;
    }

    #[tokio::test]
    async fn postgres_passes_the_attachment_conformance_suite() {
        if testdb::server_url().await.is_none() {
            return;
        }
        let db = testdb::TestDatabase::create().await;
        let store = PostgresStore::connect(&db.url).await.unwrap();
        conformance::attachments(&store).await;
        store.close().await;
    }

    #[tokio::test]
    async fn reconnecting_keeps_data_and_migrations_are_idempotent() {
        if testdb::server_url().await.is_none() {
            return;
        }
        let db = testdb::TestDatabase::create().await;
        let store = PostgresStore::connect(&db.url).await.unwrap();
        conformance::register(&store, "keeper").await;
        store.close().await;
        let again = PostgresStore::connect(&db.url).await.unwrap();
        let name = crate::domain::Username::parse("keeper").unwrap();
        use crate::store::AccountStore;
        assert!(again.account_by_username(&name).await.unwrap().is_some());
        again.close().await;
    }

    #[tokio::test]
    async fn a_malformed_url_is_a_typed_error() {
        let err = PostgresStore::connect("postgres://[nonsense")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Database(ref m) if m.contains("invalid database URL")));
    }
}
