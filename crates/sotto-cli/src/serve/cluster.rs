//! The storage and bus a node runs on: embedded SQLite alone, or PostgreSQL (optionally with
//! Redis) shared by the nodes of a cluster.

use anyhow::{Context, Result};
use sotto_server::config::Policy;
use sotto_server::delivery::DeliveryBus;
use sotto_server::delivery::redis::RedisBus;
use sotto_server::ratelimit::redis::RedisRateLimiter;
use sotto_server::ratelimit::{InMemoryRateLimiter, RateLimiter};
use sotto_server::relay::Relay;
use sotto_server::store::Store;
use sotto_server::store::postgres::PostgresStore;
use sotto_server::store::sqlite::SqliteStore;
use std::path::Path;
use std::sync::Arc;

/// The opened database.
pub(super) enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Backend {
    /// What the log says about it (never the URL: it may hold a password).
    pub(super) fn describe(&self) -> String {
        match self {
            Backend::Sqlite(store) => store.path().display().to_string(),
            Backend::Postgres(_) => "postgresql".into(),
        }
    }

    fn shared(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(store) => Arc::new(store.clone()),
            Backend::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// Waits for pending writes and closes the database.
    pub(super) async fn close(&self) {
        match self {
            Backend::Sqlite(store) => store.close().await,
            Backend::Postgres(store) => store.close().await,
        }
    }
}

/// PostgreSQL at `database` if given, else SQLite in `data_dir`; migrations applied.
pub(super) async fn open_store(database: Option<&str>, data_dir: &Path) -> Result<Backend> {
    match database {
        Some(url) => PostgresStore::connect(url)
            .await
            .map(Backend::Postgres)
            .context("cannot open the PostgreSQL database"),
        None => SqliteStore::open(data_dir)
            .await
            .map(Backend::Sqlite)
            .with_context(|| format!("cannot open the database in {}", data_dir.display())),
    }
}

/// The relay over `store`, with the Redis bus and rate limits when `redis` is given.
pub(super) fn relay(store: &Backend, redis: Option<&str>, policy: Policy) -> Result<Relay> {
    let Some(url) = redis else {
        return Ok(Relay::new(store.shared(), policy));
    };
    let bus: Arc<dyn DeliveryBus> =
        Arc::new(RedisBus::start(url).context("cannot start the Redis bus")?);
    let limiter: Arc<dyn RateLimiter> = if policy.rate_limits.enabled {
        Arc::new(
            RedisRateLimiter::new(url, policy.rate_limits.clone())
                .context("cannot start the Redis rate limiter")?,
        )
    } else {
        Arc::new(InMemoryRateLimiter::new(policy.rate_limits.clone()))
    };
    Ok(Relay::with_bus(store.shared(), policy, bus, limiter))
}
