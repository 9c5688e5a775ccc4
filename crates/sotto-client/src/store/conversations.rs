//! Per-conversation settings agreed end-to-end (the disappearing-message timer: either side
//! may change it, the change with the latest sender time wins, on every device), and the ids
//! of processed messages that left no history row.

use sqlx::SqliteConnection;

use super::Store;
use crate::error::StoreError;

impl Store {
    /// The conversation's timer in seconds (`None`: off).
    pub(crate) async fn expire_timer(
        &self,
        conn: &mut SqliteConnection,
        peer: &str,
    ) -> Result<Option<u32>, StoreError> {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT expire_timer FROM conversations WHERE peer_account = ?")
                .bind(peer)
                .fetch_optional(conn)
                .await?;
        Ok(found
            .and_then(|(s,)| u32::try_from(s).ok())
            .filter(|&s| s > 0))
    }

    /// Applies a timer change made at `set_at` (sender's clock); `false` when an equally new
    /// or newer change is already in place.
    pub(crate) async fn set_expire_timer(
        &self,
        conn: &mut SqliteConnection,
        peer: &str,
        seconds: u32,
        set_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO conversations (peer_account, expire_timer, timer_set_at) VALUES (?, ?, ?) \
             ON CONFLICT (peer_account) DO UPDATE SET expire_timer = excluded.expire_timer, \
             timer_set_at = excluded.timer_set_at WHERE excluded.timer_set_at > timer_set_at",
        )
        .bind(peer)
        .bind(i64::from(seconds))
        .bind(set_at)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// How long a processed message id is remembered: past the relay's 30-day queue lifetime.
const PROCESSED_KEPT_MS: i64 = 31 * 24 * 3600 * 1000;

impl Store {
    /// Remembers a message that left no history row.
    pub(crate) async fn mark_processed(
        &self,
        conn: &mut SqliteConnection,
        sender_account: &str,
        message_id: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR IGNORE INTO processed (sender_account, message_id, seen_at) VALUES (?, ?, ?)",
        )
        .bind(sender_account)
        .bind(message_id)
        .bind(now_ms)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Whether a message that left no history row was already processed.
    pub(crate) async fn was_processed(
        &self,
        conn: &mut SqliteConnection,
        sender_account: &str,
        message_id: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<(i64,)> = sqlx::query_as(
            "SELECT seen_at FROM processed WHERE sender_account = ? AND message_id = ?",
        )
        .bind(sender_account)
        .bind(message_id)
        .fetch_optional(conn)
        .await?;
        Ok(found.is_some())
    }

    /// Forgets processed ids older than any redelivery could be.
    pub(crate) async fn prune_processed(
        &self,
        conn: &mut SqliteConnection,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM processed WHERE seen_at < ?")
            .bind(now_ms.saturating_sub(PROCESSED_KEPT_MS))
            .execute(conn)
            .await?;
        Ok(())
    }
}
